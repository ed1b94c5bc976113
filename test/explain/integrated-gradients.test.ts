/**
 * The axioms of Sundararajan et al. 2017 as properties over random inputs (fast-check), on small networks
 * built here with known weights: linearity, dummy (ignored) features, symmetry, completeness,
 * implementation invariance — plus gradients against central finite differences, and batched vs stepwise.
 */
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { initBackend } from '../../src/models/backend/index.js';
import { differentiableFromLayers, valuesAndGradients } from '../../src/explain/differentiable.js';
import {
  DELTA_FLOOR,
  completenessDelta,
  integratedGradients,
  integratedGradientsBatch,
  integratedGradientsStepwise,
} from '../../src/explain/integrated-gradients.js';
import { gradientTimesInput } from '../../src/explain/saliency.js';
import { logisticModel, mlp, randomMlp, rearranged, weights } from './models.js';

const vector = (n: number, range = 3) => fc.array(fc.float({ min: -range, max: range, noNaN: true, noDefaultInfinity: true }), { minLength: n, maxLength: n });
const f32 = (v: number[]) => Float32Array.from(v);
const sum = (a: ArrayLike<number>) => Array.from(a).reduce((s, v) => s + v, 0);

// Networks are built while the suite is defined, so the back end must be ready first.
await initBackend();

describe('integrated gradients on a logistic model (linear in the logit)', () => {
  const w = weights(11, 6, 2);
  const model = differentiableFromLayers(logisticModel(w, 0.3));

  it('equals (x − baseline) · w exactly, for both rules and any step count', () => {
    fc.assert(
      fc.property(vector(6), vector(6), fc.constantFrom('gauss-legendre' as const, 'trapezoid' as const, 'adaptive-trapezoid' as const), fc.integer({ min: 1, max: 16 }), (x, b, rule, steps) => {
        const r = integratedGradients(model, f32(x), f32(b), { rule, schedule: [steps] });
        r.attributions.forEach((a, i) => expect(a).toBeCloseTo((Math.fround(x[i]!) - Math.fround(b[i]!)) * Math.fround(w[i]!), 4));
        expect(r.converged).toBe(true);
      }),
      { numRuns: 40 },
    );
  });

  it('gradient × input equals integrated gradients on a linear model', () => {
    fc.assert(
      fc.property(vector(6), vector(6), (x, b) => {
        const ig = integratedGradients(model, f32(x), f32(b)).attributions;
        const gxi = gradientTimesInput(model, f32(x), f32(b));
        ig.forEach((a, i) => expect(gxi[i]).toBeCloseTo(a, 4));
      }),
      { numRuns: 20 },
    );
  });
});

describe('integrated gradients on nonlinear networks', () => {
  const spec = randomMlp(5, 5, 8);
  // Input 2 is ignored: its outgoing weights are zero.
  spec.w1[2] = spec.w1[2]!.map(() => 0);
  // Inputs 3 and 4 are interchangeable: identical outgoing weights.
  spec.w1[4] = [...spec.w1[3]!];
  const tanhNet = differentiableFromLayers(mlp(spec, 'tanh'));
  const reluNet = differentiableFromLayers(mlp(spec, 'relu'));

  it('completeness: Σ attributions = f(x) − f(baseline) within 1 %, reported delta matches', () => {
    fc.assert(
      fc.property(vector(5), vector(5, 1), fc.constantFrom(tanhNet, reluNet), fc.constantFrom('adaptive-trapezoid' as const, 'gauss-legendre' as const), (x, b, net, rule) => {
        const r = integratedGradients(net, f32(x), f32(b), { rule });
        const delta = completenessDelta(sum(r.attributions), r.score, r.baselineScore);
        // The reported delta is the one recomputed here from the returned (float32) attributions, up to their
        // rounding: half an ulp each (2^-24 relative), over |f(x) − f(baseline)| or the floor that divides it.
        const rounding = (4 * 2 ** -24 * sum(Array.from(r.attributions, Math.abs))) / Math.max(Math.abs(r.score - r.baselineScore), DELTA_FLOOR);
        expect(Math.abs(delta - r.delta)).toBeLessThanOrEqual(rounding + 1e-6 * r.delta + 1e-9);
        if (r.converged) expect(r.delta).toBeLessThan(0.01);
        // The adaptive rule converges on ReLU kinks too; uniform rules may hit the cap there (then it is reported).
        if (net === tanhNet || rule === 'adaptive-trapezoid') expect(r.converged).toBe(true);
      }),
      { numRuns: 40 },
    );
  });

  it('a feature the model ignores gets zero attribution', () => {
    fc.assert(
      fc.property(vector(5), vector(5), (x, b) => {
        const r = integratedGradients(tanhNet, f32(x), f32(b));
        expect(Math.abs(r.attributions[2]!)).toBe(0);
      }),
      { numRuns: 20 },
    );
  });

  it('symmetry: two interchangeable features with equal values and baselines get equal attribution', () => {
    fc.assert(
      fc.property(vector(5), vector(5), (x, b) => {
        x[4] = x[3]!;
        b[4] = b[3]!;
        const r = integratedGradients(tanhNet, f32(x), f32(b));
        expect(r.attributions[4]).toBeCloseTo(r.attributions[3]!, 6);
      }),
      { numRuns: 20 },
    );
  });

  it('implementation invariance: a functionally identical network with rearranged and split units gives the same IG', () => {
    const other = differentiableFromLayers(mlp(rearranged(spec, [7, 2, 5, 0, 3, 6, 1, 4]), 'tanh'));
    fc.assert(
      fc.property(vector(5), vector(5), (x, b) => {
        const a = integratedGradients(tanhNet, f32(x), f32(b), { rule: 'gauss-legendre', schedule: [32] }).attributions;
        const c = integratedGradients(other, f32(x), f32(b), { rule: 'gauss-legendre', schedule: [32] }).attributions;
        a.forEach((v, i) => expect(c[i]).toBeCloseTo(v, 4));
      }),
      { numRuns: 15 },
    );
  });

  it('input gradients agree with central finite differences', () => {
    fc.assert(
      fc.property(vector(5, 2), (x) => {
        const h = 1e-2;
        const { gradients } = valuesAndGradients(tanhNet, f32(x), 1, 'logit');
        const rows = new Float32Array(10 * 5);
        for (let i = 0; i < 5; i++) {
          rows.set(x, 2 * i * 5);
          rows.set(x, (2 * i + 1) * 5);
          rows[2 * i * 5 + i]! += h;
          rows[(2 * i + 1) * 5 + i]! -= h;
        }
        const { values } = valuesAndGradients(tanhNet, rows, 10, 'logit');
        for (let i = 0; i < 5; i++) {
          // Float32 forward passes: the difference quotient carries ~1e-4 rounding error at this h.
          const numeric = (values[2 * i]! - values[2 * i + 1]!) / (Math.fround(x[i]! + h) - Math.fround(x[i]! - h));
          expect(Math.abs(numeric - gradients[i]!)).toBeLessThan(2e-3 + 2e-3 * Math.abs(gradients[i]!));
        }
      }),
      { numRuns: 20 },
    );
  });

  it('probability target: completeness holds on the probability itself', () => {
    fc.assert(
      fc.property(vector(5), vector(5, 1), (x, b) => {
        const r = integratedGradients(tanhNet, f32(x), f32(b), { target: 'probability', schedule: [16, 32, 64, 128] });
        expect(r.converged).toBe(true);
        expect(Math.abs(sum(r.attributions) - (r.score - r.baselineScore))).toBeLessThan(0.01 * Math.max(Math.abs(r.score - r.baselineScore), 1e-4) + 1e-6);
        expect(r.score).toBeGreaterThanOrEqual(0);
        expect(r.score).toBeLessThanOrEqual(1);
      }),
      { numRuns: 15 },
    );
  });

  it('one batched call equals the step-by-step loop', () => {
    fc.assert(
      fc.property(vector(5), vector(5), fc.constantFrom('gauss-legendre' as const, 'trapezoid' as const), (x, b, rule) => {
        const batched = integratedGradients(tanhNet, f32(x), f32(b), { rule, schedule: [12] });
        const stepwise = integratedGradientsStepwise(tanhNet, f32(x), f32(b), { rule, steps: 12 });
        expect(batched.gradientCalls).toBe(1);
        batched.attributions.forEach((v, i) => expect(stepwise[i]).toBeCloseTo(v, 5));
      }),
      { numRuns: 10 },
    );
  });

  it('trapezoid refinement reuses earlier nodes and matches a fresh computation at the final step count', () => {
    const x = f32([2, -1, 0.5, 1, 1]);
    const b = f32([0, 0, 0, 0, 0]);
    const refined = integratedGradients(tanhNet, x, b, { rule: 'trapezoid', schedule: [2, 4, 8], tolerance: 0 });
    const fresh = integratedGradients(tanhNet, x, b, { rule: 'trapezoid', schedule: [8], tolerance: 0 });
    expect(refined.steps).toBe(8);
    // 3 + 2 + 4 new nodes instead of 3 + 5 + 9.
    expect(refined.rows).toBe(9);
    refined.attributions.forEach((v, i) => expect(fresh.attributions[i]).toBeCloseTo(v, 5));
  });

  it('several inputs share one gradient call per level and each keeps its own result', () => {
    const xs = [f32([1, 2, 0, 1, 1]), f32([-2, 0.5, 1, 0, 0]), f32([0, 0, 0, 3, 3])];
    const b = new Float32Array(5);
    for (const rule of ['gauss-legendre', 'adaptive-trapezoid'] as const) {
      const together = integratedGradientsBatch(reluNet, xs.map((x) => ({ x, baseline: b })), { rule, schedule: [16] });
      const calls = together.map((r) => r.gradientCalls);
      xs.forEach((x, k) => {
        const alone = integratedGradients(reluNet, x, b, { rule, schedule: [16] });
        expect(together[k]!.steps).toBe(alone.steps);
        alone.attributions.forEach((v, i) => expect(together[k]!.attributions[i]).toBeCloseTo(v, 5));
      });
      // Shared calls: the whole batch took as many gradient calls as its slowest member needed alone.
      expect(Math.max(...calls)).toBeLessThanOrEqual(Math.max(...xs.map((x) => integratedGradients(reluNet, x, b, { rule, schedule: [16] }).gradientCalls)));
    }
  });

  it('adaptive trapezoid bisects where the error is and converges on ReLU kinks with few rows', () => {
    fc.assert(
      fc.property(vector(5), (x) => {
        const r = integratedGradients(reluNet, f32(x), new Float32Array(5), { rule: 'adaptive-trapezoid' });
        expect(r.converged).toBe(true);
        expect(r.rows).toBeLessThan(200);
      }),
      { numRuns: 30 },
    );
  });

  it('fixed Gauss–Legendre steps: a batch of inputs takes exactly one gradient call', () => {
    const xs = [f32([1, 2, 0, 1, 1]), f32([-2, 0.5, 1, 0, 0])];
    const b = new Float32Array(5);
    const together = integratedGradientsBatch(tanhNet, xs.map((x) => ({ x, baseline: b })), { rule: 'gauss-legendre', schedule: [16] });
    xs.forEach((x, k) => {
      const alone = integratedGradients(tanhNet, x, b, { rule: 'gauss-legendre', schedule: [16] });
      expect(together[k]!.gradientCalls).toBe(1);
      alone.attributions.forEach((v, i) => expect(together[k]!.attributions[i]).toBeCloseTo(v, 5));
    });
  });

  it('reports non-convergence when the schedule ends above tolerance', () => {
    const r = integratedGradients(reluNet, f32([3, -3, 0, 3, 3]), new Float32Array(5), { rule: 'trapezoid', schedule: [1], tolerance: 1e-9 });
    const capped = integratedGradients(reluNet, f32([3, -3, 0, 3, 3]), new Float32Array(5), { rule: 'adaptive-trapezoid', tolerance: 1e-12, maxCells: 5 * 40 });
    expect(capped.converged).toBe(false);
    expect(capped.rows * 5).toBeLessThanOrEqual(5 * 40);
    expect(r.steps).toBe(1);
    expect(r.converged).toBe(false);
    expect(r.delta).toBeGreaterThan(1e-9);
  });
});
