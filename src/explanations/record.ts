/**
 * The explanation record: what Vigil stores for every scored card and serves at GET /explanations/{id}
 * for the explanation view (issue 7). Plain JSON, self-contained: the prediction, the model version, a
 * hash of the exact model input, the top factors with the FHIR Observations behind them and, for the
 * time-series model, one attribution per hour × measurement.
 */
import { createHash } from 'node:crypto';
import type { Indicator } from '../cds-hooks/types.js';
import type { RiskBand } from '../models/index.js';

/** One contributing factor, in clinical words, linked to its evidence. */
export interface ExplanationFactor {
  /** Model input name (PhysioNet column such as "Lactate", UCI attribute such as "thalach"). */
  feature: string;
  /** Clinical label, e.g. "Lactate", "Maximum heart rate on exercise". */
  label: string;
  /** The sentence the card shows. */
  text: string;
  /** The value shown (latest in the window for measurements), as recorded in FHIR. */
  value?: string;
  /** ISO 8601 time of that value. */
  time?: string;
  /** Signed change in probability attributed to this input (0.12 = raised the risk by 12 percentage points). */
  contribution: number;
  /** "Observation/<id>" references the factor rests on (most influential first). */
  evidence: string[];
  /** The value shown was carried forward from an earlier measurement (its `time` is that measurement's). */
  imputed?: boolean;
  /** Against the reference range. */
  direction?: 'high' | 'low' | 'normal';
}

/** Per hour × measurement attributions of a time-series model, credited to the hour the value was measured. */
export interface TimeSeriesAttributions {
  /** ISO start of each hourly row, oldest first. */
  hourStarts: string[];
  /** Measurement names (columns). */
  features: string[];
  /** values[hour][feature]: contribution of the value measured in that hour, including its carried-forward effect. */
  values: number[][];
  /** measured[hour][feature]: whether a value was measured that hour (false = nothing to attribute). */
  measured: boolean[][];
  /** sources[hour][feature]: Observation ids behind the cell. */
  sources: string[][][];
  /**
   * Per feature (same order as `features`): attribution of the hours before its first measurement in the
   * window — the effect of it not having been measured yet, compared with the baseline. Not tied to any
   * Observation, so not in `values`; Σ values + Σ unmeasured (+ demographics) = probability − baseline.
   */
  unmeasured?: number[];
}

/**
 * The raw hourly grid a time-series score was computed from (the model input before encoding), so the
 * score can be recomputed for earlier hours on demand (GET /explanations/{id}/trend). Values are in the
 * model's training units; null = not measured that hour.
 */
export interface ModelInputWindow {
  /** ISO start of each hourly row, oldest first; the window ends at the record's `asOf`. */
  hourStarts: string[];
  /** Measurement names (columns of `rows`), in model input order. */
  features: string[];
  rows: Array<Array<number | null>>;
  /** Years; null = unknown. */
  age: number | null;
  /** 0 female, 1 male; null = unknown. */
  sex: number | null;
}

export interface ExplanationMethod {
  /** e.g. "integrated-gradients". */
  name: string;
  /** What "no information" was taken to be, in words. */
  baseline: string;
  steps?: number;
  /** |Σ attributions − (f(x) − f(baseline))| / |f(x) − f(baseline)|; completeness check of path methods. */
  convergenceDelta?: number;
  /** Probability the model gives the baseline input. */
  baselineProbability?: number;
  /** Baseline kind in src/explain terms ("normal", "training-mean", "zero"). */
  baselineKind?: string;
  /** Quadrature rule of integrated gradients (e.g. "adaptive-trapezoid"). */
  rule?: string;
  /** Largest convergence delta accepted; `converged` false means the step budget ran out first (reported, never hidden). */
  tolerance?: number;
  converged?: boolean;
  /** Batched gradient calls made. */
  gradientCalls?: number;
  /** When the attributions were computed (ISO 8601): earlier than `created` when served from the cache. */
  explainedAt?: string;
  /** "cache": computed ahead of time (or by an earlier call) on exactly the same data version; "inline": during this call. */
  computed?: 'inline' | 'cache';
}

/** The score a record explains, with the band cut-offs it was judged against. */
export interface RecordedPrediction {
  probability: number;
  band: RiskBand;
  indicator: Indicator;
  thresholds: { moderate: number; high: number };
  /** What the probability is of. */
  outcome: string;
  horizonHours?: number;
}

export interface ExplanationRecord {
  /** UUID; the card's explanation link carries it. */
  id: string;
  patientId: string;
  /** CDS service that produced the card, and the hook call. */
  serviceId: string;
  hookInstance?: string;
  /**
   * uuid of the card that first carried the record (feedback from the explanation view refers to it).
   * Identical later hook calls (same data: src/explanations/issued.ts) link their own cards to this record.
   */
  cardUuid: string;
  model: { id: string; version: string };
  /** When the record was made (ISO 8601). */
  created: string;
  /** The instant the data window ends at. */
  asOf: string;
  /**
   * sha256 of the model input: two records with the same hash scored the same data. For the services
   * explained through src/explain this is its data version (encoded input + Observation provenance), the
   * key the explanation cache matched on.
   */
  dataHash: string;
  /** Absent when no score was computed (an ECG tracing refused before classification: ecg.unclassified). */
  prediction?: RecordedPrediction;
  /** Absent when no explainer ran (factors are then empty). */
  method?: ExplanationMethod;
  factors: ExplanationFactor[];
  /** The model inputs as used (null = missing), with their evidence; for tabular models. */
  inputs?: Array<{ feature: string; value: number | null; evidence: string[] }>;
  attributions?: TimeSeriesAttributions;
  /** The time-series model's raw input window (absent in records made before it was stored). */
  window?: ModelInputWindow;
  /** Observations that were found but not used, with the reason. */
  notUsed: Array<{ reference?: string; reason: string }>;
}

/** JSON with sorted keys and NaN as null, so equal data always hash equally. */
function canonical(value: unknown): string {
  if (typeof value === 'number') return Number.isFinite(value) ? JSON.stringify(value) : 'null';
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) return canonical(Array.from(value as unknown as ArrayLike<number>));
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

/** "sha256:<hex>" of the canonical form of a model input. */
export function dataHash(input: unknown): string {
  return `sha256:${createHash('sha256').update(canonical(input)).digest('hex')}`;
}
