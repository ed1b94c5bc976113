/**
 * Integrated Gradients (Sundararajan, Taly & Yan 2017, "Axiomatic Attribution for Deep Networks", ICML):
 *
 *   IG_i(x) = (x_i − x'_i) · ∫₀¹ ∂f(x' + α(x − x'))/∂x_i dα
 *
 * approximated by a quadrature rule (adaptive trapezoid, uniform trapezoid or Gauss–Legendre) whose
 * interpolation points are differentiated in ONE batched gradient call per refinement level (several inputs — e.g. concurrent hook requests — can share that call).
 * Completeness (§3, Proposition 1: Σ_i IG_i = f(x) − f(x')) is the convergence check: the relative delta
 * |Σ IG − (f(x) − f(x'))| / |f(x) − f(x')| is reported with every result, and the step count grows along
 * the schedule until it is below the tolerance, or the schedule ends (converged = false).
 */
import { adaptiveIntegratedGradients } from './adaptive.js';
import { valuesAndGradients, widthOf } from './differentiable.js';
import { quadrature } from './quadrature.js';
import type { AttributionTarget, Differentiable, QuadratureRule } from './types.js';

export interface IntegratedGradientsOptions {
  /**
   * Default adaptive-trapezoid: fewest gradient rows on both shipped models, and the only rule that reliably
   * converges on ReLU networks (docs/explanations.md). Gauss–Legendre and uniform trapezoid follow `schedule`.
   */
  rule?: QuadratureRule;
  /**
   * Step counts tried in order until the delta is below tolerance. Default [8, 16, …, 1024] within the cell
   * budget. The adaptive rule starts from schedule[0] uniform intervals and bisects from there.
   */
  schedule?: readonly number[];
  /**
   * Most encoded cells (rows × input width, summed over levels) one input may have differentiated; a level
   * that would exceed it is not started and the result is reported unconverged. Default 2^21: the 31-channel
   * heart MLP can refine to 1,024 steps (ReLU kinks converge only as 1/steps), the 48 × 104 deterioration model
   * stops after 128.
   */
  maxCells?: number;
  /** Relative completeness error accepted. Default 0.01 (1 %). */
  tolerance?: number;
  /** Quantity attributed. Default logit. */
  target?: AttributionTarget;
  /** Largest number of rows in one gradient call (memory bound); by default every row goes in one call. */
  maxRows?: number;
}

export interface IntegratedGradientsResult {
  /** Attribution per encoded cell, same layout as the input, in target units. */
  attributions: Float32Array;
  rule: QuadratureRule;
  /** Steps of the last level (nodes for Gauss–Legendre, intervals for trapezoid). */
  steps: number;
  delta: number;
  converged: boolean;
  /** f(x) and f(baseline) in target units. */
  score: number;
  baselineScore: number;
  /** Gradient calls this input took part in, and the rows it contributed to them. */
  gradientCalls: number;
  rows: number;
}

export const DEFAULT_SCHEDULE: readonly number[] = [8, 16, 32, 64, 128, 256, 512, 1024];
export const DEFAULT_MAX_CELLS = 2 ** 21;

/**
 * Below this |f(x) − f(baseline)| (target units) the delta is taken relative to it instead: an input that
 * scores like its baseline has almost nothing to attribute, and a relative error of noise is meaningless.
 */
export const DELTA_FLOOR = 1e-4;

export function completenessDelta(attributionSum: number, score: number, baselineScore: number, floor = DELTA_FLOOR): number {
  const difference = score - baselineScore;
  return Math.abs(attributionSum - difference) / Math.max(Math.abs(difference), floor);
}

interface Item {
  x: Float32Array;
  baseline: Float32Array;
  diff: Float64Array;
  score: number;
  baselineScore: number;
  /** Trapezoid: Σ gradients at interior nodes and at the two endpoints, kept across levels. */
  interior: Float64Array;
  ends: Float64Array;
  result?: IntegratedGradientsResult;
  /** Best result so far, kept in case the budget stops refinement. */
  provisional?: IntegratedGradientsResult;
  calls: number;
  rows: number;
}

/** Nodes a level must evaluate: every node for Gauss–Legendre; for trapezoid only those the previous level lacks. */
function newNodes(rule: 'gauss-legendre' | 'trapezoid', steps: number, previous: number | undefined): number[] {
  if (rule === 'gauss-legendre') return Array.from(quadrature(rule, steps).nodes);
  const nodes: number[] = [];
  for (let k = 0; k <= steps; k++) {
    // A node k/steps was evaluated before when previous divides it exactly.
    if (previous !== undefined && (k * previous) % steps === 0) continue;
    nodes.push(k / steps);
  }
  return nodes;
}

/**
 * Integrated gradients of several inputs, their interpolation points sharing one gradient call per level.
 * Each result carries its own steps, delta and convergence.
 */
export function integratedGradientsBatch(
  model: Differentiable,
  inputs: readonly { x: Float32Array; baseline: Float32Array }[],
  options: IntegratedGradientsOptions = {},
): IntegratedGradientsResult[] {
  const rule = options.rule ?? 'adaptive-trapezoid';
  const schedule = options.schedule ?? DEFAULT_SCHEDULE;
  const tolerance = options.tolerance ?? 0.01;
  const target = options.target ?? 'logit';
  const width = widthOf(model.shape);
  if (!schedule.length) throw new RangeError('integrated gradients: empty step schedule');
  if (rule === 'trapezoid' && schedule.some((s, i) => i > 0 && s % schedule[i - 1]! !== 0)) {
    // Node reuse needs each level's grid to contain the previous one.
    throw new RangeError('integrated gradients: each trapezoid step count must be a multiple of the previous one');
  }
  const items: Item[] = inputs.map(({ x, baseline }) => {
    if (x.length !== width || baseline.length !== width) throw new RangeError(`integrated gradients: input and baseline must have ${width} values`);
    const diff = new Float64Array(width);
    for (let i = 0; i < width; i++) diff[i] = x[i]! - baseline[i]!;
    return { x, baseline, diff, score: NaN, baselineScore: NaN, interior: new Float64Array(width), ends: new Float64Array(width), calls: 0, rows: 0 };
  });

  const maxCells = options.maxCells ?? DEFAULT_MAX_CELLS;
  if (rule === 'adaptive-trapezoid') {
    return adaptiveIntegratedGradients(model, items, width, {
      initial: schedule[0]!,
      tolerance,
      target,
      maxCells,
      ...(options.maxRows !== undefined ? { maxRows: options.maxRows } : {}),
    });
  }
  let previous: number | undefined;
  for (const [level, steps] of schedule.entries()) {
    const nodes = newNodes(rule, steps, previous);
    // Gauss–Legendre never visits the endpoints, so the first level adds x and the baseline as rows to score them.
    const extra = rule === 'gauss-legendre' && level === 0 ? 2 : 0;
    const perItem = nodes.length + extra;
    for (const item of items) {
      if (!item.result && level > 0 && (item.rows + perItem) * width > maxCells) item.result = item.provisional;
    }
    const pending = items.filter((item) => !item.result);
    if (!pending.length) break;
    const plan = pending.map((item) => ({ item, rows: perItem }));
    const gradients = runRows(model, plan, nodes, extra, width, target, options.maxRows);

    const { weights } = quadrature(rule, steps);
    const isLast = level === schedule.length - 1;
    pending.forEach((item, p) => {
      const g = gradients.gradients.subarray(p * perItem * width, (p + 1) * perItem * width);
      const v = gradients.values.subarray(p * perItem, (p + 1) * perItem);
      item.calls += gradients.calls;
      item.rows += perItem;
      const integral = new Float64Array(width);
      if (rule === 'gauss-legendre') {
        if (extra) {
          item.score = v[nodes.length]!;
          item.baselineScore = v[nodes.length + 1]!;
        }
        nodes.forEach((_, k) => {
          const w = weights[k]!;
          for (let i = 0; i < width; i++) integral[i]! += w * g[k * width + i]!;
        });
      } else {
        nodes.forEach((alpha, k) => {
          const into = alpha === 0 || alpha === 1 ? item.ends : item.interior;
          if (alpha === 0) item.baselineScore = v[k]!;
          if (alpha === 1) item.score = v[k]!;
          for (let i = 0; i < width; i++) into[i]! += g[k * width + i]!;
        });
        for (let i = 0; i < width; i++) integral[i] = (item.ends[i]! / 2 + item.interior[i]!) / steps;
      }
      const attributions = new Float32Array(width);
      let sum = 0;
      for (let i = 0; i < width; i++) {
        const a = item.diff[i]! * integral[i]!;
        attributions[i] = a;
        sum += a;
      }
      const delta = completenessDelta(sum, item.score, item.baselineScore);
      const result = {
        attributions,
        rule,
        steps,
        delta,
        converged: delta < tolerance,
        score: item.score,
        baselineScore: item.baselineScore,
        gradientCalls: item.calls,
        rows: item.rows,
      };
      if (delta < tolerance || isLast) item.result = result;
      else item.provisional = result;
    });
    previous = steps;
  }
  return items.map((item) => item.result!);
}

/** Builds every interpolation row of the pending inputs and differentiates them together (chunked only past maxRows). */
function runRows(
  model: Differentiable,
  plan: { item: Item; rows: number }[],
  nodes: number[],
  extra: number,
  width: number,
  target: AttributionTarget,
  maxRows = Number.POSITIVE_INFINITY,
): { values: Float32Array; gradients: Float32Array; calls: number } {
  const total = plan.reduce((n, p) => n + p.rows, 0);
  const flat = new Float32Array(total * width);
  let row = 0;
  for (const { item } of plan) {
    for (const alpha of nodes) {
      const base = row++ * width;
      for (let i = 0; i < width; i++) flat[base + i] = item.baseline[i]! + alpha * item.diff[i]!;
    }
    if (extra) {
      flat.set(item.x, row++ * width);
      flat.set(item.baseline, row++ * width);
    }
  }
  if (total <= maxRows) return { ...valuesAndGradients(model, flat, total, target), calls: 1 };
  const values = new Float32Array(total);
  const gradients = new Float32Array(total * width);
  let calls = 0;
  for (let start = 0; start < total; start += maxRows) {
    const n = Math.min(maxRows, total - start);
    const part = valuesAndGradients(model, flat.subarray(start * width, (start + n) * width), n, target);
    values.set(part.values, start);
    gradients.set(part.gradients, start * width);
    calls++;
  }
  return { values, gradients, calls };
}

/** Integrated gradients of one input (see integratedGradientsBatch). */
export function integratedGradients(
  model: Differentiable,
  x: Float32Array,
  baseline: Float32Array,
  options: IntegratedGradientsOptions = {},
): IntegratedGradientsResult {
  return integratedGradientsBatch(model, [{ x, baseline }], options)[0]!;
}

/**
 * The textbook step-by-step loop (one gradient call per interpolation point), kept for the benchmark's
 * batched-vs-unbatched comparison and as a cross-check in tests. Fixed step count, no refinement.
 */
export function integratedGradientsStepwise(
  model: Differentiable,
  x: Float32Array,
  baseline: Float32Array,
  options: { rule?: 'gauss-legendre' | 'trapezoid'; steps: number; target?: AttributionTarget },
): Float32Array {
  const rule = options.rule ?? 'gauss-legendre';
  const target = options.target ?? 'logit';
  const width = widthOf(model.shape);
  const { nodes, weights } = quadrature(rule, options.steps);
  const integral = new Float64Array(width);
  const point = new Float32Array(width);
  nodes.forEach((alpha, k) => {
    for (let i = 0; i < width; i++) point[i] = baseline[i]! + alpha * (x[i]! - baseline[i]!);
    const { gradients } = valuesAndGradients(model, point, 1, target);
    for (let i = 0; i < width; i++) integral[i]! += weights[k]! * gradients[i]!;
  });
  return Float32Array.from(integral, (v, i) => (x[i]! - baseline[i]!) * v);
}
