/** Small tfjs networks built in the tests, with weights set explicitly so their functions are known. */
import type * as tfTypes from '@tensorflow/tfjs';
import { getTf } from '../../src/models/backend/index.js';
import { seededRandom } from '../../src/models/random.js';

export function weights(seed: number, count: number, scale = 1): number[] {
  const random = seededRandom(seed);
  return Array.from({ length: count }, () => (random() * 2 - 1) * scale);
}

/** Logistic model: p = sigmoid(x·w + b). */
export function logisticModel(w: number[], b: number): tfTypes.Sequential {
  const tf = getTf();
  const model = tf.sequential({ layers: [tf.layers.dense({ units: 1, activation: 'sigmoid', inputShape: [w.length] })] });
  model.setWeights([tf.tensor2d(w, [w.length, 1]), tf.tensor1d([b])]);
  return model;
}

/** Time-series logistic model over [steps, channels]: Flatten → Dense(1, sigmoid). */
export function linearSeriesModel(steps: number, channels: number, w: number[], b: number): tfTypes.Sequential {
  const tf = getTf();
  const model = tf.sequential({
    layers: [tf.layers.flatten({ inputShape: [steps, channels] }), tf.layers.dense({ units: 1, activation: 'sigmoid' })],
  });
  model.setWeights([tf.tensor2d(w, [steps * channels, 1]), tf.tensor1d([b])]);
  return model;
}

export interface MlpWeights {
  w1: number[][]; // [inputs][hidden]
  b1: number[];
  w2: number[]; // [hidden]
  b2: number;
}

export function randomMlp(seed: number, inputs: number, hidden: number): MlpWeights {
  const flat = weights(seed, inputs * hidden + hidden * 2 + 1, 1);
  let k = 0;
  const w1 = Array.from({ length: inputs }, () => Array.from({ length: hidden }, () => flat[k++]!));
  const b1 = Array.from({ length: hidden }, () => flat[k++]! * 0.5);
  const w2 = Array.from({ length: hidden }, () => flat[k++]!);
  return { w1, b1, w2, b2: flat[k]! };
}

/** inputs → Dense(hidden, activation) → Dense(1, sigmoid). */
export function mlp(spec: MlpWeights, activation: 'tanh' | 'relu' | 'sigmoid' = 'tanh'): tfTypes.Sequential {
  const tf = getTf();
  const inputs = spec.w1.length;
  const hidden = spec.b1.length;
  const model = tf.sequential({
    layers: [tf.layers.dense({ units: hidden, activation, inputShape: [inputs] }), tf.layers.dense({ units: 1, activation: 'sigmoid' })],
  });
  model.setWeights([tf.tensor2d(spec.w1), tf.tensor1d(spec.b1), tf.tensor2d(spec.w2, [hidden, 1]), tf.tensor1d([spec.b2])]);
  return model;
}

/** The same function with hidden units permuted and each unit split into two halves: a different network, equal outputs. */
export function rearranged(spec: MlpWeights, order: number[]): MlpWeights {
  const w1 = spec.w1.map((row) => order.flatMap((h) => [row[h]!, row[h]!]));
  const b1 = order.flatMap((h) => [spec.b1[h]!, spec.b1[h]!]);
  const w2 = order.flatMap((h) => [spec.w2[h]! / 2, spec.w2[h]! / 2]);
  return { w1, b1, w2, b2: spec.b2 };
}
