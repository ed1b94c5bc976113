/**
 * Saliency over the signal for the rhythm model (issue 10), built on the src/explain explainers:
 *  - integrated gradients (Sundararajan et al. 2017) from a flat-line baseline (zero in normalised units:
 *    the window's own mean) and from a smoothed copy of the tracing (0.25 s moving average: what is left
 *    without the QRS complexes and other fast detail), with the completeness check of src/explain;
 *  - SmoothGrad (Smilkov et al. 2017) of gradient × input, flat baseline;
 *  - occlusion (Zeiler & Fergus 2014) of 0.5-second stretches replaced by the flat line.
 * The attributed score is the whole-tracing log-odds of the explained class, log p̄ − log(1 − p̄) with p̄
 * the mean of the windows' softmax probabilities: the network over all windows at once is one
 * differentiable function, so completeness holds for the tracing-level score. Attributions are mapped back
 * from window cells to samples of the tracing (overlapping cells add) and summed into segments.
 *
 * Hybrid model (spec.rhythm): the rhythm features are one more input, so integrated gradients run over the
 * joint input from a joint baseline — the flat (or smoothed) signal AND the training-mean rhythm features
 * (standardised 0). Completeness then reads Σ signal attributions + Σ rhythm attributions = f(x) − f(baseline):
 * the rhythm features' sum is the "rhythm irregularity" factor, its share of the explained difference stated
 * beside the signal segments. The feature cells repeat in every window row; their attributions are summed
 * per feature (the chain rule for a shared input). SmoothGrad and occlusion perturb the signal only and
 * hold the rhythm features at the tracing's values (they are computed from the whole tracing by R-peak
 * detection, which is not differentiable).
 */
import type * as tfTypes from '@tensorflow/tfjs';
import { integratedGradientsBatch, noiseTunnel, occlusion, type Differentiable } from '../../explain/index.js';
import { getTf } from '../backend/index.js';
import { ECG_CLASSES } from './classes.js';
import { logitNetwork } from './network.js';
import { installFastConvGradients } from './wasm-conv-grad.js';
import { RHYTHM_FEATURE_INFO, type RhythmFeature } from './rpeaks.js';
import { encodeTracing, normaliseWindow, rowWidth, type EcgEncodingSpec } from './windows.js';

const logitCache = new WeakMap<tfTypes.LayersModel, tfTypes.LayersModel>();

/**
 * The whole-tracing score of class `classIndex` over `windows` encoded window rows laid end to end. With
 * `fixedRhythm` (hybrid models), the input is the normalised samples only ([windows × windowSamples]) and
 * the given standardised rhythm cells are appended to every row inside the score, so gradients and
 * perturbations touch the signal alone.
 */
export function tracingDifferentiable(network: tfTypes.LayersModel, spec: EcgEncodingSpec, windows: number, classIndex: number, fixedRhythm?: Float32Array): Differentiable {
  const tf = getTf();
  installFastConvGradients();
  let logits = logitCache.get(network);
  if (!logits) logitCache.set(network, (logits = logitNetwork(network)));
  const net = logits;
  const W = spec.windowSamples;
  const R = rowWidth(spec);
  const K = ECG_CLASSES.length;
  const fixed = fixedRhythm && R > W ? fixedRhythm : undefined;
  return {
    shape: [windows * (fixed ? W : R), 1],
    score(x, target) {
      const batch = x.shape[0]!;
      let rows = tf.reshape(x, [batch * windows, fixed ? W : R, 1]);
      if (fixed) rows = tf.concat([rows, tf.tile(tf.tensor3d(fixed, [1, fixed.length, 1]), [batch * windows, 1, 1])], 1);
      const z = net.apply(rows, { training: false }) as tfTypes.Tensor;
      const p = tf.mean(tf.reshape(tf.softmax(z), [batch, windows, K]), 1);
      const pk = tf.reshape(tf.slice(p, [0, classIndex], [batch, 1]), [batch]);
      if (target === 'probability') return pk;
      const clamped = tf.clipByValue(pk, 1e-7, 1 - 1e-7);
      return tf.sub(tf.log(clamped), tf.log1p(tf.neg(clamped)));
    },
  };
}

/** Moving average of `width` samples (edges use the available part). */
export function smoothed(signal: ArrayLike<number>, width: number): Float32Array {
  const n = signal.length;
  const half = Math.floor(width / 2);
  const prefix = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) prefix[i + 1] = prefix[i]! + signal[i]!;
  return Float32Array.from({ length: n }, (_, i) => {
    const lo = Math.max(0, i - half);
    const hi = Math.min(n, i + half + 1);
    return (prefix[hi]! - prefix[lo]!) / (hi - lo);
  });
}

export type EcgSaliencyMethod = 'ig-flat' | 'ig-smoothed' | 'smoothgrad' | 'occlusion';

export interface SaliencyTrack {
  method: EcgSaliencyMethod;
  /** Words for the reference the attribution is relative to. */
  baseline: string;
  /** One value per sample of the model-rate tracing, in log-odds of the explained class. */
  values: Float32Array;
  /** Integrated gradients only: steps and completeness delta. */
  steps?: number;
  delta?: number;
  converged?: boolean;
  /** Score of the baseline input (log-odds), for path methods. */
  baselineScore?: number;
  /** Hybrid, integrated gradients only: attribution of each rhythm feature (RHYTHM order); Σ values + Σ rhythm = score − baselineScore. */
  rhythm?: number[];
}

/** The hybrid's rhythm features as one explanation factor (from the flat-baseline integrated gradients). */
export interface RhythmFactor {
  /** Words for the reference: the training records' mean rhythm features. */
  baseline: string;
  features: Array<{ name: string; label: string; unit: string; percent: boolean; value: number; standardised: number; attribution: number }>;
  /** Σ feature attributions, log-odds of the explained class. */
  attribution: number;
  /** attribution / (attribution + signalAttribution) — that sum is score − baselineScore within the IG delta. */
  share: number;
  /** The signal's part of the same difference (Σ per-sample saliency of the flat-baseline IG). */
  signalAttribution: number;
}

export interface SalientSegment {
  /** Seconds from the first sample, [from, to). */
  from: number;
  to: number;
  /** Sum of the consensus saliency over the segment (signed: > 0 supports the explained class). */
  score: number;
  /** The segment's rank among all segments (1 = strongest support) under each method. */
  ranks: Partial<Record<EcgSaliencyMethod, number>>;
}

export interface EcgExplanation {
  classIndex: number;
  /** Log-odds of the explained class for the whole tracing. */
  score: number;
  tracks: SaliencyTrack[];
  /** Mean of the methods' per-sample saliency, each scaled to unit total |attribution| first; signed. */
  consensus: Float32Array;
  segments: SalientSegment[];
  segmentSeconds: number;
  milliseconds: number;
  /** Hybrid models only. */
  rhythm?: RhythmFactor;
}

export interface ExplainEcgOptions {
  /** Class to explain (index into ECG_CLASSES); default: the predicted class. */
  classIndex: number;
  methods?: readonly EcgSaliencyMethod[];
  /** Integrated-gradients step schedule (Gauss–Legendre). Default [16, 32, 64]. */
  schedule?: readonly number[];
  tolerance?: number;
  smoothGradSamples?: number;
  /** Noise SD in normalised units (≈ window SDs). Default 0.15. */
  smoothGradStdev?: number;
  seed?: number;
  segmentSeconds?: number;
  occlusionSeconds?: number;
  /** Width of the smoothed baseline, seconds. Default 0.25. */
  smoothingSeconds?: number;
}

export const ALL_METHODS: readonly EcgSaliencyMethod[] = ['ig-flat', 'ig-smoothed', 'smoothgrad', 'occlusion'];

/** Adds window-cell attributions (rows of `R` cells, the first `W` of them samples) into samples of the tracing. */
function toSamples(cells: Float32Array, starts: readonly number[], W: number, length: number, R = W): Float32Array {
  const out = new Float32Array(length);
  starts.forEach((s, k) => {
    for (let j = 0; j < W; j++) out[s + j]! += cells[k * R + j]!;
  });
  return out;
}

/** Per-feature sums of the rhythm cells (cells W…R−1 of every row). */
function rhythmTotals(cells: Float32Array, windows: number, W: number, R: number): number[] {
  return Array.from({ length: R - W }, (_, j) => {
    let sum = 0;
    for (let k = 0; k < windows; k++) sum += cells[k * R + W + j]!;
    return sum;
  });
}

/** The signal cells of encoded rows (drops the rhythm cells). */
function signalCells(x: Float32Array, windows: number, W: number, R: number): Float32Array {
  if (R === W) return x;
  const out = new Float32Array(windows * W);
  for (let k = 0; k < windows; k++) out.set(x.subarray(k * R, k * R + W), k * W);
  return out;
}

/** Saliency of a model-rate tracing (mV) for one class. */
export function explainTracing(network: tfTypes.LayersModel, spec: EcgEncodingSpec, signal: Float32Array, options: ExplainEcgOptions): EcgExplanation {
  const started = performance.now();
  const methods = options.methods ?? ALL_METHODS;
  const W = spec.windowSamples;
  const R = rowWidth(spec);
  const { windows: x, starts, rhythm } = encodeTracing(signal, spec);
  const n = starts.length;
  // Path methods run over the joint input; perturbation methods over the signal with the rhythm cells held.
  const joint = tracingDifferentiable(network, spec, n, options.classIndex);
  const signalOnly = rhythm ? tracingDifferentiable(network, spec, n, options.classIndex, rhythm.cells) : joint;
  const xs = signalCells(x, n, W, R);
  const flat = new Float32Array(x.length);
  const flatSignal = new Float32Array(xs.length);
  const smoothWidth = Math.max(3, Math.round((options.smoothingSeconds ?? 0.25) * spec.rateHz));
  const smooth = new Float32Array(x.length);
  starts.forEach((_, k) => {
    // The smoothed baseline is smoothed in normalised units, window by window, so it lives in the same space;
    // its rhythm cells stay 0 (training mean), as in the flat baseline.
    const window = x.subarray(k * R, k * R + W);
    smooth.set(smoothed(window, smoothWidth), k * R);
  });
  const igOptions = { schedule: options.schedule ?? [16, 32, 64], tolerance: options.tolerance ?? 0.05, maxCells: 2 ** 24 };
  const tracks: SaliencyTrack[] = [];
  const pathInputs: Array<{ method: EcgSaliencyMethod; baseline: Float32Array; words: string }> = [];
  const rhythmWords = rhythm ? ', rhythm features at the training mean' : '';
  if (methods.includes('ig-flat')) pathInputs.push({ method: 'ig-flat', baseline: flat, words: `flat line (each window at its own mean)${rhythmWords}` });
  if (methods.includes('ig-smoothed')) pathInputs.push({ method: 'ig-smoothed', baseline: smooth, words: `the same tracing smoothed over ${(smoothWidth / spec.rateHz).toFixed(2)} s (fast detail such as QRS complexes removed)${rhythmWords}` });
  let score = NaN;
  if (pathInputs.length) {
    const results = integratedGradientsBatch(joint, pathInputs.map((p) => ({ x, baseline: p.baseline })), igOptions);
    results.forEach((r, i) => {
      score = r.score;
      tracks.push({
        method: pathInputs[i]!.method,
        baseline: pathInputs[i]!.words,
        values: toSamples(r.attributions, starts, W, signal.length, R),
        steps: r.steps,
        delta: r.delta,
        converged: r.converged,
        baselineScore: r.baselineScore,
        ...(rhythm ? { rhythm: rhythmTotals(r.attributions, n, W, R) } : {}),
      });
    });
  }
  const held = rhythm ? '; rhythm features held at the tracing\'s values' : '';
  if (methods.includes('smoothgrad')) {
    const r = noiseTunnel(signalOnly, xs, { method: 'gradient-x-input', samples: options.smoothGradSamples ?? 8, stdev: options.smoothGradStdev ?? 0.15, seed: options.seed ?? 1, baseline: flatSignal });
    tracks.push({ method: 'smoothgrad', baseline: `flat line; gradient × input averaged over noisy copies${held}`, values: toSamples(r.attributions, starts, W, signal.length) });
  }
  if (methods.includes('occlusion')) {
    const steps = Math.max(1, Math.round((options.occlusionSeconds ?? 0.5) * spec.rateHz));
    const r = occlusion(signalOnly, xs, { baseline: flatSignal, windowSteps: steps });
    if (Number.isNaN(score)) score = r.score;
    tracks.push({ method: 'occlusion', baseline: `${(steps / spec.rateHz).toFixed(2)} s stretches replaced by the flat line${held}`, values: toSamples(r.attributions, starts, W, signal.length) });
  }
  const consensus = new Float32Array(signal.length);
  for (const t of tracks) {
    let total = 0;
    for (const v of t.values) total += Math.abs(v);
    if (total > 0) for (let i = 0; i < consensus.length; i++) consensus[i]! += t.values[i]! / total / tracks.length;
  }
  const segmentSeconds = options.segmentSeconds ?? 1;
  const segments = segmentsOf(consensus, tracks, spec.rateHz, segmentSeconds);
  const factor = rhythm && spec.rhythm ? rhythmFactor(spec.rhythm.features, rhythm, tracks.find((t) => t.method === 'ig-flat') ?? tracks.find((t) => t.rhythm)) : undefined;
  return { classIndex: options.classIndex, score, tracks, consensus, segments, segmentSeconds, milliseconds: performance.now() - started, ...(factor ? { rhythm: factor } : {}) };
}

function rhythmFactor(names: readonly string[], rhythm: { raw: number[]; cells: Float32Array }, track: SaliencyTrack | undefined): RhythmFactor | undefined {
  if (!track?.rhythm || track.baselineScore === undefined) return undefined;
  const attribution = track.rhythm.reduce((a, b) => a + b, 0);
  const signalAttribution = track.values.reduce((a, b) => a + b, 0);
  const total = attribution + signalAttribution;
  return {
    baseline: 'the training records\' mean rhythm features (and the flat-line signal)',
    features: names.map((name, j) => {
      const info = RHYTHM_FEATURE_INFO[name as RhythmFeature] ?? { label: name, unit: '' };
      return { name, label: info.label, unit: info.unit, percent: info.percent ?? false, value: rhythm.raw[j]!, standardised: rhythm.cells[j]!, attribution: track.rhythm![j]! };
    }),
    attribution,
    share: Math.abs(total) > 1e-9 ? attribution / total : NaN,
    signalAttribution,
  };
}

/** Fixed-length segments with the consensus sum and each method's rank; strongest support first. */
export function segmentsOf(consensus: Float32Array, tracks: readonly SaliencyTrack[], rateHz: number, segmentSeconds: number): SalientSegment[] {
  const size = Math.max(1, Math.round(segmentSeconds * rateHz));
  const count = Math.ceil(consensus.length / size);
  const sums = (values: Float32Array) =>
    Array.from({ length: count }, (_, s) => {
      let sum = 0;
      for (let i = s * size; i < Math.min(values.length, (s + 1) * size); i++) sum += values[i]!;
      return sum;
    });
  const rankOf = (values: number[]) => {
    const order = values.map((v, i) => ({ v, i })).sort((a, b) => b.v - a.v);
    const ranks = new Array<number>(values.length);
    order.forEach((o, r) => (ranks[o.i] = r + 1));
    return ranks;
  };
  const trackRanks = tracks.map((t) => ({ method: t.method, ranks: rankOf(sums(t.values)) }));
  const consensusSums = sums(consensus);
  return consensusSums
    .map((score, s) => ({
      from: (s * size) / rateHz,
      to: Math.min(consensus.length, (s + 1) * size) / rateHz,
      score,
      ranks: Object.fromEntries(trackRanks.map((t) => [t.method, t.ranks[s]!])) as SalientSegment['ranks'],
    }))
    .sort((a, b) => b.score - a.score);
}

/** Normalised window of a tracing, for tests and the benchmark. */
export { normaliseWindow };
