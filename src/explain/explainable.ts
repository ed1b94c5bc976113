/**
 * Registry → explainers: any RegisteredModel becomes an {@link Explainable} without model-specific code.
 * The differentiable score comes from its tfjs network, the layout from its channel names and manifest;
 * only decoding cells back to clinical values is per encoding (one small adapter per preprocess kind,
 * with a generic fallback so a model with a new encoding is still explained).
 */
import type { DeteriorationWindow } from '../models/features/deterioration-window.js';
import type { RegisteredModel } from '../models/registry.js';
import { dataVersionOf } from './data-version.js';
import { differentiableFromLayers } from './differentiable.js';
import type { EncodingAdapter } from './encodings/common.js';
import { genericAdapter } from './encodings/generic.js';
import { physionetWindowAdapter } from './encodings/physionet-window.js';
import { uciHeartAdapter } from './encodings/uci-heart.js';
import { buildLayout } from './layout.js';
import type { Explainable, Provenance } from './types.js';

const ADAPTERS: Readonly<Record<string, EncodingAdapter<never>>> = {
  'physionet-window-v1': physionetWindowAdapter,
  'uci-heart-v1': uciHeartAdapter,
};

const cache = new WeakMap<RegisteredModel<never>, Explainable<never>>();

/**
 * The explainable view of a registered model. Cached per loaded model object, so a hot-reloaded version
 * gets a fresh one (with its own weights) while calls holding the old version keep theirs.
 */
export function explainableFromRegistered<I>(model: RegisteredModel<I>): Explainable<I> {
  const key = model as unknown as RegisteredModel<never>;
  const hit = cache.get(key);
  if (hit) return hit as unknown as Explainable<I>;
  const differentiable = differentiableFromLayers(model.network);
  const layout = buildLayout(model.manifest, model.featureNames, model.inputShape);
  const adapter = (ADAPTERS[model.preprocess.kind] ?? genericAdapter) as EncodingAdapter<I>;
  const explainable: Explainable<I> = {
    modelId: model.manifest.id,
    version: model.manifest.version,
    shape: differentiable.shape,
    layout,
    score: differentiable.score,
    prepare(input: I, provenance?: Provenance) {
      const prepared = adapter.prepare(model, layout, input, provenance);
      return { ...prepared, dataVersion: dataVersionOf(prepared.encoded, provenance) };
    },
  };
  cache.set(key, explainable as unknown as Explainable<never>);
  return explainable;
}

/** The provenance the deterioration feature extraction records (src/models/features/deterioration-window.ts). */
export function provenanceOfWindow(window: Pick<DeteriorationWindow, 'sources' | 'hourStarts'>): Provenance {
  return { sources: window.sources, stepTimes: window.hourStarts };
}
