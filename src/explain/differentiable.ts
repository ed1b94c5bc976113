/**
 * Differentiable scores from tfjs Layers models, and the one batched gradient call every gradient-based
 * explainer is built on. The back end comes from src/models/backend (getTf); nothing here imports one.
 */
import type * as tfTypes from '@tensorflow/tfjs';
import { getTf } from '../models/backend/index.js';
import type { AttributionTarget, Differentiable, Tensor } from './types.js';

/** Probabilities are clamped this far from 0 and 1 before taking a logit of a model we cannot open up. */
const LOGIT_EPS = 1e-7;

/**
 * Wraps a Layers model whose output is a probability ([batch, 1] or [batch]).
 * The logit is read exactly when the last layer is a Dense layer with a sigmoid activation (the case for
 * every Vigil model: its pre-activation is computed from the penultimate output and the layer's weights);
 * otherwise it falls back to log(p) − log(1 − p) on a clamped p, which is exact away from saturation.
 */
export function differentiableFromLayers(network: tfTypes.LayersModel): Differentiable {
  const tf = getTf();
  const shape = (network.inputs[0]!.shape as (number | null)[]).slice(1).map((d) => d ?? 1);
  const last = network.layers[network.layers.length - 1]!;
  const config = last.getConfig() as { activation?: string };
  let logitOf: ((x: Tensor) => Tensor) | undefined;
  if (last.getClassName() === 'Dense' && config.activation === 'sigmoid' && network.inputs.length === 1) {
    const penultimate = tf.model({ inputs: network.inputs, outputs: last.input as tfTypes.SymbolicTensor });
    logitOf = (x) => {
      // Weights are read per call so a hot-reloaded or retrained network is never explained with stale weights.
      const [kernel, bias] = last.getWeights();
      const h = penultimate.apply(x, { training: false }) as Tensor;
      const z = tf.matMul(h as tfTypes.Tensor2D, kernel as tfTypes.Tensor2D);
      return (bias ? tf.add(z, bias) : z).reshape([-1]);
    };
  }
  const probabilityOf = (x: Tensor): Tensor => (network.apply(x, { training: false }) as Tensor).reshape([-1]);
  return {
    shape,
    score(x, target) {
      if (target === 'probability') return probabilityOf(x);
      if (logitOf) return logitOf(x);
      const p = tf.clipByValue(probabilityOf(x), LOGIT_EPS, 1 - LOGIT_EPS);
      return tf.sub(tf.log(p), tf.log1p(tf.neg(p)));
    },
  };
}

export function widthOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export interface ValuesAndGradients {
  /** Score of each row. */
  values: Float32Array;
  /** ∂score/∂input of each row, rows laid end to end. */
  gradients: Float32Array;
}

/**
 * Scores and input gradients of `rows` encoded inputs laid end to end, in ONE batched gradient call
 * (tf.valueAndGrad with dy = 1 per row; rows are independent, so row i's gradient is ∂f(x_i)/∂x_i).
 */
export function valuesAndGradients(model: Differentiable, flat: Float32Array, rows: number, target: AttributionTarget): ValuesAndGradients {
  const tf = getTf();
  let out: ValuesAndGradients | undefined;
  // The arrays leave through a closure, not as tidy's return value: tidy walks whatever it returns
  // looking for tensors, index by index, which for 65 × 48 × 104 gradients cost ~150–200 ms on wasm —
  // five times the gradient itself (bench/deterioration-arch.ts).
  tf.tidy(() => {
    const x = tf.tensor(flat, [rows, ...model.shape]);
    const f = tf.valueAndGrad((input: Tensor) => model.score(input, target));
    const { value, grad } = f(x, tf.ones([rows]));
    out = { values: value.dataSync() as Float32Array, gradients: grad.dataSync() as Float32Array };
  });
  return out!;
}

/** Scores of `rows` encoded inputs laid end to end, in batches of at most maxBatch rows. */
export function scores(model: Differentiable, flat: Float32Array, rows: number, target: AttributionTarget, maxBatch = 512): Float32Array {
  const tf = getTf();
  const width = widthOf(model.shape);
  const out = new Float32Array(rows);
  for (let start = 0; start < rows; start += maxBatch) {
    const n = Math.min(maxBatch, rows - start);
    const part = tf.tidy(() => model.score(tf.tensor(flat.subarray(start * width, (start + n) * width), [n, ...model.shape]), target).dataSync());
    out.set(part, start);
  }
  return out;
}
