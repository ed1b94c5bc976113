/**
 * NoiseTunnel: SmoothGrad (Smilkov et al. 2017, "SmoothGrad: removing noise by adding noise") and its
 * squared / variance variants (Adebayo et al. 2018) over integrated gradients or plain gradients.
 * Noise is Gaussian from a seeded generator, so the same seed gives the same explanation; all noisy
 * samples (and, for IG, all their interpolation points) share the batched gradient calls.
 */
import { seededRandom } from '../models/random.js';
import { valuesAndGradients, widthOf } from './differentiable.js';
import { integratedGradientsBatch, type IntegratedGradientsOptions, type IntegratedGradientsResult } from './integrated-gradients.js';
import type { AttributionTarget, Differentiable } from './types.js';

export type NoiseTunnelType = 'smoothgrad' | 'smoothgrad-sq' | 'vargrad';

export interface NoiseTunnelOptions {
  /** Attribution averaged over the noisy samples. */
  method: 'integrated-gradients' | 'gradient' | 'gradient-x-input';
  /** Noisy samples. Default 8. */
  samples?: number;
  /** Standard deviation of the noise in encoded units (inputs are standardised, so ≈ SDs). Default 0.1. */
  stdev?: number;
  /** Per-cell noise scale (0 = leave the cell alone, e.g. binary mask channels); multiplies stdev. */
  scale?: Float32Array;
  seed: number;
  type?: NoiseTunnelType;
  /** Baseline for integrated gradients and gradient × input (default zero). */
  baseline?: Float32Array;
  target?: AttributionTarget;
  integratedGradients?: Omit<IntegratedGradientsOptions, 'target'>;
}

export interface NoiseTunnelResult {
  attributions: Float32Array;
  samples: number;
  /** The per-sample integrated-gradients results (method integrated-gradients only). */
  integration?: IntegratedGradientsResult[];
}

/** Standard normal draws by Box–Muller from a seeded uniform generator. */
export function gaussianNoise(seed: number, count: number): Float32Array {
  const random = seededRandom(seed);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i += 2) {
    const u = Math.max(random(), Number.MIN_VALUE);
    const v = random();
    const r = Math.sqrt(-2 * Math.log(u));
    out[i] = r * Math.cos(2 * Math.PI * v);
    if (i + 1 < count) out[i + 1] = r * Math.sin(2 * Math.PI * v);
  }
  return out;
}

export function noiseTunnel(model: Differentiable, x: Float32Array, options: NoiseTunnelOptions): NoiseTunnelResult {
  const width = widthOf(model.shape);
  const samples = options.samples ?? 8;
  const stdev = options.stdev ?? 0.1;
  const type = options.type ?? 'smoothgrad';
  const target = options.target ?? 'logit';
  const baseline = options.baseline ?? new Float32Array(width);
  const noise = gaussianNoise(options.seed, samples * width);
  const noisy = new Float32Array(samples * width);
  for (let s = 0; s < samples; s++) {
    for (let i = 0; i < width; i++) noisy[s * width + i] = x[i]! + stdev * (options.scale ? options.scale[i]! : 1) * noise[s * width + i]!;
  }

  let perSample: Float32Array[];
  let integration: IntegratedGradientsResult[] | undefined;
  if (options.method === 'integrated-gradients') {
    integration = integratedGradientsBatch(
      model,
      Array.from({ length: samples }, (_, s) => ({ x: noisy.subarray(s * width, (s + 1) * width), baseline })),
      { ...options.integratedGradients, target },
    );
    perSample = integration.map((r) => r.attributions);
  } else {
    const { gradients } = valuesAndGradients(model, noisy, samples, target);
    perSample = Array.from({ length: samples }, (_, s) => {
      const g = gradients.subarray(s * width, (s + 1) * width);
      if (options.method === 'gradient') return Float32Array.from(g);
      return Float32Array.from(g, (v, i) => v * (noisy[s * width + i]! - baseline[i]!));
    });
  }

  const attributions = new Float32Array(width);
  for (let i = 0; i < width; i++) {
    let sum = 0;
    let sumSq = 0;
    for (const a of perSample) {
      sum += a[i]!;
      sumSq += a[i]! * a[i]!;
    }
    const mean = sum / samples;
    attributions[i] = type === 'smoothgrad' ? mean : type === 'smoothgrad-sq' ? sumSq / samples : sumSq / samples - mean * mean;
  }
  return { attributions, samples, integration };
}
