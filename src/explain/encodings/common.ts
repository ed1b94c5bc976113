/** What an encoding adapter gets and gives: the per-encoding half of {@link Explainable.prepare}. */
import type { RegisteredModel } from '../../models/registry.js';
import { TRAINING_MEANS } from '../baselines/training-means.js';
import type { BaselineKind, CellValue, InputLayout, Provenance } from '../types.js';

export interface PreparedCells {
  encoded: Float32Array;
  baselines: Record<BaselineKind, Float32Array>;
  cell(step: number, feature: number): CellValue;
  stepTimes?: readonly string[];
}

export interface EncodingAdapter<I> {
  prepare(model: RegisteredModel<I>, layout: InputLayout, input: I, provenance?: Provenance): PreparedCells;
}

/**
 * The shipped training-split mean of the encoded input (src/explain/baselines), or undefined when none
 * matches this model's encoded width. A retrained model on the same split and encoding keeps a valid mean
 * (standardised channels average ≈ 0 whatever the fitted SDs), so the width is the check that matters.
 */
export function shippedTrainingMean(modelId: string, width: number): Float32Array | undefined {
  const entry = TRAINING_MEANS[modelId];
  return entry && entry.mean.length === width ? Float32Array.from(entry.mean) : undefined;
}

/**
 * The baselines every encoding offers (src/explain/types.ts BaselineKind): all zeros, the shipped training
 * mean (all zeros when none fits), and `normal` — the encoding's normal patient, all zeros when it has none.
 */
export function baselineSet(modelId: string, width: number, normal?: Float32Array): PreparedCells['baselines'] {
  const zero = new Float32Array(width);
  return { zero, 'training-mean': shippedTrainingMean(modelId, width) ?? zero, normal: normal ?? zero };
}

export function sourcesAt(provenance: Provenance | undefined, step: number, feature: number): readonly string[] {
  return provenance?.sources[step]?.[feature] ?? [];
}
