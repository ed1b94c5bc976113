/**
 * Attributions over the encoded heart-disease input → one factor per UCI input. Pure. Encoded columns
 * are named "<input>", "<input>=<category>" or "<input>:missing" (src/models/data/uci-heart.ts); an
 * input's attribution is the sum over its columns. The baseline is the all-missing record, so inputs
 * that are missing contribute nothing and every factor is a value someone recorded.
 */
import type { Observation } from 'fhir/r4';
import { HEART_INPUTS, type HeartInput } from '../../../models/data/uci-heart.js';
import type { ModelManifest } from '../../../models/index.js';
import type { ExplanationFactor } from '../../../explanations/record.js';
import { formatPoints } from '../../../explanations/risk-card.js';

export const MIN_FACTOR = 0.001;
export const MAX_FACTORS = 5;

export const HEART_LABELS: Readonly<Record<HeartInput, string>> = {
  age: 'Age',
  sex: 'Sex',
  cp: 'Chest pain type',
  trestbps: 'Resting systolic BP',
  chol: 'Cholesterol',
  fbs: 'Fasting glucose > 120 mg/dL',
  restecg: 'Resting ECG',
  thalach: 'Maximum heart rate on exercise',
  exang: 'Exercise-induced angina',
  oldpeak: 'ST depression on exercise',
  slope: 'Peak-exercise ST slope',
  ca: 'Vessels coloured by fluoroscopy',
  thal: 'Thallium scan',
};

export function inputOfColumn(column: string): string {
  return column.split(/[=:]/)[0]!;
}

/** Attribution per input: the sum over that input's encoded columns. */
export function attributionByInput(featureNames: readonly string[], values: Float32Array): Record<HeartInput, number> {
  const out = Object.fromEntries(HEART_INPUTS.map((n) => [n, 0])) as Record<HeartInput, number>;
  featureNames.forEach((column, i) => {
    const name = inputOfColumn(column) as HeartInput;
    if (name in out) out[name] += values[i]!;
  });
  return out;
}

/** The value as recorded: the quantity with its unit, the coded answer's words, yes/no, a count. */
export function recordedValue(o: Observation | undefined): string | undefined {
  if (!o) return undefined;
  if (typeof o.valueQuantity?.value === 'number') return `${o.valueQuantity.value} ${o.valueQuantity.unit ?? o.valueQuantity.code ?? ''}`.trim();
  if (o.valueCodeableConcept) return o.valueCodeableConcept.text ?? o.valueCodeableConcept.coding?.find((c) => c.display)?.display;
  if (typeof o.valueBoolean === 'boolean') return o.valueBoolean ? 'yes' : 'no';
  if (typeof o.valueInteger === 'number') return String(o.valueInteger);
  return undefined;
}

function demographic(name: 'age' | 'sex', value: number): string {
  if (name === 'age') return `${value} years`;
  return value === 1 ? 'male' : 'female';
}

export function heartFactors(
  byInput: Record<HeartInput, number>,
  input: Record<HeartInput, number>,
  evidence: Record<HeartInput, string[]>,
  observationsById: ReadonlyMap<string, Observation>,
  manifest: ModelManifest,
): ExplanationFactor[] {
  const factors: ExplanationFactor[] = [];
  for (const name of HEART_INPUTS) {
    const contribution = byInput[name];
    if (Number.isNaN(input[name]) || Math.abs(contribution) < MIN_FACTOR) continue;
    const ref = evidence[name][0];
    const o = ref?.startsWith('Observation/') ? observationsById.get(ref.slice('Observation/'.length)) : undefined;
    const value = name === 'age' || name === 'sex' ? demographic(name, input[name]) : recordedValue(o) ?? String(input[name]);
    const time = o?.effectiveDateTime ?? o?.effectivePeriod?.start;
    const label = HEART_LABELS[name] ?? manifest.input.fields.find((f) => f.name === name)?.display ?? name;
    factors.push({
      feature: name,
      label,
      text: `${label} ${value}${time ? ` (${time.slice(0, 10)})` : ''} ${contribution > 0 ? 'raised' : 'lowered'} the probability by ${formatPoints(contribution).replace(/^[+−]/, '')}`,
      value,
      ...(time ? { time } : {}),
      contribution: Math.round(contribution * 1e6) / 1e6,
      evidence: evidence[name],
    });
  }
  return factors.sort((a, b) => Math.abs(b.contribution) - Math.abs(a.contribution) || (a.feature < b.feature ? -1 : 1)).slice(0, MAX_FACTORS);
}
