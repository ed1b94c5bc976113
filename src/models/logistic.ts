/**
 * L2-regularised logistic regression fitted by iteratively reweighted least squares (Newton's method).
 * The baseline every neural model is compared against; pure and deterministic (no random start).
 */
import { sigmoid } from './metrics.js';

export interface LogisticModel {
  kind: 'logistic-v1';
  intercept: number;
  weights: number[];
}

export interface LogisticFitOptions {
  /** Ridge penalty λ on the weights (not the intercept). Default 1. */
  l2?: number;
  /** Per-row weights, e.g. to balance rare positives. */
  sampleWeights?: ArrayLike<number>;
  maxIterations?: number;
}

/** Solves A·x = b for symmetric positive-definite A (Cholesky); A is n×n row-major. */
function solveSpd(A: Float64Array, b: Float64Array, n: number): Float64Array {
  const L = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = A[i * n + j]!;
      for (let k = 0; k < j; k++) s -= L[i * n + k]! * L[j * n + k]!;
      L[i * n + j] = i === j ? Math.sqrt(Math.max(s, 1e-12)) : s / L[j * n + j]!;
    }
  }
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = b[i]!;
    for (let k = 0; k < i; k++) s -= L[i * n + k]! * y[k]!;
    y[i] = s / L[i * n + i]!;
  }
  const x = new Float64Array(n);
  for (let i = n - 1; i >= 0; i--) {
    let s = y[i]!;
    for (let k = i + 1; k < n; k++) s -= L[k * n + i]! * x[k]!;
    x[i] = s / L[i * n + i]!;
  }
  return x;
}

export function fitLogistic(rows: readonly ArrayLike<number>[], labels: ArrayLike<number>, options: LogisticFitOptions = {}): LogisticModel {
  const { l2 = 1, maxIterations = 50 } = options;
  const d = rows[0]?.length ?? 0;
  const n = d + 1;
  const beta = new Float64Array(n);
  for (let iter = 0; iter < maxIterations; iter++) {
    const H = new Float64Array(n * n);
    const g = new Float64Array(n);
    const xi = new Float64Array(n);
    for (let r = 0; r < rows.length; r++) {
      const row = rows[r]!;
      xi[0] = 1;
      for (let j = 0; j < d; j++) xi[j + 1] = row[j]!;
      let z = 0;
      for (let j = 0; j < n; j++) z += beta[j]! * xi[j]!;
      const p = sigmoid(z);
      const sw = options.sampleWeights ? options.sampleWeights[r]! : 1;
      const w = sw * p * (1 - p);
      const resid = sw * (labels[r]! - p);
      for (let j = 0; j < n; j++) {
        const xj = xi[j]!;
        if (xj === 0) continue;
        g[j]! += resid * xj;
        const wx = w * xj;
        for (let k = 0; k <= j; k++) H[j * n + k]! += wx * xi[k]!;
      }
    }
    for (let j = 0; j < n; j++) for (let k = 0; k < j; k++) H[k * n + j] = H[j * n + k]!;
    for (let j = 1; j < n; j++) {
      H[j * n + j]! += l2;
      g[j]! -= l2 * beta[j]!;
    }
    H[0]! += 1e-9;
    const step = solveSpd(H, g, n);
    let maxStep = 0;
    for (let j = 0; j < n; j++) {
      beta[j]! += step[j]!;
      maxStep = Math.max(maxStep, Math.abs(step[j]!));
    }
    if (maxStep < 1e-8) break;
  }
  return { kind: 'logistic-v1', intercept: beta[0]!, weights: Array.from(beta.subarray(1)) };
}

export function predictLogistic(model: LogisticModel, row: ArrayLike<number>): number {
  let z = model.intercept;
  for (let j = 0; j < model.weights.length; j++) z += model.weights[j]! * row[j]!;
  return sigmoid(z);
}
