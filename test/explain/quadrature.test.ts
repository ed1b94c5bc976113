import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { gaussLegendre, trapezoid } from '../../src/explain/quadrature.js';

const integrate = (rule: { nodes: Float64Array; weights: Float64Array }, f: (a: number) => number) =>
  Array.from(rule.nodes).reduce((s, a, k) => s + rule.weights[k]! * f(a), 0);

describe('quadrature on [0, 1]', () => {
  it('Gauss–Legendre with n nodes integrates every polynomial of degree ≤ 2n − 1 exactly', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 24 }), fc.array(fc.double({ min: -5, max: 5, noNaN: true }), { minLength: 1, maxLength: 48 }), (n, coefficients) => {
        const c = coefficients.slice(0, 2 * n);
        const exact = c.reduce((s, ck, k) => s + ck / (k + 1), 0);
        const approx = integrate(gaussLegendre(n), (a) => c.reduce((s, ck, k) => s + ck * a ** k, 0));
        expect(Math.abs(approx - exact)).toBeLessThan(1e-9 * (1 + c.reduce((s, v) => s + Math.abs(v), 0)));
      }),
    );
  });

  it('nodes lie strictly inside (0, 1), ascending, weights positive and summing to 1', () => {
    for (const n of [1, 2, 3, 8, 16, 64, 128]) {
      const { nodes, weights } = gaussLegendre(n);
      expect(nodes[0]).toBeGreaterThan(0);
      expect(nodes[n - 1]).toBeLessThan(1);
      for (let k = 1; k < n; k++) expect(nodes[k]).toBeGreaterThan(nodes[k - 1]!);
      expect(Math.min(...weights)).toBeGreaterThan(0);
      expect(weights.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    }
  });

  it('trapezoid is exact for linear functions and has O(1/m²) error on smooth ones', () => {
    expect(integrate(trapezoid(3), (a) => 2 * a + 1)).toBeCloseTo(2, 12);
    const e8 = Math.abs(integrate(trapezoid(8), Math.exp) - (Math.E - 1));
    const e16 = Math.abs(integrate(trapezoid(16), Math.exp) - (Math.E - 1));
    expect(e8 / e16).toBeCloseTo(4, 1);
  });

  it('refuses non-positive step counts', () => {
    expect(() => gaussLegendre(0)).toThrow(RangeError);
    expect(() => trapezoid(0)).toThrow(RangeError);
  });
});
