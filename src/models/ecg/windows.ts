/**
 * From a tracing to what the network sees: resample to the model rate, cut fixed-length windows, normalise
 * each window on its own (mean 0, SD 1: amplitude and baseline offset differ between devices and leads),
 * and, for training only, augment. A whole tracing is classified by averaging its windows' probabilities.
 */
import { resample } from '../../fhir/sampled-data.js';
import { seededRandom } from '../random.js';
import { rhythmFeatures } from './rpeaks.js';

/**
 * The hybrid model's second input (issue 10): rhythm-irregularity features of the whole tracing
 * (src/models/ecg/rpeaks.ts), standardised with the training records' statistics and appended to every
 * window row, so one window row is `windowSamples` normalised samples followed by one cell per feature.
 */
export interface RhythmSpec {
  /** RHYTHM_FEATURES names, in cell order. */
  features: string[];
  /** Training-record means and SDs (features computed at the model rate). */
  means: number[];
  sds: number[];
  /** Standardised values are clipped to ±clip, so one odd detection cannot dominate the logits. */
  clip: number;
}

/** The encoding spec written to models/ecg-rhythm/preprocess.json. */
export interface EcgEncodingSpec {
  kind: 'ecg-windows-v1';
  /** Model sampling rate, Hz. */
  rateHz: number;
  /** Samples per window. */
  windowSamples: number;
  /** Step between window starts at inference, samples; the last window is aligned to the end. */
  strideSamples: number;
  /** Shortest tracing classified, seconds. */
  minSeconds: number;
  /** Floor on a window's SD (mV) in normalisation, so a near-flat window is not blown up to unit variance. */
  minStdMv: number;
  featureNames: string[];
  /** Present for the hybrid network (signal + rhythm features); absent for the signal-only CNN. */
  rhythm?: RhythmSpec;
}

/** Cells per window row: the samples, then the rhythm features if the model takes them. */
export function rowWidth(spec: Pick<EcgEncodingSpec, 'windowSamples' | 'rhythm'>): number {
  return spec.windowSamples + (spec.rhythm?.features.length ?? 0);
}

/** Raw rhythm features of a model-rate tracing and their standardised, clipped cells. */
export function encodeRhythm(signal: ArrayLike<number>, rateHz: number, rhythm: RhythmSpec): { raw: number[]; cells: Float32Array } {
  const raw = rhythmFeatures(signal, rateHz);
  const cells = Float32Array.from(raw, (v, j) => Math.max(-rhythm.clip, Math.min(rhythm.clip, (v - rhythm.means[j]!) / rhythm.sds[j]!)));
  return { raw, cells };
}

export function defaultEcgSpec(rateHz = 150, windowSeconds = 10): EcgEncodingSpec {
  const windowSamples = Math.round(rateHz * windowSeconds);
  return { kind: 'ecg-windows-v1', rateHz, windowSamples, strideSamples: windowSamples, minSeconds: windowSeconds, minStdMv: 0.05, featureNames: ['ecg'] };
}

/** Window starts covering the tracing: every stride, plus one ending at the last sample. */
export function windowStarts(length: number, windowSamples: number, strideSamples: number): number[] {
  if (length < windowSamples) return [];
  const starts: number[] = [];
  for (let s = 0; s + windowSamples <= length; s += strideSamples) starts.push(s);
  const last = length - windowSamples;
  if (starts[starts.length - 1] !== last) starts.push(last);
  return starts;
}

/** (x − mean) / max(SD, floor), written into `out` at `offset`. */
export function normaliseWindow(signal: ArrayLike<number>, start: number, length: number, minStd: number, out: Float32Array, offset: number): void {
  let mean = 0;
  for (let i = 0; i < length; i++) mean += signal[start + i]!;
  mean /= length;
  let variance = 0;
  for (let i = 0; i < length; i++) variance += (signal[start + i]! - mean) ** 2;
  const sd = Math.max(Math.sqrt(variance / length), minStd);
  for (let i = 0; i < length; i++) out[offset + i] = (signal[start + i]! - mean) / sd;
}

/** A tracing at the model rate (mV), from any rate. */
export function toModelRate(samples: ArrayLike<number>, fromHz: number, spec: Pick<EcgEncodingSpec, 'rateHz'>): Float32Array {
  return resample(samples, fromHz, spec.rateHz);
}

export interface EncodedTracing {
  /** Window rows laid end to end: windows × rowWidth(spec) (normalised samples, then any rhythm cells). */
  windows: Float32Array;
  /** First sample of each window in the model-rate tracing. */
  starts: number[];
  /** Hybrid models: the tracing's rhythm features (raw) and the cells every row carries. */
  rhythm?: { raw: number[]; cells: Float32Array };
}

/** Every inference window of a model-rate tracing. */
export function encodeTracing(signal: Float32Array, spec: EcgEncodingSpec): EncodedTracing {
  const starts = windowStarts(signal.length, spec.windowSamples, spec.strideSamples);
  const R = rowWidth(spec);
  const windows = new Float32Array(starts.length * R);
  starts.forEach((s, k) => normaliseWindow(signal, s, spec.windowSamples, spec.minStdMv, windows, k * R));
  if (!spec.rhythm) return { windows, starts };
  const rhythm = encodeRhythm(signal, spec.rateHz, spec.rhythm);
  starts.forEach((_, k) => windows.set(rhythm.cells, k * R + spec.windowSamples));
  return { windows, starts, rhythm };
}

export interface AugmentOptions {
  /** Amplitude scale drawn uniformly from [1 − a, 1 + a]. */
  amplitude: number;
  /** Peak baseline wander, mV (a sinusoid of 0.05–0.5 Hz with random phase). */
  wanderMv: number;
  /** Gaussian noise SD, mV. */
  noiseMv: number;
}

export const DEFAULT_AUGMENT: AugmentOptions = { amplitude: 0.2, wanderMv: 0.15, noiseMv: 0.02 };

/**
 * One random training window: a random crop (tracings shorter than a window are zero-padded after
 * centring, which only happens for the few 9–10 s records), random amplitude scaling, baseline wander and
 * Gaussian noise in mV, then normalisation. Deterministic for a given `random`.
 */
export function augmentedWindow(signal: Float32Array, spec: EcgEncodingSpec, random: () => number, options: AugmentOptions, out: Float32Array, offset: number): void {
  const W = spec.windowSamples;
  const crop = new Float32Array(W);
  if (signal.length >= W) {
    const start = Math.floor(random() * (signal.length - W + 1));
    crop.set(signal.subarray(start, start + W));
  } else {
    crop.set(signal, Math.floor((W - signal.length) / 2));
  }
  const scale = 1 + options.amplitude * (2 * random() - 1);
  const freq = 0.05 + 0.45 * random();
  const phase = 2 * Math.PI * random();
  const wander = options.wanderMv * random();
  for (let i = 0; i < W; i += 2) {
    // Box–Muller pair of standard normals for the noise.
    const u = Math.max(random(), 1e-12);
    const v = random();
    const r = Math.sqrt(-2 * Math.log(u));
    for (let k = 0; k < 2 && i + k < W; k++) {
      const z = k === 0 ? r * Math.cos(2 * Math.PI * v) : r * Math.sin(2 * Math.PI * v);
      const t = (i + k) / spec.rateHz;
      crop[i + k] = crop[i + k]! * scale + wander * Math.sin(2 * Math.PI * freq * t + phase) + options.noiseMv * z;
    }
  }
  normaliseWindow(crop, 0, W, spec.minStdMv, out, offset);
}

/** Seeded generator re-exported for callers that draw augmentation streams. */
export { seededRandom };
