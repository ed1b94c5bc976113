/**
 * NoiseTunnel determinism, and occlusion as a model-agnostic cross-check of integrated gradients.
 */
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { initBackend } from '../../src/models/backend/index.js';
import { differentiableFromLayers } from '../../src/explain/differentiable.js';
import { integratedGradients } from '../../src/explain/integrated-gradients.js';
import { gaussianNoise, noiseTunnel } from '../../src/explain/noise-tunnel.js';
import { occlusion } from '../../src/explain/occlusion.js';
import { foldToFeatures } from '../../src/explain/aggregate.js';
import { buildLayout } from '../../src/explain/layout.js';
import { linearSeriesModel, logisticModel, mlp, randomMlp, weights } from './models.js';

await initBackend();

const f32 = (v: number[]) => Float32Array.from(v);
const vector = (n: number) => fc.array(fc.float({ min: -3, max: 3, noNaN: true, noDefaultInfinity: true }), { minLength: n, maxLength: n });

describe('NoiseTunnel', () => {
  const net = differentiableFromLayers(mlp(randomMlp(9, 4, 6), 'tanh'));
  const x = f32([1, -0.5, 2, 0.3]);

  it('is deterministic for a fixed seed, for every method and type', () => {
    for (const method of ['integrated-gradients', 'gradient', 'gradient-x-input'] as const) {
      for (const type of ['smoothgrad', 'smoothgrad-sq', 'vargrad'] as const) {
        const a = noiseTunnel(net, x, { method, type, seed: 42, samples: 6, stdev: 0.3 });
        const b = noiseTunnel(net, x, { method, type, seed: 42, samples: 6, stdev: 0.3 });
        expect(Array.from(b.attributions)).toEqual(Array.from(a.attributions));
      }
    }
  });

  it('different seeds give different noise; the noise is standard normal', () => {
    const a = noiseTunnel(net, x, { method: 'gradient', seed: 1, samples: 4, stdev: 0.5 }).attributions;
    const b = noiseTunnel(net, x, { method: 'gradient', seed: 2, samples: 4, stdev: 0.5 }).attributions;
    expect(Array.from(a)).not.toEqual(Array.from(b));
    const z = gaussianNoise(7, 20000);
    const mean = z.reduce((s, v) => s + v, 0) / z.length;
    const sd = Math.sqrt(z.reduce((s, v) => s + (v - mean) ** 2, 0) / z.length);
    expect(Math.abs(mean)).toBeLessThan(0.03);
    expect(sd).toBeCloseTo(1, 1);
  });

  it('on a linear model SmoothGrad of the gradient is the weight vector, VarGrad zero; scale 0 leaves cells noiseless', () => {
    const w = weights(3, 4, 2);
    const linear = differentiableFromLayers(logisticModel(w, 0));
    const smooth = noiseTunnel(linear, x, { method: 'gradient', seed: 5, samples: 8, stdev: 1 }).attributions;
    smooth.forEach((g, i) => expect(g).toBeCloseTo(w[i]!, 4));
    const vargrad = noiseTunnel(linear, x, { method: 'gradient', type: 'vargrad', seed: 5, samples: 8, stdev: 1 }).attributions;
    vargrad.forEach((v) => expect(Math.abs(v)).toBeLessThan(1e-5));
    const ig = noiseTunnel(linear, x, { method: 'integrated-gradients', seed: 5, samples: 3, stdev: 1, scale: new Float32Array(4) });
    ig.attributions.forEach((a, i) => expect(a).toBeCloseTo(Math.fround(x[i]!) * Math.fround(w[i]!), 4));
  });
});

describe('occlusion', () => {
  const steps = 6;
  const channels = 3;
  const w = weights(21, steps * channels, 1);
  const series = differentiableFromLayers(linearSeriesModel(steps, channels, w, -0.2));

  it('on a linear model, each one-cell occlusion equals the IG attribution of that cell', () => {
    fc.assert(
      fc.property(vector(steps * channels), (x) => {
        const baseline = new Float32Array(steps * channels);
        const groups = [0, 1, 2];
        const occ = occlusion(series, f32(x), { baseline, windowSteps: 1, groups });
        const ig = integratedGradients(series, f32(x), baseline).attributions;
        occ.attributions.forEach((a, i) => expect(a).toBeCloseTo(ig[i]!, 3));
      }),
      { numRuns: 15 },
    );
  });

  it('agrees in sign with IG per feature × window on a linear model', () => {
    const layout = buildLayout({ input: { encoding: 'physionet-window-v1', fields: [] } }, ['A', 'A:measured', 'B'], [steps, channels]);
    fc.assert(
      fc.property(vector(steps * channels), vector(steps * channels), (x, b) => {
        const occ = occlusion(series, f32(x), { baseline: f32(b), windowSteps: 2, groups: layout.channelFeature });
        const folded = foldToFeatures(integratedGradients(series, f32(x), f32(b)).attributions, layout);
        for (const o of occ.occlusions) {
          let ig = 0;
          for (let t = o.from; t < o.to; t++) ig += folded.cells[t * folded.features + o.group]!;
          // Linear: both are exactly the window's (x − b)·w; the sign must agree wherever it is not ~0.
          if (Math.abs(ig) > 1e-3) expect(Math.sign(o.delta)).toBe(Math.sign(ig));
          expect(o.delta).toBeCloseTo(ig, 3);
        }
      }),
      { numRuns: 15 },
    );
  });

  it('on a tabular model occludes each group once; windows cover the whole series', () => {
    const tab = differentiableFromLayers(logisticModel([1, 2, 3], 0));
    const r = occlusion(tab, f32([1, 1, 1]), { baseline: new Float32Array(3), groups: [0, 0, 1] });
    expect(r.occlusions.map((o) => [o.group, o.delta.toFixed(3)])).toEqual([[0, '3.000'], [1, '3.000']]);
    const s = occlusion(series, new Float32Array(steps * channels).fill(1), { baseline: new Float32Array(steps * channels), windowSteps: 4 });
    expect(s.occlusions.map((o) => [o.from, o.to])).toEqual([[0, 4], [4, 6]]);
  });
});
