/**
 * UCI Heart Disease (processed.*.data) reader and the heart-disease model's input encoding.
 * Format: 14 comma-separated columns, no header, `?` = missing (heart-disease.names, "Attribute
 * Information"). Target = num > 0 (any major vessel with > 50 % narrowing).
 *
 * The encoding is pure and driven by a JSON spec stored next to the weights (preprocess.json), so the
 * trainer, the evaluator and the CDS service encode identically.
 */
import { UnprocessableEntityError } from '../../errors.js';

/** The 13 inputs in file order. */
export const HEART_INPUTS = [
  'age',
  'sex',
  'cp',
  'trestbps',
  'chol',
  'fbs',
  'restecg',
  'thalach',
  'exang',
  'oldpeak',
  'slope',
  'ca',
  'thal',
] as const;
export type HeartInput = (typeof HEART_INPUTS)[number];

/** One patient's raw inputs; NaN = missing. */
export type HeartRecord = Record<HeartInput, number>;

export interface HeartExample {
  record: HeartRecord;
  /** 0 or 1 (num > 0). */
  label: number;
  /** Raw severity 0–4 from the file. */
  num: number;
  /** Line number in the source file, used as the patient id (the file has none). */
  id: string;
}

/**
 * Inputs other hospitals often lack (Hungary, Switzerland and Long Beach files leave slope, ca, thal and
 * often chol/fbs empty). They get a missingness indicator, and training randomly hides them.
 */
export const OFTEN_MISSING: readonly HeartInput[] = ['chol', 'fbs', 'slope', 'ca', 'thal'];

const CATEGORIES: Partial<Record<HeartInput, readonly number[]>> = {
  cp: [1, 2, 3, 4],
  restecg: [0, 1, 2],
  slope: [1, 2, 3],
  thal: [3, 6, 7],
};

const CONTINUOUS: readonly HeartInput[] = ['age', 'trestbps', 'chol', 'thalach', 'oldpeak', 'ca'];
const BINARY: readonly HeartInput[] = ['sex', 'fbs', 'exang'];

/**
 * Values that are physiologically impossible and are used as "not measured" in the other UCI sites
 * (e.g. cholesterol 0 throughout the Swiss file).
 */
function cleaned(name: HeartInput, value: number): number {
  if ((name === 'chol' || name === 'trestbps') && value <= 0) return NaN;
  const cats = CATEGORIES[name];
  if (cats && !cats.includes(value)) return NaN;
  return value;
}

/** Parses a UCI processed.*.data file. Throws UnprocessableEntityError naming the first bad line. */
export function parseUciHeart(text: string): HeartExample[] {
  const out: HeartExample[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((line, index) => {
    if (!line.trim()) return;
    const cells = line.split(',').map((c) => c.trim());
    if (cells.length !== 14) {
      throw new UnprocessableEntityError(`line ${index + 1}: expected 14 columns, found ${cells.length}`);
    }
    const values = cells.map((c) => (c === '?' || c === '' ? NaN : Number(c)));
    const bad = values.findIndex((v, i) => Number.isNaN(v) && cells[i] !== '?' && cells[i] !== '');
    if (bad >= 0) throw new UnprocessableEntityError(`line ${index + 1}: column ${bad + 1} is not a number`);
    const num = values[13]!;
    if (Number.isNaN(num)) throw new UnprocessableEntityError(`line ${index + 1}: target (num) is missing`);
    const record = Object.fromEntries(HEART_INPUTS.map((name, i) => [name, cleaned(name, values[i]!)])) as HeartRecord;
    out.push({ record, label: num > 0 ? 1 : 0, num, id: `line-${index + 1}` });
  });
  return out;
}

/** Standardisation statistics and layout, fitted on the training split only. */
export interface HeartEncodingSpec {
  kind: 'uci-heart-v1';
  /** Mean and standard deviation of each continuous and binary input over observed training values. */
  mean: Partial<Record<HeartInput, number>>;
  sd: Partial<Record<HeartInput, number>>;
  featureNames: string[];
}

/** Names of the encoded columns, in order. */
function featureNamesOf(): string[] {
  const names: string[] = [];
  for (const name of HEART_INPUTS) {
    const cats = CATEGORIES[name];
    if (cats) names.push(...cats.map((c) => `${name}=${c}`));
    else names.push(name);
    if (OFTEN_MISSING.includes(name)) names.push(`${name}:missing`);
  }
  return names;
}

export function fitHeartEncoding(records: readonly HeartRecord[]): HeartEncodingSpec {
  const mean: Partial<Record<HeartInput, number>> = {};
  const sd: Partial<Record<HeartInput, number>> = {};
  for (const name of [...CONTINUOUS, ...BINARY]) {
    const xs = records.map((r) => r[name]).filter((v) => !Number.isNaN(v));
    const m = xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
    const v = xs.reduce((a, b) => a + (b - m) ** 2, 0) / Math.max(1, xs.length - 1);
    mean[name] = m;
    sd[name] = Math.sqrt(v) || 1;
  }
  return { kind: 'uci-heart-v1', mean, sd, featureNames: featureNamesOf() };
}

/**
 * Encodes one record: continuous and binary inputs standardised (missing → 0, i.e. the training mean),
 * categories one-hot (missing → all zero), plus a 0/1 indicator for each OFTEN_MISSING input.
 */
export function encodeHeart(record: HeartRecord, spec: HeartEncodingSpec): Float32Array {
  const out = new Float32Array(spec.featureNames.length);
  let k = 0;
  for (const name of HEART_INPUTS) {
    const value = record[name];
    const missing = Number.isNaN(value);
    const cats = CATEGORIES[name];
    if (cats) {
      for (const c of cats) out[k++] = !missing && value === c ? 1 : 0;
    } else {
      out[k++] = missing ? 0 : (value - spec.mean[name]!) / spec.sd[name]!;
    }
    if (OFTEN_MISSING.includes(name)) out[k++] = missing ? 1 : 0;
  }
  return out;
}

/** Returns a copy with each OFTEN_MISSING input hidden with probability p (training-time input dropout). */
export function hideOftenMissing(record: HeartRecord, p: number, random: () => number): HeartRecord {
  const copy = { ...record };
  for (const name of OFTEN_MISSING) if (random() < p) copy[name] = NaN;
  return copy;
}
