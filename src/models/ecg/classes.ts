/**
 * The four PhysioNet/CinC Challenge 2017 classes (Clifford et al. 2017, §2 "Challenge data"), in the order
 * of the network's outputs.
 */
export const ECG_CLASSES = ['N', 'A', 'O', '~'] as const;
export type EcgClass = (typeof ECG_CLASSES)[number];

export const ECG_CLASS_NAMES: Readonly<Record<EcgClass, string>> = {
  N: 'normal sinus rhythm',
  A: 'atrial fibrillation',
  O: 'other rhythm',
  '~': 'too noisy to classify',
};

/** The Challenge score averages F1 over these (the noisy class is excluded; Clifford et al. 2017, §2.3). */
export const CHALLENGE_CLASSES: readonly EcgClass[] = ['N', 'A', 'O'];

export function classIndex(label: string): number {
  const i = (ECG_CLASSES as readonly string[]).indexOf(label);
  if (i < 0) throw new RangeError(`unknown ECG class "${label}"`);
  return i;
}
