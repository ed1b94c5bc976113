/**
 * Whole-tracing rhythm classification with a registered ECG model: quality checks → resample → windows →
 * one batched forward pass → mean of the windows' class probabilities.
 */
import type { RegisteredModel } from '../registry.js';
import { ECG_CLASSES, ECG_CLASS_NAMES, type EcgClass } from './classes.js';
import type { EcgInput } from './encoding.js';
import { argmax } from './metrics.js';
import { assessSignalQuality, type QualityResult } from './quality.js';
import { encodeTracing, toModelRate, type EcgEncodingSpec } from './windows.js';

export interface RhythmClassification {
  rhythm: EcgClass;
  rhythmName: string;
  /** Mean window probability per class, in ECG_CLASSES order. */
  probabilities: Record<EcgClass, number>;
  /** Per-window probabilities, and where each window starts (seconds from the first sample). */
  windows: Array<{ startSeconds: number; probabilities: number[] }>;
  /** The tracing at the model rate (mV), as classified. */
  signal: Float32Array;
  rateHz: number;
  modelVersion: string;
}

export type ClassifyOutcome = { ok: true; classification: RhythmClassification; quality: QualityResult } | { ok: false; quality: QualityResult };

export function ecgSpecOf(model: RegisteredModel<EcgInput>): EcgEncodingSpec {
  return model.preprocess as unknown as EcgEncodingSpec;
}

/** Classifies one tracing (mV at any rate). A tracing that fails the quality checks is not scored. */
export function classifyTracing(model: RegisteredModel<EcgInput>, input: EcgInput & { belowLimit?: number; aboveLimit?: number }): ClassifyOutcome {
  const spec = ecgSpecOf(model);
  const quality = assessSignalQuality({ values: input.samples, rateHz: input.rateHz, belowLimit: input.belowLimit ?? 0, aboveLimit: input.aboveLimit ?? 0 }, { ...defaultQualityFor(spec) });
  if (!quality.ok) return { ok: false, quality };
  const signal = toModelRate(quality.cleaned, input.rateHz, spec);
  const { windows, starts } = encodeTracing(signal, spec);
  const K = ECG_CLASSES.length;
  const out = model.forward(windows, starts.length);
  const mean = new Array<number>(K).fill(0);
  const perWindow = starts.map((s, w) => {
    const p = Array.from(out.subarray(w * K, (w + 1) * K));
    p.forEach((v, k) => (mean[k]! += v / starts.length));
    return { startSeconds: s / spec.rateHz, probabilities: p };
  });
  const rhythm = ECG_CLASSES[argmax(mean)]!;
  return {
    ok: true,
    quality,
    classification: {
      rhythm,
      rhythmName: ECG_CLASS_NAMES[rhythm],
      probabilities: Object.fromEntries(ECG_CLASSES.map((c, k) => [c, mean[k]!])) as Record<EcgClass, number>,
      windows: perWindow,
      signal,
      rateHz: spec.rateHz,
      modelVersion: model.manifest.version,
    },
  };
}

function defaultQualityFor(spec: EcgEncodingSpec) {
  return { minSeconds: spec.minSeconds, maxErrorFraction: 0.05, maxSaturatedFraction: 0.02, maxFlatFraction: 0.3, flatMv: 0.03, maxAbsMv: 15 };
}
