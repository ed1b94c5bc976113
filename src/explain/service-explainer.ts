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
import { GatewayTimeoutError } from '../errors.js';
import { differentiableFromLayers, scores, widthOf } from './differentiable.js';
import { integratedGradientsBatch, type IntegratedGradientsOptions } from './integrated-gradients.js';
import type { Differentiable } from './types.js';

export interface ServiceExplainerOptions extends Omit<IntegratedGradientsOptions, 'target'> {
  /** Longest a request waits for others on the same model to share its gradient calls. Default 2 ms; 0 = no wait. */
  maxWaitMs?: number;
  /** Most requests merged into one batch. Default 16. */
  maxBatch?: number;
}

interface Pending {
  request: AttributionRequest;
  resolve(value: Attribution): void;
  reject(reason: unknown): void;
}

const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));

export function integratedGradientsServiceExplainer(options: ServiceExplainerOptions = {}): Explainer {
  const { maxWaitMs = 2, maxBatch = 16, ...ig } = options;
  const differentiables = new WeakMap<tfTypes.LayersModel, Differentiable>();
  const queues = new Map<tfTypes.LayersModel, { items: Pending[]; timer?: NodeJS.Timeout }>();

  const differentiableOf = (network: tfTypes.LayersModel): Differentiable => {
    let d = differentiables.get(network);
    if (!d) {
      d = differentiableFromLayers(network);
      differentiables.set(network, d);
    }
    return d;
  };

  const run = (network: tfTypes.LayersModel): void => {
    const queue = queues.get(network);
    if (!queue) return;
    queues.delete(network);
    clearTimeout(queue.timer);
    const live = queue.items.filter((p) => {
      if (!p.request.signal?.aborted) return true;
      p.reject(new GatewayTimeoutError('explanation abandoned at the hook deadline'));
      return false;
    });
    if (!live.length) return;
    try {
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
    } catch (err) {
      live.forEach((p) => p.reject(err));
    }
  };

  return {
    attribute(request: AttributionRequest): Promise<Attribution> {
      return new Promise<Attribution>((resolve, reject) => {
        const network = request.model.network;
        let queue = queues.get(network);
        if (!queue) {
          queue = { items: [] };
          queues.set(network, queue);
        }
        queue.items.push({ request, resolve, reject });
        if (queue.items.length >= maxBatch || maxWaitMs === 0) run(network);
        else queue.timer ??= setTimeout(() => run(network), maxWaitMs);
      });
    },
  };
}
