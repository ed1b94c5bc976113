/**
 * Patient-level stratified train/validation/test split. Whole patients go to one part, so no hour of a
 * test patient is ever seen in training; stratifying on the patient's outcome keeps the (rare) positive
 * patients in every part.
 */
import { seededRandom, shuffled } from '../random.js';

export interface SplitFractions {
  train: number;
  validation: number;
  test: number;
}

export interface PatientSplit {
  seed: number;
  fractions: SplitFractions;
  train: string[];
  validation: string[];
  test: string[];
}

export type SplitPart = 'train' | 'validation' | 'test';

/**
 * Splits patient ids, stratified by a binary per-patient outcome. Within each stratum the ids are sorted
 * (so input order does not matter), shuffled with the seed, then cut by the fractions. Each part's ids are
 * returned sorted.
 */
export function stratifiedSplit(
  patients: ReadonlyArray<{ id: string; positive: boolean }>,
  seed: number,
  fractions: SplitFractions = { train: 0.7, validation: 0.15, test: 0.15 },
): PatientSplit {
  const total = fractions.train + fractions.validation + fractions.test;
  if (Math.abs(total - 1) > 1e-9) throw new Error('split fractions must sum to 1');
  const random = seededRandom(seed);
  const out: PatientSplit = { seed, fractions, train: [], validation: [], test: [] };
  for (const positive of [true, false]) {
    const ids = shuffled(
      patients.filter((p) => p.positive === positive).map((p) => p.id).sort(),
      random,
    );
    const nTrain = Math.round(ids.length * fractions.train);
    const nVal = Math.round(ids.length * fractions.validation);
    out.train.push(...ids.slice(0, nTrain));
    out.validation.push(...ids.slice(nTrain, nTrain + nVal));
    out.test.push(...ids.slice(nTrain + nVal));
  }
  out.train.sort();
  out.validation.sort();
  out.test.sort();
  return out;
}
