/**
 * Adaptive trapezoid integrated gradients, for networks with kinks (ReLU) where uniform rules converge
 * only as 1/steps. The gradient call returns f at every node as well as ∇f, so each interval [a, b] knows
 * its own completeness error: e = (b − a)/2 · (∇f(a) + ∇f(b))·(x − x') − (f(b) − f(a)). These add up exactly
 * to Σ IG − (f(x) − f(x')), the delta of Sundararajan et al. 2017 §3; each round bisects the intervals
 * with the largest errors (all inputs of the batch in one gradient call) until the delta is below
 * tolerance or the cell budget is spent.
 */
import { valuesAndGradients } from './differentiable.js';
import { completenessDelta, type IntegratedGradientsResult } from './integrated-gradients.js';
import type { AttributionTarget, Differentiable } from './types.js';

export interface AdaptiveOptions {
  /** Uniform intervals to start from. */
  initial: number;
  tolerance: number;
  target: AttributionTarget;
  maxCells: number;
  maxRows?: number;
  /** Intervals bisected per round at most. Default 64. */
  splitsPerRound?: number;
}

interface Node {
  alpha: number;
  gradient: Float32Array;
  value: number;
  /** ∇f(node)·(x − x'): the path derivative df/dα. */
  slope: number;
}

interface Item {
  x: Float32Array;
  baseline: Float32Array;
  diff: Float64Array;
  nodes: Node[];
  rows: number;
  calls: number;
  result?: IntegratedGradientsResult;
}

const MAX_ROUNDS = 24;

function intervalErrors(nodes: Node[]): number[] {
  const out: number[] = [];
  for (let i = 0; i + 1 < nodes.length; i++) {
    const a = nodes[i]!;
    const b = nodes[i + 1]!;
    out.push(((b.alpha - a.alpha) / 2) * (a.slope + b.slope) - (b.value - a.value));
  }
  return out;
}

function finish(item: Item, width: number, tolerance: number): IntegratedGradientsResult {
  const integral = new Float64Array(width);
  for (let i = 0; i + 1 < item.nodes.length; i++) {
    const a = item.nodes[i]!;
    const b = item.nodes[i + 1]!;
    const h = (b.alpha - a.alpha) / 2;
    for (let j = 0; j < width; j++) integral[j]! += h * (a.gradient[j]! + b.gradient[j]!);
  }
  const attributions = new Float32Array(width);
  let sum = 0;
  for (let j = 0; j < width; j++) {
    attributions[j] = item.diff[j]! * integral[j]!;
    sum += attributions[j]!;
  }
  const score = item.nodes[item.nodes.length - 1]!.value;
  const baselineScore = item.nodes[0]!.value;
  const delta = completenessDelta(sum, score, baselineScore);
  return {
    attributions,
    rule: 'adaptive-trapezoid',
    steps: item.nodes.length - 1,
    delta,
    converged: delta < tolerance,
    score,
    baselineScore,
    gradientCalls: item.calls,
    rows: item.rows,
  };
}

export function adaptiveIntegratedGradients(
  model: Differentiable,
  inputs: readonly { x: Float32Array; baseline: Float32Array; diff: Float64Array }[],
  width: number,
  options: AdaptiveOptions,
): IntegratedGradientsResult[] {
  const items: Item[] = inputs.map((i) => ({ ...i, nodes: [], rows: 0, calls: 0 }));
  let wanted: number[][] = items.map(() => Array.from({ length: options.initial + 1 }, (_, k) => k / options.initial));
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const pending = items.map((item, k) => ({ item, alphas: wanted[k]! })).filter((p) => !p.item.result && p.alphas.length);
    if (!pending.length) break;
    const total = pending.reduce((n, p) => n + p.alphas.length, 0);
    const flat = new Float32Array(total * width);
    let row = 0;
    for (const { item, alphas } of pending) {
      for (const alpha of alphas) {
        const base = row++ * width;
        for (let j = 0; j < width; j++) flat[base + j] = item.baseline[j]! + alpha * item.diff[j]!;
      }
    }
    const maxRows = options.maxRows ?? Number.POSITIVE_INFINITY;
    const values = new Float32Array(total);
    const gradients = new Float32Array(total * width);
    let calls = 0;
    for (let start = 0; start < total; start += Math.min(maxRows, total)) {
      const n = Math.min(maxRows, total - start);
      const part = valuesAndGradients(model, flat.subarray(start * width, (start + n) * width), n, options.target);
      values.set(part.values, start);
      gradients.set(part.gradients, start * width);
      calls++;
    }
    row = 0;
    for (const { item, alphas } of pending) {
      item.calls += calls;
      item.rows += alphas.length;
      for (const alpha of alphas) {
        const gradient = gradients.slice(row * width, (row + 1) * width);
        let slope = 0;
        for (let j = 0; j < width; j++) slope += gradient[j]! * item.diff[j]!;
        item.nodes.push({ alpha, gradient, value: values[row]!, slope });
        row++;
      }
      item.nodes.sort((a, b) => a.alpha - b.alpha);
    }

    wanted = items.map((item) => {
      if (item.result) return [];
      const provisional = finish(item, width, options.tolerance);
      if (provisional.converged || round === MAX_ROUNDS - 1) {
        item.result = provisional;
        return [];
      }
      const errors = intervalErrors(item.nodes);
      const largest = Math.max(...errors.map(Math.abs));
      const split = errors
        .map((e, i) => ({ e: Math.abs(e), i }))
        .filter(({ e }) => e >= largest / 8)
        .sort((a, b) => b.e - a.e)
        .slice(0, options.splitsPerRound ?? 64)
        .map(({ i }) => (item.nodes[i]!.alpha + item.nodes[i + 1]!.alpha) / 2);
      if ((item.rows + split.length) * width > options.maxCells) {
        item.result = provisional;
        return [];
      }
      return split;
    });
  }
  return items.map((item) => item.result ?? finish(item, width, options.tolerance));
}
