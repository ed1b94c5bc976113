/**
 * The explanation record of an ECG rhythm card: the shared ExplanationRecord (src/explanations/record.ts)
 * plus an `ecg` section the explanation view draws — the tracing as classified, the saliency per sample of
 * every method and their consensus (the band under the tracing), and the segments with their times.
 * Pure.
 */
import { dataHash, type ExplanationRecord } from '../../../explanations/record.js';
import { ECG_CLASSES, ECG_CLASS_NAMES, type EcgClass } from '../../../models/ecg/classes.js';
import type { EcgExplanation } from '../../../models/ecg/explain.js';
import type { ModelManifest } from '../../../models/index.js';

export interface EcgRecordSection {
  /** Sampling rate of `signal` and every saliency array, Hz. */
  rateHz: number;
  /** ISO time of the first sample, when the Observation says. */
  start?: string;
  durationSeconds: number;
  observation?: string;
  lead: string;
  rhythm: EcgClass;
  classes: Array<{ code: EcgClass; name: string; probability: number }>;
  windows: Array<{ startSeconds: number; probabilities: number[] }>;
  /** The tracing at the model rate, mV (3 decimals). */
  signal: number[];
  /** What the saliency explains. */
  explainedClass?: EcgClass;
  /** Per-sample saliency, log-odds of the explained class; > 0 supports it. */
  saliency?: Array<{ method: string; baseline: string; values: number[]; steps?: number; convergenceDelta?: number; converged?: boolean }>;
  /** Mean of the methods after scaling each to unit total |saliency|; the band under the tracing. */
  consensus?: number[];
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

const round = (values: ArrayLike<number>, digits: number) => Array.from(values, (v) => Number(v.toFixed(digits)));

export function buildEcgRecord(input: {
  id: string;
  cardUuid: string;
  patientId: string;
  serviceId: string;
  hookInstance?: string;
  manifest: Pick<ModelManifest, 'id' | 'version' | 'output'>;
  now: Date;
  rhythm: EcgClass;
  probabilities: Record<EcgClass, number>;
  windows: EcgRecordSection['windows'];
  signal: Float32Array;
  rateHz: number;
  start?: string;
  observation?: string;
  lead: string;
  explanation?: EcgExplanation;
}): EcgExplanationRecord {
  const e = input.explanation;
  const t0 = input.start ? Date.parse(input.start) : NaN;
  const at = (s: number) => (Number.isNaN(t0) ? undefined : new Date(t0 + s * 1000).toISOString());
  const ig = e?.tracks.find((t) => t.method === 'ig-flat');
  const af = input.probabilities.A;
  const ecg: EcgRecordSection = {
    rateHz: input.rateHz,
    ...(input.start ? { start: input.start } : {}),
    durationSeconds: input.signal.length / input.rateHz,
    ...(input.observation ? { observation: input.observation } : {}),
    lead: input.lead,
    rhythm: input.rhythm,
    classes: ECG_CLASSES.map((c) => ({ code: c, name: ECG_CLASS_NAMES[c], probability: input.probabilities[c] })),
    windows: input.windows,
    signal: round(input.signal, 3),
  };
  if (e) {
    ecg.explainedClass = ECG_CLASSES[e.classIndex];
    ecg.saliency = e.tracks.map((t) => ({
      method: t.method,
      baseline: t.baseline,
      values: round(t.values, 6),
      ...(t.steps !== undefined ? { steps: t.steps } : {}),
      ...(t.delta !== undefined ? { convergenceDelta: t.delta } : {}),
      ...(t.converged !== undefined ? { converged: t.converged } : {}),
    }));
    ecg.consensus = round(e.consensus, 6);
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
    id: input.id,
    patientId: input.patientId,
    serviceId: input.serviceId,
    ...(input.hookInstance ? { hookInstance: input.hookInstance } : {}),
    cardUuid: input.cardUuid,
    model: { id: input.manifest.id, version: input.manifest.version },
    created: new Date().toISOString(),
    asOf: input.start ?? input.now.toISOString(),
    dataHash: dataHash({ signal: ecg.signal, rateHz: input.rateHz }),
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
    factors: [],
    notUsed: [],
    ecg,
  };
}
