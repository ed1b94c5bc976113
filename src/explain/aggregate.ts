/**
 * Attribution bookkeeping over the encoded layout: channels fold into their raw feature (a measurement's
 * value, mask and time-since channels; a category's one-hot and missing channels), then cells add up to
 * per-feature and per-time-window totals. Sums only — completeness survives every aggregation.
 */
import type { InputLayout } from './types.js';

export interface FoldedAttribution {
  steps: number;
  features: number;
  /** cells[step * features + feature]. */
  cells: Float64Array;
}

export function foldToFeatures(attributions: ArrayLike<number>, layout: InputLayout): FoldedAttribution {
  const channels = layout.channels.length;
  const steps = layout.shape.length === 2 ? layout.shape[0]! : 1;
  const features = layout.features.length;
  if (attributions.length !== steps * channels) throw new RangeError(`fold: ${attributions.length} attributions for ${steps}×${channels} cells`);
  const cells = new Float64Array(steps * features);
  for (let t = 0; t < steps; t++) {
    for (let c = 0; c < channels; c++) cells[t * features + layout.channelFeature[c]!]! += attributions[t * channels + c]!;
  }
  return { steps, features, cells };
}

/** Total per feature over all steps. */
export function featureTotals(folded: FoldedAttribution): Float64Array {
  const out = new Float64Array(folded.features);
  for (let t = 0; t < folded.steps; t++) for (let f = 0; f < folded.features; f++) out[f]! += folded.cells[t * folded.features + f]!;
  return out;
}

export interface WindowTotal {
  /** First step and one past the last. */
  from: number;
  to: number;
  /** Total over all features, and per feature. */
  total: number;
  byFeature: Float64Array;
}

/** Totals per consecutive window of windowSteps steps, aligned to the END of the series (the scored step). */
export function windowTotals(folded: FoldedAttribution, windowSteps: number): WindowTotal[] {
  const out: WindowTotal[] = [];
  for (let to = folded.steps; to > 0; to -= windowSteps) {
    const from = Math.max(0, to - windowSteps);
    const byFeature = new Float64Array(folded.features);
    for (let t = from; t < to; t++) for (let f = 0; f < folded.features; f++) byFeature[f]! += folded.cells[t * folded.features + f]!;
    out.unshift({ from, to, total: byFeature.reduce((a, b) => a + b, 0), byFeature });
  }
  return out;
}

/** The step whose cell carries the largest |attribution| for a feature within [from, to) (latest on ties). */
export function peakStep(folded: FoldedAttribution, feature: number, from = 0, to = folded.steps): number {
  let best = to - 1;
  let bestValue = -1;
  for (let t = to - 1; t >= from; t--) {
    const v = Math.abs(folded.cells[t * folded.features + feature]!);
    if (v > bestValue) {
      best = t;
      bestValue = v;
    }
  }
  return best;
}
