/**
 * Multinomial logistic (softmax) regression with L2 penalty and per-class weights, fitted by full-batch
 * gradient descent with Adam on standardised features. The ECG baseline's classifier: pure, deterministic.
 */

export interface SoftmaxModel {
  kind: 'softmax-regression-v1';
  /** Feature standardisation from the training rows. */
  means: number[];
  sds: number[];
  /** weights[class][feature]. */
  weights: number[][];
  biases: number[];
}

export interface SoftmaxFitOptions {
  classes: number;
  l2?: number;
  iterations?: number;
  learningRate?: number;
  /** Loss weight per class (e.g. balanced). Default 1 each. */
  classWeights?: number[];
}

function softmaxInPlace(z: number[]): number[] {
  const max = Math.max(...z);
  let sum = 0;
  for (let k = 0; k < z.length; k++) sum += z[k] = Math.exp(z[k]! - max);
  for (let k = 0; k < z.length; k++) z[k]! /= sum;
  return z;
}

export function fitSoftmax(rows: number[][], labels: number[], options: SoftmaxFitOptions): SoftmaxModel {
  const d = rows[0]?.length ?? 0;
  const K = options.classes;
  const l2 = options.l2 ?? 0.01;
  const iterations = options.iterations ?? 3000;
  const lr = options.learningRate ?? 0.05;
  const cw = options.classWeights ?? new Array<number>(K).fill(1);
  const means = Array.from({ length: d }, (_, j) => rows.reduce((s, r) => s + r[j]!, 0) / rows.length);
  const sds = Array.from({ length: d }, (_, j) => Math.sqrt(rows.reduce((s, r) => s + (r[j]! - means[j]!) ** 2, 0) / rows.length) || 1);
  const X = rows.map((r) => r.map((v, j) => (v - means[j]!) / sds[j]!));
  const params = new Float64Array(K * (d + 1));
  const m = new Float64Array(params.length);
  const v = new Float64Array(params.length);
  const totalWeight = labels.reduce((s, y) => s + cw[y]!, 0);
  for (let it = 1; it <= iterations; it++) {
    const grad = new Float64Array(params.length);
    for (let i = 0; i < X.length; i++) {
      const z = Array.from({ length: K }, (_, k) => {
        let s = params[k * (d + 1) + d]!;
        for (let j = 0; j < d; j++) s += params[k * (d + 1) + j]! * X[i]![j]!;
        return s;
      });
      const p = softmaxInPlace(z);
      const w = cw[labels[i]!]! / totalWeight;
      for (let k = 0; k < K; k++) {
        const r = w * (p[k]! - (labels[i] === k ? 1 : 0));
        for (let j = 0; j < d; j++) grad[k * (d + 1) + j]! += r * X[i]![j]!;
        grad[k * (d + 1) + d]! += r;
      }
    }
    for (let k = 0; k < K; k++) for (let j = 0; j < d; j++) grad[k * (d + 1) + j]! += l2 * params[k * (d + 1) + j]!;
    for (let q = 0; q < params.length; q++) {
      m[q] = 0.9 * m[q]! + 0.1 * grad[q]!;
      v[q] = 0.999 * v[q]! + 0.001 * grad[q]! ** 2;
      params[q]! -= (lr * (m[q]! / (1 - 0.9 ** it))) / (Math.sqrt(v[q]! / (1 - 0.999 ** it)) + 1e-8);
    }
  }
  return {
    kind: 'softmax-regression-v1',
    means,
    sds,
    weights: Array.from({ length: K }, (_, k) => Array.from(params.subarray(k * (d + 1), k * (d + 1) + d))),
    biases: Array.from({ length: K }, (_, k) => params[k * (d + 1) + d]!),
  };
}

export function predictSoftmax(model: SoftmaxModel, row: readonly number[]): number[] {
  const z = model.weights.map((w, k) => w.reduce((s, wj, j) => s + wj * ((row[j]! - model.means[j]!) / model.sds[j]!), model.biases[k]!));
  return softmaxInPlace(z);
}
