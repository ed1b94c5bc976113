/**
 * The rhythm network on the wasm back end: the Conv2D gradient override matches tfjs's own (cpu) gradients,
 * a tiny network trains for an epoch on a few records, whole-tracing probabilities are proper, and the
 * saliency over the signal satisfies completeness and maps back to samples and segments.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from '@jest/globals';
import type * as tfTypes from '@tensorflow/tfjs';
import { getTf, initBackend } from '../../src/models/backend/index.js';
import { parseEcgRecords } from '../../src/models/ecg/data.js';
import { explainTracing, segmentsOf, smoothed, tracingDifferentiable } from '../../src/models/ecg/explain.js';
import { RHYTHM_FEATURES } from '../../src/models/ecg/rpeaks.js';
import { fileHandler } from '../../src/models/io.js';
import { buildEcgNetwork } from '../../src/models/ecg/network.js';
import { predictTracings, trainEcgLoop } from '../../src/models/ecg/train.js';
import { installFastConvGradients } from '../../src/models/ecg/wasm-conv-grad.js';
import { defaultEcgSpec, encodeTracing, rowWidth, toModelRate, type EcgEncodingSpec } from '../../src/models/ecg/windows.js';

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

describe('hybrid network (CNN embedding + rhythm features)', () => {
  const F = RHYTHM_FEATURES.length;
  const hybridSpec: EcgEncodingSpec = { ...spec, rhythm: { features: [...RHYTHM_FEATURES], means: [75, 0.1, 0.1, 0.2, 1, 0.2, 0.05], sds: [15, 0.1, 0.1, 0.3, 0.5, 0.3, 0.1], clip: 5 } };
  // Irregular beats over a wandering baseline, 10 s at 150 Hz: the rhythm cells are far from 0 (the training mean).
  const beats: number[] = [];
  for (let t = 0.3, k = 0; t < 9.7; t += 0.45 + 0.5 * Math.abs(Math.sin(k++ * 1.7))) beats.push(t);
  const signal = Float32Array.from({ length: 1500 }, (_, i) => 0.2 * Math.sin(i / 40) + beats.reduce((v, b) => v + 1.1 * Math.exp(-(((i / 150 - b) / 0.012) ** 2)), 0));
  // A larger init scale of the head is not needed: a fixed seed gives a network whose logits move with the features.
  const network = () => buildEcgNetwork({ windowSamples: spec.windowSamples, filters: [4, 4, 8], seed: 5, rhythmFeatures: F });

  it('takes rows of samples + features; the features move the output; save/load round-trips exactly', async () => {
    const net = network();
    expect(net.inputs[0]!.shape).toEqual([null, rowWidth(hybridSpec), 1]);
    const p = predictTracings(net, hybridSpec, [signal])[0]!;
    expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    const other = predictTracings(net, { ...hybridSpec, rhythm: { ...hybridSpec.rhythm!, means: hybridSpec.rhythm!.means.map((m, j) => m + 3 * hybridSpec.rhythm!.sds[j]!) } }, [signal])[0]!;
    expect(Math.max(...Array.from(p, (v, k) => Math.abs(v - other[k]!)))).toBeGreaterThan(1e-3);
    const dir = mkdtempSync(path.join(tmpdir(), 'ecg-hybrid-'));
    try {
      await net.save(fileHandler(dir));
      const loaded = await getTf().loadLayersModel(fileHandler(dir));
      const q = predictTracings(loaded, hybridSpec, [signal])[0]!;
      Array.from(p).forEach((v, k) => expect(q[k]).toBeCloseTo(v, 6));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('trains deterministically for a seed, with jittered rhythm cells', async () => {
    const lines = readFileSync('data/raw/ecg-cinc2017/records.jsonl', 'utf8').split('\n').filter(Boolean);
    const records = parseEcgRecords([lines[0], lines[2], lines[5], lines[8]].join('\n')).map((r) => ({ ...r, fs: spec.rateHz, samples: toModelRate(r.samples.subarray(0, 300 * 12), r.fs, spec) }));
    const run = async () => {
      const net = network();
      await trainEcgLoop({ network: net, spec: hybridSpec, train: records, validation: records.slice(0, 2), seed: 3, epochs: 1, patience: 1, learningRate: 0.01, batchSize: 4, windowsPerRecord: 2, rhythmNoise: 0.1 });
      return net.getWeights().map((w) => Array.from(w.dataSync()));
    };
    const [a, b] = [await run(), await run()];
    expect(b).toEqual(a);
  });

  it('integrated gradients over signal + rhythm features are complete; the rhythm factor and the held-feature methods line up', () => {
    const net = network();
    const e = explainTracing(net, hybridSpec, signal, { classIndex: 1, schedule: [16, 32, 64, 128], tolerance: 0.02, smoothGradSamples: 4 });
    expect(e.tracks.map((t) => t.method)).toEqual(['ig-flat', 'ig-smoothed', 'smoothgrad', 'occlusion']);
    for (const t of e.tracks) expect(t.values).toHaveLength(signal.length);
    for (const t of e.tracks.filter((t) => t.method.startsWith('ig'))) {
      expect(t.rhythm).toHaveLength(F);
      const total = t.values.reduce((a, b) => a + b, 0) + t.rhythm!.reduce((a, b) => a + b, 0);
      const difference = e.score - t.baselineScore!;
      expect(t.converged).toBe(true);
      expect(Math.abs(total - difference)).toBeLessThanOrEqual(0.02 * Math.max(1e-4, Math.abs(difference)) + 1e-4);
    }
    const ig = e.tracks[0]!;
    const factor = e.rhythm!;
    expect(factor.features.map((f) => f.name)).toEqual([...RHYTHM_FEATURES]);
    expect(factor.attribution).toBeCloseTo(ig.rhythm!.reduce((a, b) => a + b, 0), 6);
    expect(factor.signalAttribution).toBeCloseTo(ig.values.reduce((a, b) => a + b, 0), 4);
    expect(factor.share).toBeCloseTo(factor.attribution / (factor.attribution + factor.signalAttribution), 6);
    expect(Math.abs(factor.attribution)).toBeGreaterThan(1e-4);
    const encoded = encodeTracing(signal, hybridSpec);
    expect(factor.features.map((f) => f.value)).toEqual(encoded.rhythm!.raw);
    // Holding the features at the tracing's values scores the same tracing identically to the joint input.
    const tf = getTf();
    const n = encoded.starts.length;
    const W = spec.windowSamples;
    const signalCells = new Float32Array(n * W);
    for (let k = 0; k < n; k++) signalCells.set(encoded.windows.subarray(k * (W + F), k * (W + F) + W), k * W);
    const joint = tf.tidy(() => tracingDifferentiable(net, hybridSpec, n, 1).score(tf.tensor3d(encoded.windows, [1, n * (W + F), 1]), 'logit').dataSync()[0]!);
    const held = tf.tidy(() => tracingDifferentiable(net, hybridSpec, n, 1, encoded.rhythm!.cells).score(tf.tensor3d(signalCells, [1, n * W, 1]), 'logit').dataSync()[0]!);
    expect(held).toBeCloseTo(joint, 5);
    expect(joint).toBeCloseTo(e.score, 5);
  });

  it('is deterministic: the same tracing gives the same explanation', () => {
    const net = network();
    const options = { classIndex: 0, schedule: [16, 32], tolerance: 0.05, smoothGradSamples: 2, methods: ['ig-flat', 'smoothgrad'] as const };
    const a = explainTracing(net, hybridSpec, signal, options);
    const b = explainTracing(net, hybridSpec, signal, options);
    expect(b.score).toBe(a.score);
    a.tracks.forEach((t, i) => expect(Array.from(b.tracks[i]!.values)).toEqual(Array.from(t.values)));
    expect(b.rhythm!.features.map((f) => f.attribution)).toEqual(a.rhythm!.features.map((f) => f.attribution));
    expect(b.segments).toEqual(a.segments);
  });
});
