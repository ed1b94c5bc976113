/**
 * Occlusion (Zeiler & Fergus 2014, "Visualizing and Understanding Convolutional Networks", §4.2) for
 * time series: replace a window of steps (optionally only one feature's channels) with the baseline and
 * re-score. It needs forward passes only, so it cross-checks gradient methods on any model; all occluded
 * copies are scored in batched forward passes.
 */
import { scores, widthOf } from './differentiable.js';
import type { AttributionTarget, Differentiable } from './types.js';

export interface OcclusionOptions {
  baseline: Float32Array;
  /** Steps per occluded window (time series only). Default 1. */
  windowSteps?: number;
  /** Steps between window starts. Default windowSteps (non-overlapping). */
  strideSteps?: number;
  /**
   * Group of each channel (e.g. InputLayout.channelFeature): each group is occluded on its own, so a
   * feature's value, mask and time-since channels go together. Default: all channels form one group.
   */
  groups?: readonly number[];
  target?: AttributionTarget;
}

export interface Occlusion {
  /** First step and one past the last step occluded ([0, 1) for tabular inputs). */
  from: number;
  to: number;
  group: number;
  /** f(x) − f(x with this window/group set to the baseline): positive = the occluded data raised the score. */
  delta: number;
}

export interface OcclusionResult {
  occlusions: Occlusion[];
  /** Per cell: each occlusion's delta shared equally by its cells, averaged over the occlusions covering it. */
  attributions: Float32Array;
  score: number;
}

export function occlusion(model: Differentiable, x: Float32Array, options: OcclusionOptions): OcclusionResult {
  const width = widthOf(model.shape);
  const timeSeries = model.shape.length === 2;
  const steps = timeSeries ? model.shape[0]! : 1;
  const channels = timeSeries ? model.shape[1]! : model.shape[0]!;
  const windowSteps = timeSeries ? options.windowSteps ?? 1 : 1;
  const stride = timeSeries ? options.strideSteps ?? windowSteps : 1;
  const groups = options.groups ?? new Array<number>(channels).fill(0);
  if (groups.length !== channels) throw new RangeError(`occlusion: ${groups.length} groups for ${channels} channels`);
  const groupIds = [...new Set(groups)].sort((a, b) => a - b);

  const plan: Occlusion[] = [];
  for (let from = 0; from < steps; from += stride) {
    const to = Math.min(steps, from + windowSteps);
    for (const group of groupIds) plan.push({ from, to, group, delta: 0 });
    if (to === steps) break;
  }
  // Row 0 is x itself, so f(x) comes from the same forward passes.
  const flat = new Float32Array((plan.length + 1) * width);
  flat.set(x, 0);
  plan.forEach((o, k) => {
    const base = (k + 1) * width;
    flat.set(x, base);
    for (let t = o.from; t < o.to; t++) {
      for (let c = 0; c < channels; c++) {
        if (groups[c] !== o.group) continue;
        const i = t * channels + c;
        flat[base + i] = options.baseline[i]!;
      }
    }
  });
  const f = scores(model, flat, plan.length + 1, options.target ?? 'logit');
  const score = f[0]!;
  const sum = new Float64Array(width);
  const count = new Uint32Array(width);
  plan.forEach((o, k) => {
    o.delta = score - f[k + 1]!;
    const cells = (o.to - o.from) * groups.filter((g) => g === o.group).length;
    for (let t = o.from; t < o.to; t++) {
      for (let c = 0; c < channels; c++) {
        if (groups[c] !== o.group) continue;
        sum[t * channels + c]! += o.delta / cells;
        count[t * channels + c]! += 1;
      }
    }
  });
  return { occlusions: plan, attributions: Float32Array.from(sum, (s, i) => (count[i] ? s / count[i]! : 0)), score };
}
