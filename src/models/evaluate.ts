/**
 * Scores a data set in its own published format with a registered model: the path `npm run evaluate`
 * takes. Inputs the model refuses (too little data, see RegisteredModel.encode) are counted, not scored.
 */
import { readFileSync } from 'node:fs';
import { UnprocessableEntityError } from '../errors.js';
import { readPhysionet, windowRows } from './data/physionet.js';
import { parseUciHeart, type HeartRecord } from './data/uci-heart.js';
import { evaluateProbabilities, type EvaluationReport } from './report.js';
import type { RegisteredModel } from './registry.js';
import type { DeteriorationInput } from './types.js';

export interface DatasetEvaluation {
  report: EvaluationReport;
  scored: number;
  refused: number;
  /** Reasons for refusals, with counts. */
  refusals: Record<string, number>;
}

interface Row {
  encoded: Float32Array;
  label: number;
  sex: number;
  age: number;
  cluster: string;
}

function score(model: RegisteredModel<never>, rows: Row[], refusals: Record<string, number>, replicates: number, seed: number): DatasetEvaluation {
  const width = model.inputShape.reduce((a, b) => a * b, 1);
  const probabilities = new Float32Array(rows.length);
  const batch = 512;
  for (let i = 0; i < rows.length; i += batch) {
    const chunk = rows.slice(i, i + batch);
    const flat = new Float32Array(chunk.length * width);
    chunk.forEach((r, k) => flat.set(r.encoded, k * width));
    probabilities.set(model.forward(flat, chunk.length), i);
  }
  const report = evaluateProbabilities(
    rows.map((r) => r.label),
    probabilities,
    { sex: rows.map((r) => r.sex), age: rows.map((r) => r.age), clusters: rows.map((r) => r.cluster), replicates, seed },
  );
  return { report, scored: rows.length, refused: Object.values(refusals).reduce((a, b) => a + b, 0), refusals };
}

function tryEncode<I>(model: RegisteredModel<I>, input: I, refusals: Record<string, number>): Float32Array | undefined {
  try {
    return model.encode(input);
  } catch (err) {
    if (!(err instanceof UnprocessableEntityError)) throw err;
    refusals[err.message] = (refusals[err.message] ?? 0) + 1;
    return undefined;
  }
}

/** UCI processed.*.data file → per-patient metrics. */
export function evaluateUciFile(model: RegisteredModel<HeartRecord>, file: string, options: { replicates?: number; seed?: number } = {}): DatasetEvaluation {
  const refusals: Record<string, number> = {};
  const rows: Row[] = [];
  for (const e of parseUciHeart(readFileSync(file, 'utf8'))) {
    const encoded = tryEncode(model, e.record, refusals);
    if (encoded) rows.push({ encoded, label: e.label, sex: e.record.sex, age: e.record.age, cluster: e.id });
  }
  return score(model as RegisteredModel<never>, rows, refusals, options.replicates ?? 1000, options.seed ?? 1);
}

/** PhysioNet CSV (with patient_id) or folder of .psv → per-hour metrics, bootstrap over patients. */
export function evaluatePhysionet(model: RegisteredModel<DeteriorationInput>, location: string, options: { replicates?: number; seed?: number } = {}): DatasetEvaluation {
  const windowHours = model.manifest.input.windowHours ?? 48;
  const refusals: Record<string, number> = {};
  const rows: Row[] = [];
  for (const stay of readPhysionet(location).values()) {
    stay.hours.forEach((_, t) => {
      const encoded = tryEncode(model, { rows: windowRows(stay, t, windowHours), age: stay.age, sex: stay.sex }, refusals);
      if (encoded) rows.push({ encoded, label: stay.labels[t]!, sex: stay.sex, age: stay.age, cluster: stay.id });
    });
  }
  return score(model as RegisteredModel<never>, rows, refusals, options.replicates ?? 200, options.seed ?? 1);
}
