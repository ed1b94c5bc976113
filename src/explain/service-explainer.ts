/**
 * src/explain behind the model services' Explainer seam (src/explanations/explainer.ts): integrated
 * gradients on the logit with the adaptive trapezoid rule, values rescaled to probability (they add up to
 * probability − baselineProbability within the reported convergence delta), and concurrent requests for
 * the same network merged into shared gradient calls.
 *
 *   createVigil({ …, explainer: integratedGradientsServiceExplainer() })
 */
import type * as tfTypes from '@tensorflow/tfjs';
import type { Attribution, AttributionRequest, Explainer } from '../explanations/explainer.js';
import { differentiableFromLayers, scores, widthOf } from './differentiable.js';
import { integratedGradientsBatch, type IntegratedGradientsOptions } from './integrated-gradients.js';
import { MicroBatcher, type Batched } from './micro-batch.js';
import type { Differentiable } from './types.js';

export interface ServiceExplainerOptions extends Omit<IntegratedGradientsOptions, 'target'> {
  /** Longest a request waits for others on the same model to share its gradient calls. Default 2 ms; 0 = no wait. */
  maxWaitMs?: number;
  /** Most requests merged into one batch. Default 16. */
  maxBatch?: number;
}

const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));

export function integratedGradientsServiceExplainer(options: ServiceExplainerOptions = {}): Explainer {
  const { maxWaitMs = 2, maxBatch = 16, ...ig } = options;
  const differentiables = new WeakMap<tfTypes.LayersModel, Differentiable>();

  const differentiableOf = (network: tfTypes.LayersModel): Differentiable => {
    let d = differentiables.get(network);
    if (!d) {
      d = differentiableFromLayers(network);
      differentiables.set(network, d);
    }
    return d;
  };

  const run = (network: tfTypes.LayersModel, live: Batched<AttributionRequest, Attribution>[]): void => {
    const model = differentiableOf(network);
    const results = integratedGradientsBatch(model, live.map((p) => ({ x: p.request.input, baseline: p.request.baseline })), { ...ig, target: 'logit' });
    const width = widthOf(model.shape);
    const flat = new Float32Array(live.length * 2 * width);
    live.forEach((p, k) => {
      flat.set(p.request.input, 2 * k * width);
      flat.set(p.request.baseline, (2 * k + 1) * width);
    });
    const probabilities = scores(model, flat, live.length * 2, 'probability');
    live.forEach((p, k) => {
      const r = results[k]!;
      const probability = probabilities[2 * k]!;
      const baselineProbability = probabilities[2 * k + 1]!;
      const dz = r.score - r.baselineScore;
      // One common factor keeps signs and proportions and makes the values add up to Δprobability.
      const scale = Math.abs(dz) < 1e-6 ? sigmoid(r.score) * (1 - sigmoid(r.score)) : (sigmoid(r.score) - sigmoid(r.baselineScore)) / dz;
      p.resolve({
        values: r.attributions.map((v) => v * scale),
        probability,
        baselineProbability,
        method: {
          name: 'integrated-gradients',
          baseline: p.request.baselineDescription,
          steps: r.steps,
          convergenceDelta: r.delta,
          baselineProbability,
        },
      });
    });
  };
  const batcher = new MicroBatcher<tfTypes.LayersModel, AttributionRequest, Attribution>({ maxWaitMs, maxBatch, run });

  return {
    attribute: (request) => batcher.add(request.model.network, request),
  };
}
