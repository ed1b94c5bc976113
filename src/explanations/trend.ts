/**
 * The explanation view's 48-hour score trend (issue 8), computed on demand from the explanation record.
 *
 * For the time-series model the record keeps its raw hourly input window (record.window); the score at
 * hour t is the model applied to that window truncated at the end of hour t — the data available at that
 * hour, as the PhysioNet 2019 per-hour labels define a prediction (SepsisLabel at t from data up to t;
 * src/models/deterioration/pipeline.ts windowRows). All hours go through one batched forward pass. The
 * last hour is the full window, so its score is the record's (same input → same score).
 *
 * Deliberate limits: data from before the record's window are not available here, so early hours see a
 * shorter history than the hook would have seen then; hours with fewer vital-sign hours than the service
 * needs to score (MIN_VITAL_HOURS) are skipped, as the hook would have refused them. Tabular models (heart
 * disease) have no time axis: the trend is the record's single point.
 */
import { UnprocessableEntityError } from '../errors.js';
import type { DeteriorationInput, RegisteredModel } from '../models/index.js';
import { MEASUREMENTS } from '../models/data/physionet.js';
import { MIN_VITAL_HOURS } from '../cds-hooks/services/deterioration/assess.js';
import type { ExplanationRecord, ModelInputWindow } from './record.js';

const HOUR_MS = 3_600_000;
/** Vital-sign columns come first in the PhysioNet layout, up to EtCO2. */
const VITAL_COUNT = MEASUREMENTS.indexOf('EtCO2');

export interface TrendPoint {
  /** ISO 8601 instant the data of this score end at (end of the scored hour). */
  time: string;
  probability: number;
  /**
   * "retrospective": recomputed now from the data available at that hour;
   * "explained": the record's own input (recomputed with it when the window is stored: equals the record's score).
   */
  source: 'retrospective' | 'explained';
}

export interface ScoreTrend {
  explanationId: string;
  model: { id: string; version: string };
  asOf: string;
  /** Oldest first, strictly increasing times, at most one per hour of the window; the last is the record's input. */
  points: TrendPoint[];
  /** How the retrospective points were obtained, in words (absent when there are none). */
  method?: string;
  /** Why only the explained point is given although the record has a time series (model unavailable or replaced). */
  note?: string;
}

export const RETROSPECTIVE_METHOD = 'scored from data available at that hour (the stored window truncated at the end of each hour)';

/** The model's raw input from a stored window. Pure. */
export function inputFromWindow(window: ModelInputWindow): DeteriorationInput {
  return {
    rows: window.rows.map((row) => Float32Array.from(row, (v) => (v === null ? NaN : v))),
    age: window.age ?? NaN,
    sex: window.sex ?? NaN,
  };
}

/** The stored form of a model input window (NaN → null, so it survives JSON). Pure. */
export function windowFromInput(input: DeteriorationInput, hourStarts: readonly string[]): ModelInputWindow {
  const finite = (v: number): number | null => (Number.isFinite(v) ? v : null);
  return {
    hourStarts: [...hourStarts],
    features: [...MEASUREMENTS],
    rows: input.rows.map((row) => Array.from(row, finite)),
    age: finite(input.age),
    sex: finite(input.sex),
  };
}

/** Indexes of the hours whose truncated window has enough vital-sign hours to be scored. Pure. */
export function scoreableHours(rows: readonly ArrayLike<number>[], minVitalHours = MIN_VITAL_HOURS): number[] {
  const out: number[] = [];
  let vitalHours = 0;
  rows.forEach((row, h) => {
    for (let m = 0; m < VITAL_COUNT; m++) {
      if (!Number.isNaN(row[m]!)) {
        vitalHours++;
        break;
      }
    }
    if (vitalHours >= minVitalHours) out.push(h);
  });
  return out;
}

/** The record's own score as a point; none for a record without a score (a refused ECG tracing). */
function explainedPoints(record: ExplanationRecord): TrendPoint[] {
  return record.prediction ? [{ time: record.asOf, probability: record.prediction.probability, source: 'explained' }] : [];
}

/**
 * The trend of one record. `model` is the registered model the record names, at the record's version (the
 * caller checks); absent, or a record without a stored window, gives the single explained point.
 * @throws UnprocessableEntityError when the stored window cannot be encoded.
 */
export function scoreTrendOf(record: ExplanationRecord, model?: Pick<RegisteredModel<DeteriorationInput>, 'encode' | 'forward' | 'inputShape'>): ScoreTrend {
  const base = { explanationId: record.id, model: record.model, asOf: record.asOf };
  const window = record.window;
  if (!window || !model || window.rows.length === 0 || !record.prediction) return { ...base, points: explainedPoints(record) };

  const input = inputFromWindow(window);
  const last = input.rows.length - 1;
  // The full window (the record's own input) is scored in the same batch: its result must be the record's
  // probability, which is what makes the earlier points comparable with the score the card showed.
  const hours = [...scoreableHours(input.rows).filter((h) => h < last), last];
  const width = model.inputShape.reduce((a, b) => a * b, 1);
  const batch = new Float32Array(hours.length * width);
  hours.forEach((h, i) => {
    const encoded = model.encode({ ...input, rows: input.rows.slice(0, h + 1) });
    if (encoded.length !== width) throw new UnprocessableEntityError('the stored input window does not fit the model');
    batch.set(encoded, i * width);
  });
  const probabilities = model.forward(batch, hours.length);
  const end = Date.parse(record.asOf);
  const points: TrendPoint[] = hours.map((h, i) => ({
    // Row h ends (last - h) hours before the window's end.
    time: new Date(end - (last - h) * HOUR_MS).toISOString(),
    probability: probabilities[i]!,
    source: h === last ? 'explained' : 'retrospective',
  }));
  if (points.length === 1) return { ...base, points };
  return { ...base, points, method: RETROSPECTIVE_METHOD };
}
