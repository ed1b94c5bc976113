/**
 * The explanation record of an ECG rhythm card: the shared ExplanationRecord (src/explanations/record.ts)
 * plus an `ecg` section the explanation view draws — the tracing as classified, the consensus saliency per
 * sample (the band under the tracing), each method's saliency per 40 ms bucket, and the segments with their
 * times. Pure.
 *
 * Format 2 (`ecg.format: 2`) keeps the long series as fixed-point integers (src/explanations/fixed-point.ts):
 * the tracing on its 0.001 mV step (the resolution it always had), the consensus at ≈ 3 significant digits of
 * its peak, and each method's saliency summed per SALIENCY_BUCKET_SECONDS (one small square of ECG paper;
 * sums, so Σ buckets is still Σ samples). Completeness and the segments are computed before any of this, on
 * the full-resolution saliency, and recorded (`score`, per method `total` and `baselineScore`). A 30 s
 * tracing's record went from ≈ 246 KB of JSON to ≈ 52 KB (docs/performance.md §ECG explanation record).
 * Records without `format` are format 1 (every series a plain per-sample array); the view reads both.
 */
import { onStep, relativeToPeak, type FixedPointSeries } from '../../../explanations/fixed-point.js';
import { dataHash, type ExplanationRecord } from '../../../explanations/record.js';
import { ECG_CLASSES, ECG_CLASS_NAMES, type EcgClass } from '../../../models/ecg/classes.js';
import type { EcgExplanation } from '../../../models/ecg/explain.js';
import type { ModelManifest } from '../../../models/index.js';

/** The record format this file writes. */
export const ECG_RECORD_FORMAT = 2;

/** Bucket of the per-method saliency: 40 ms, one small square of ECG paper (6 samples at the model's 150 Hz). */
export const SALIENCY_BUCKET_SECONDS = 0.04;

/** Step of the stored tracing, mV: the 3 decimals it was always kept to. */
export const SIGNAL_STEP_MV = 0.001;

export interface EcgRecordSection {
  /** 2: this layout. (Format 1, no field: `signal`, `consensus` and every `saliency[].values` plain per-sample arrays.) */
  format: typeof ECG_RECORD_FORMAT;
  /** Sampling rate of `signal` and `consensus`, Hz. */
  rateHz: number;
  /** ISO time of the first sample, when the Observation says. */
  start?: string;
  durationSeconds: number;
  observation?: string;
  lead: string;
  rhythm: EcgClass;
  classes: Array<{ code: EcgClass; name: string; probability: number }>;
  windows: Array<{ startSeconds: number; probabilities: number[] }>;
  /** The tracing at the model rate, full resolution: mV = q × 0.001. */
  signal: FixedPointSeries;
  /** What the saliency explains. */
  explainedClass?: EcgClass;
  /** Log-odds of the explained class for the whole tracing (what every method attributes). */
  score?: number;
  /** Width of a `saliency[].sums` bucket, seconds (SALIENCY_BUCKET_SECONDS rounded to whole samples). */
  saliencyBucketSeconds?: number;
  /**
   * Each method's saliency (log-odds of the explained class; > 0 supports it), summed per bucket. `total` is
   * Σ over every sample before bucketing and rounding; for integrated gradients Σ total (+ rhythmFactor's
   * attribution) = score − baselineScore within `convergenceDelta`.
   */
  saliency?: Array<{ method: string; baseline: string; sums: FixedPointSeries; total: number; baselineScore?: number; steps?: number; convergenceDelta?: number; converged?: boolean }>;
  /** Per sample, mean of the methods after scaling each to unit total |saliency|: the band under the tracing. */
  consensus?: FixedPointSeries;
  /** Every segment, strongest support first, with each method's rank. */
  segments?: Array<{ from: number; to: number; fromTime?: string; toTime?: string; score: number; ranks: Record<string, number> }>;
  segmentSeconds?: number;
  explainMilliseconds?: number;
  /**
   * Hybrid model (2.0.0+): the rhythm-irregularity features the network took beside the signal, with their
   * integrated-gradients attributions (same log-odds units and flat-line run as saliency[ig-flat]; their sum
   * plus that track's sum is f(tracing) − f(baseline)). `share` is the rhythm features' part of that total.
   */
  rhythmFactor?: {
    baseline: string;
    attribution: number;
    share: number;
    signalAttribution: number;
    features: Array<{ name: string; label: string; unit: string; value: number; attribution: number }>;
  };
}

export interface EcgExplanationRecord extends ExplanationRecord {
  ecg: EcgRecordSection;
}

/** The part of the `ecg` section every ECG record has: the tracing and where it comes from. */
export type EcgTracingPart = Pick<EcgRecordSection, 'format' | 'rateHz' | 'start' | 'durationSeconds' | 'observation' | 'lead' | 'signal'>;

/**
 * A tracing refused before the network saw it (src/models/ecg/quality.ts: too short, flat, saturated, error
 * samples, implausible amplitude): the tracing as filed, at its own rate (error samples null), and the reasons.
 * No rhythm, probabilities or saliency exist for it.
 */
export interface UnclassifiedEcgSection extends EcgTracingPart {
  unclassified: { reasons: string[] };
}

export interface UnclassifiedEcgRecord extends ExplanationRecord {
  ecg: UnclassifiedEcgSection;
}

/** Sums of `values` over consecutive runs of `size` samples (the last run may be shorter). */
export function bucketSums(values: ArrayLike<number>, size: number): Float64Array {
  const out = new Float64Array(Math.ceil(values.length / size));
  for (let i = 0; i < values.length; i++) out[Math.floor(i / size)]! += values[i]!;
  return out;
}

function total(values: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i]!;
  return sum;
}

/** What every ECG record says about where it comes from: the card, the patient, the model and the tracing. */
export interface EcgRecordBase {
  id: string;
  cardUuid: string;
  patientId: string;
  serviceId: string;
  hookInstance?: string;
  manifest: Pick<ModelManifest, 'id' | 'version'>;
  now: Date;
  /** mV at `rateHz` (NaN for samples marked as errors). */
  signal: Float32Array;
  rateHz: number;
  start?: string;
  observation?: string;
  lead: string;
}

/**
 * The shared record's fields and the tracing part of the `ecg` section, for both kinds of ECG record. The
 * data hash is over the tracing as plain mV (3 decimals, null for error samples), the input format 1 hashed.
 */
function recordParts(input: EcgRecordBase): { record: Omit<ExplanationRecord, 'prediction'>; section: EcgTracingPart } {
  const signal = Array.from(input.signal, (v) => (Number.isFinite(v) ? Number(v.toFixed(3)) : null));
  return {
    record: {
      id: input.id,
      patientId: input.patientId,
      serviceId: input.serviceId,
      ...(input.hookInstance ? { hookInstance: input.hookInstance } : {}),
      cardUuid: input.cardUuid,
      model: { id: input.manifest.id, version: input.manifest.version },
      created: new Date().toISOString(),
      asOf: input.start ?? input.now.toISOString(),
      dataHash: dataHash({ signal, rateHz: input.rateHz }),
      factors: [],
      notUsed: [],
    },
    section: {
      format: ECG_RECORD_FORMAT,
      rateHz: input.rateHz,
      ...(input.start ? { start: input.start } : {}),
      durationSeconds: input.signal.length / input.rateHz,
      ...(input.observation ? { observation: input.observation } : {}),
      lead: input.lead,
      signal: onStep(input.signal, SIGNAL_STEP_MV),
    },
  };
}

export function buildEcgRecord(
  input: EcgRecordBase & {
    rhythm: EcgClass;
    probabilities: Record<EcgClass, number>;
    windows: EcgRecordSection['windows'];
    explanation?: EcgExplanation;
  },
): EcgExplanationRecord {
  const e = input.explanation;
  const t0 = input.start ? Date.parse(input.start) : NaN;
  const at = (s: number) => (Number.isNaN(t0) ? undefined : new Date(t0 + s * 1000).toISOString());
  const ig = e?.tracks.find((t) => t.method === 'ig-flat');
  const af = input.probabilities.A;
  const { record, section } = recordParts(input);
  const ecg: EcgRecordSection = {
    ...section,
    rhythm: input.rhythm,
    classes: ECG_CLASSES.map((c) => ({ code: c, name: ECG_CLASS_NAMES[c], probability: input.probabilities[c] })),
    windows: input.windows,
  };
  if (e) {
    const bucket = Math.max(1, Math.round(SALIENCY_BUCKET_SECONDS * input.rateHz));
    ecg.explainedClass = ECG_CLASSES[e.classIndex];
    if (Number.isFinite(e.score)) ecg.score = e.score;
    ecg.saliencyBucketSeconds = bucket / input.rateHz;
    ecg.saliency = e.tracks.map((t) => ({
      method: t.method,
      baseline: t.baseline,
      sums: relativeToPeak(bucketSums(t.values, bucket)),
      total: total(t.values),
      ...(t.baselineScore !== undefined ? { baselineScore: t.baselineScore } : {}),
      ...(t.steps !== undefined ? { steps: t.steps } : {}),
      ...(t.delta !== undefined ? { convergenceDelta: t.delta } : {}),
      ...(t.converged !== undefined ? { converged: t.converged } : {}),
    }));
    ecg.consensus = relativeToPeak(e.consensus);
    ecg.segments = e.segments.map((s) => {
      const fromTime = at(s.from);
      const toTime = at(s.to);
      return { from: s.from, to: s.to, ...(fromTime ? { fromTime } : {}), ...(toTime ? { toTime } : {}), score: s.score, ranks: s.ranks as Record<string, number> };
    });
    ecg.segmentSeconds = e.segmentSeconds;
    ecg.explainMilliseconds = Math.round(e.milliseconds);
    if (e.rhythm) {
      ecg.rhythmFactor = {
        baseline: e.rhythm.baseline,
        attribution: e.rhythm.attribution,
        share: e.rhythm.share,
        signalAttribution: e.rhythm.signalAttribution,
        features: e.rhythm.features.map((f) => ({ name: f.name, label: f.label, unit: f.unit, value: f.value, attribution: f.attribution })),
      };
    }
  }
  return {
    ...record,
    prediction: {
      // The shared record is shaped for risk scores: it carries p(AF), and the band says whether AF was the call.
      probability: af,
      band: input.rhythm === 'A' ? 'moderate' : 'low',
      indicator: input.rhythm === 'A' ? 'warning' : 'info',
      thresholds: { moderate: 0.5, high: 0.5 },
      outcome: 'atrial fibrillation in this tracing (PhysioNet/CinC 2017 class A); all four class probabilities are in ecg.classes',
    },
    ...(e && ig
      ? {
          method: {
            name: 'integrated-gradients',
            baseline: ig.baseline,
            ...(ig.steps !== undefined ? { steps: ig.steps } : {}),
            ...(ig.delta !== undefined ? { convergenceDelta: ig.delta } : {}),
          },
        }
      : {}),
    ecg,
  };
}

/**
 * The record of a "cannot classify" card, so the view can show the tracing and why it was refused. It has no
 * `prediction`: no rhythm and no probability were computed, and none is implied (not even a low one).
 */
export function buildUnclassifiedEcgRecord(input: EcgRecordBase & { reasons: readonly string[] }): UnclassifiedEcgRecord {
  const { record, section } = recordParts(input);
  return { ...record, ecg: { ...section, unclassified: { reasons: [...input.reasons] } } };
}
