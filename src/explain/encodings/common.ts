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

export function sourcesAt(provenance: Provenance | undefined, step: number, feature: number): readonly string[] {
  return provenance?.sources[step]?.[feature] ?? [];
}
