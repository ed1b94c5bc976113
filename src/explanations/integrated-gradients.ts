/**
 * A compact Integrated Gradients explainer (Sundararajan, Taly & Yan 2017, "Axiomatic Attribution for
 * Deep Networks", eq. 1 with the trapezoid rule), so the services have factors before the full
 * explainer package (src/explain, issue 7) lands. All interpolation steps go through one batched
 * gradient call; the step count doubles until the completeness error is below `tolerance` or `maxSteps`
 * is reached, and the error reached is recorded with the explanation either way.
 */
import type * as tfTypes from '@tensorflow/tfjs';
import { getTf } from '../models/index.js';
import type { Attribution, AttributionRequest, Explainer } from './explainer.js';

export interface IntegratedGradientsOptions {
  /** First step count. Default 16. */
  steps?: number;
  /** Cap on the step count. Default 128. */
  maxSteps?: number;
  /** Largest acceptable relative completeness error. Default 0.01 (1 %). */
  tolerance?: number;
}

/** Below this |f(x) − f(baseline)| the relative error is meaningless: there is nothing to attribute. */
const NEGLIGIBLE = 1e-6;

/** Trapezoid-rule path integral of the gradient, times (x − baseline), for `steps` intervals. */
function integrate(request: AttributionRequest, steps: number): Float32Array {
  const tf = getTf();
  const { model, input, baseline } = request;
  const shape = [...model.inputShape];
  return tf.tidy(() => {
    const x = tf.tensor(input, [1, ...shape]);
    const b = tf.tensor(baseline, [1, ...shape]);
    const diff = x.sub(b);
    const alphas = tf.linspace(0, 1, steps + 1).reshape([steps + 1, ...shape.map(() => 1)]);
    const path = b.add(alphas.mul(diff));
    // Each row of the batch is independent, so the gradient of the sum is the per-row gradient.
    const gradient = tf.grad((p: tfTypes.Tensor) => (model.network.apply(p, { training: false }) as tfTypes.Tensor).sum())(path);
    const weights = new Float32Array(steps + 1).fill(1 / steps);
    weights[0] = 1 / (2 * steps);
    weights[steps] = 1 / (2 * steps);
    const average = gradient.mul(tf.tensor(weights, [steps + 1, ...shape.map(() => 1)])).sum(0);
    return average.mul(diff.squeeze([0])).dataSync() as Float32Array;
  });
}

export function integratedGradientsExplainer(options: IntegratedGradientsOptions = {}): Explainer {
  const firstSteps = options.steps ?? 16;
  const maxSteps = options.maxSteps ?? 128;
  const tolerance = options.tolerance ?? 0.01;
  return {
    async attribute(request: AttributionRequest): Promise<Attribution> {
      const { model, input, baseline } = request;
      const probability = model.forward(input, 1)[0]!;
      const baselineProbability = model.forward(baseline, 1)[0]!;
      const gap = probability - baselineProbability;
      let steps = firstSteps;
      let values: Float32Array;
      let delta: number;
      for (;;) {
        values = integrate(request, steps);
        const total = values.reduce((a, v) => a + v, 0);
        delta = Math.abs(gap) < NEGLIGIBLE ? 0 : Math.abs(total - gap) / Math.abs(gap);
        if (delta <= tolerance || steps * 2 > maxSteps || request.signal?.aborted) break;
        steps *= 2;
        // Let other requests run between rounds.
        await new Promise((resolve) => setImmediate(resolve));
      }
      return {
        values,
        probability,
        baselineProbability,
        method: {
          name: 'integrated-gradients',
          baseline: request.baselineDescription,
          steps,
          convergenceDelta: delta,
          baselineProbability,
        },
      };
    },
  };
}
