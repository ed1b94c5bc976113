/**
 * The rhythm network on the wasm back end: the Conv2D gradient override matches tfjs's own (cpu) gradients,
 * a tiny network trains for an epoch on a few records, whole-tracing probabilities are proper, and the
 * saliency over the signal satisfies completeness and maps back to samples and segments.
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from '@jest/globals';
import type * as tfTypes from '@tensorflow/tfjs';
import { getTf, initBackend } from '../../src/models/backend/index.js';
import { parseEcgRecords } from '../../src/models/ecg/data.js';
import { explainTracing, segmentsOf, smoothed } from '../../src/models/ecg/explain.js';
import { buildEcgNetwork } from '../../src/models/ecg/network.js';
import { predictTracings, trainEcgLoop } from '../../src/models/ecg/train.js';
import { installFastConvGradients } from '../../src/models/ecg/wasm-conv-grad.js';
import { defaultEcgSpec, toModelRate } from '../../src/models/ecg/windows.js';

const spec = { ...defaultEcgSpec(150, 4), minSeconds: 4 };

beforeAll(async () => {
  await initBackend({ force: 'wasm' });
  installFastConvGradients();
});

function gradients(backend: string, x: tfTypes.Tensor3D, f: tfTypes.Tensor3D, stride: number): { dx: number[]; df: number[] } {
  const tf = getTf();
  const previous = tf.getBackend();
  void tf.setBackend(backend);
  const g = tf.grads((a: tfTypes.Tensor, b: tfTypes.Tensor) => tf.conv1d(a as tfTypes.Tensor3D, b as tfTypes.Tensor3D, stride, 'same').square().sum());
  const [dx, df] = g([x, f]);
  const out = { dx: Array.from(dx!.dataSync()), df: Array.from(df!.dataSync()) };
  void tf.setBackend(previous);
  return out;
}

describe('Conv2D gradient override on wasm', () => {
  it.each([
    ['stride 1, width 7', 1, 7, 3, 5],
    ['stride 2, width 15', 2, 15, 1, 4],
    ['stride 1, width 1', 1, 1, 4, 6],
  ])('matches the cpu back end (%s)', (_name, stride, width, ci, co) => {
    const tf = getTf();
    const x = tf.randomNormal([2, 40, ci], 0, 1, 'float32', 3) as tfTypes.Tensor3D;
    const f = tf.randomNormal([width, ci, co], 0, 1, 'float32', 4) as tfTypes.Tensor3D;
    const xv = x.arraySync();
    const fv = f.arraySync();
    const wasm = gradients('wasm', tf.tensor3d(xv), tf.tensor3d(fv), stride);
    const cpu = gradients('cpu', tf.tensor3d(xv), tf.tensor3d(fv), stride);
    expect(tf.getBackend()).toBe('wasm');
    wasm.dx.forEach((v, i) => expect(v).toBeCloseTo(cpu.dx[i]!, 2));
    wasm.df.forEach((v, i) => expect(v).toBeCloseTo(cpu.df[i]!, 2));
  });
});

describe('tiny network on a slice of the records', () => {
  const lines = readFileSync('data/raw/ecg-cinc2017/records.jsonl', 'utf8').split('\n').filter(Boolean);
  const records = parseEcgRecords([lines[0], lines[2], lines[5], lines[8], lines[11], lines[12]].join('\n')).map((r) => ({ ...r, fs: spec.rateHz, samples: toModelRate(r.samples.subarray(0, 300 * 12), r.fs, spec) }));

  it('trains one epoch, keeps the best weights and scores tracings as probability rows', async () => {
    const network = buildEcgNetwork({ windowSamples: spec.windowSamples, filters: [4, 4, 8], seed: 1 });
    const before = network.getWeights().map((w) => Array.from(w.dataSync()));
    const events: number[] = [];
    const result = await trainEcgLoop({ network, spec, train: records, validation: records.slice(0, 3), seed: 1, epochs: 1, patience: 1, learningRate: 0.01, batchSize: 8, windowsPerRecord: 2, onProgress: (e) => events.push(e.batch) });
    expect(result.history).toHaveLength(1);
    expect(result.bestEpoch).toBe(1);
    expect(events.length).toBeGreaterThan(1);
    const after = network.getWeights().map((w) => Array.from(w.dataSync()));
    expect(after.some((w, i) => w.some((v, j) => v !== before[i]![j]))).toBe(true);
    const probs = predictTracings(network, spec, records.map((r) => r.samples));
    expect(probs).toHaveLength(records.length);
    probs.forEach((p) => expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4));
  });
});

describe('saliency over the signal', () => {
  const signal = Float32Array.from({ length: 150 * 10 }, (_, i) => Math.sin(i / 9) + 0.8 * Math.exp(-((((i % 120) - 60) / 3) ** 2)));

  it('maps every method to one value per sample; integrated gradients are complete; segments rank the whole tracing', () => {
    const network = buildEcgNetwork({ windowSamples: spec.windowSamples, filters: [4, 4, 8], seed: 2 });
    const e = explainTracing(network, spec, signal, { classIndex: 1, schedule: [16, 32, 64, 128], tolerance: 0.02, smoothGradSamples: 4 });
    expect(e.tracks.map((t) => t.method)).toEqual(['ig-flat', 'ig-smoothed', 'smoothgrad', 'occlusion']);
    for (const t of e.tracks) {
      expect(t.values).toHaveLength(signal.length);
      expect(t.values.every(Number.isFinite)).toBe(true);
    }
    for (const t of e.tracks.filter((t) => t.method.startsWith('ig'))) {
      const sum = t.values.reduce((a, b) => a + b, 0);
      expect(t.converged).toBe(true);
      expect(Math.abs(sum - (e.score - t.baselineScore!))).toBeLessThanOrEqual(0.02 * Math.max(1e-4, Math.abs(e.score - t.baselineScore!)) + 1e-4);
    }
    expect(e.segments).toHaveLength(10);
    expect(e.segments.map((s) => s.score)).toEqual([...e.segments.map((s) => s.score)].sort((a, b) => b - a));
    expect(Object.keys(e.segments[0]!.ranks).sort()).toEqual(['ig-flat', 'ig-smoothed', 'occlusion', 'smoothgrad']);
    const total = e.consensus.reduce((a, b) => a + Math.abs(b), 0);
    expect(total).toBeGreaterThan(0);
    expect(total).toBeLessThanOrEqual(1 + 1e-4);
  });

  it('segmentsOf sums samples into fixed segments and ranks them per method', () => {
    const values = Float32Array.from([1, 1, 5, 5, -2, -2]);
    const segments = segmentsOf(values, [{ method: 'occlusion', baseline: '', values }], 2, 1);
    expect(segments.map((s) => [s.from, s.to, s.score, s.ranks.occlusion])).toEqual([[1, 2, 10, 1], [0, 1, 2, 2], [2, 3, -4, 3]]);
  });

  it('smoothed() is a centred moving average', () => {
    expect(Array.from(smoothed([0, 3, 6, 9], 3))).toEqual([1.5, 3, 6, 7.5]);
  });
});
