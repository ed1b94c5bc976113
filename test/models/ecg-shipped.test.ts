/**
 * The committed ecg-rhythm files are the ones its committed metrics describe: the test records'
 * probabilities fingerprinted in metrics.json are reproduced from model.json + weights.bin through the
 * registry, and the quantised copy is the advertised size and makes the same calls.
 */
import { readFileSync, statSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { initBackend } from '../../src/models/backend/index.js';
import { loadModelFolder, type RegisteredModel } from '../../src/models/registry.js';
import { ECG_CLASSES } from '../../src/models/ecg/classes.js';
import { classifyTracing, ecgSpecOf } from '../../src/models/ecg/classify.js';
import { encodeTracing, toModelRate } from '../../src/models/ecg/windows.js';
import { readEcgRecords } from '../../src/models/ecg/data.js';
import type { EcgInput } from '../../src/models/ecg/encoding.js';

interface Metrics {
  fingerprint: Array<{ record: string; probabilities: number[] }>;
  quantized: { weightBytes: number; agreement: number };
  test: { cnn: { n: number; aurocAfVsNormal: { estimate: number } } };
  hyperparameters: { architecture?: string; rhythmFeatures?: string[] };
  target: { afVsNormalAuroc: number; met: boolean };
  history?: Array<{ label: string; test?: { afVsNormalAuroc: number } }>;
}

describe('shipped ecg-rhythm model', () => {
  const metrics = JSON.parse(readFileSync('models/ecg-rhythm/metrics.json', 'utf8')) as Metrics;
  const records = new Map(readEcgRecords('data/raw/ecg-cinc2017/records.jsonl').map((r) => [r.id, r]));
  let model: RegisteredModel<EcgInput>;
  let quantized: RegisteredModel<EcgInput>;

  beforeAll(async () => {
    await initBackend({ force: 'wasm' });
    model = (await loadModelFolder('models/ecg-rhythm', { maxBatch: 1, maxWaitMs: 0 })) as unknown as RegisteredModel<EcgInput>;
    quantized = (await loadModelFolder('models/ecg-rhythm', { maxBatch: 1, maxWaitMs: 0, quantized: true })) as unknown as RegisteredModel<EcgInput>;
  });
  afterAll(() => {
    model.network.dispose();
    quantized.network.dispose();
  });

  /** Mean window probabilities of a model-rate signal, as classifyTracing computes them. */
  function probabilities(m: RegisteredModel<EcgInput>, signal: Float32Array): number[] {
    const spec = ecgSpecOf(m);
    const { windows, starts } = encodeTracing(signal, spec);
    const out = m.forward(windows, starts.length);
    return ECG_CLASSES.map((_, k) => starts.reduce((s, _w, w) => s + out[w * ECG_CLASSES.length + k]!, 0) / starts.length);
  }

  it('reproduces the fingerprinted test-record probabilities; the quantised copy is the reported size and makes the reported calls', () => {
    expect(metrics.fingerprint.length).toBe(metrics.test.cnn.n);
    let same = 0;
    for (const f of metrics.fingerprint) {
      const r = records.get(f.record)!;
      // Resampled once and shared: loops run far slower under jest's module VM than in production.
      const signal = toModelRate(r.samples, r.fs, ecgSpecOf(model));
      const p = probabilities(model, signal);
      p.forEach((v, k) => expect(v).toBeCloseTo(f.probabilities[k]!, 4));
      const q = probabilities(quantized, signal);
      if (p.indexOf(Math.max(...p)) === q.indexOf(Math.max(...q))) same++;
    }
    expect(same / metrics.fingerprint.length).toBeCloseTo(metrics.quantized.agreement, 6);
    expect(statSync('models/ecg-rhythm/quantized/weights.bin').size).toBe(metrics.quantized.weightBytes);
    expect(statSync('models/ecg-rhythm/weights.bin').size).toBe(metrics.quantized.weightBytes * 4);
  });

  it('is the hybrid: the RR-feature statistics it was trained with travel in preprocess.json; the card discloses the earlier test-scored configurations', () => {
    const spec = ecgSpecOf(model);
    expect(metrics.hyperparameters.architecture).toBe('hybrid');
    expect(spec.rhythm!.features).toEqual(metrics.hyperparameters.rhythmFeatures);
    expect(spec.rhythm!.sds.every((v) => v > 0)).toBe(true);
    expect(model.inputShape).toEqual([spec.windowSamples + spec.rhythm!.features.length, 1]);
    expect(metrics.target.met).toBe(metrics.test.cnn.aurocAfVsNormal.estimate >= metrics.target.afVsNormalAuroc);
    const card = readFileSync('docs/models/ecg-rhythm.md', 'utf8');
    for (const entry of metrics.history ?? []) {
      expect(card).toContain(entry.label);
      if (entry.test) expect(card).toContain(`AF-vs-normal AUROC ${entry.test.afVsNormalAuroc.toFixed(3)}`);
    }
    expect(card).toContain(metrics.target.met ? 'AF-vs-normal AUROC ≥ 0.95: met' : 'AF-vs-normal AUROC ≥ 0.95: not met');
  });

  it('classifies a whole record through the quality checks like the service', () => {
    const f = metrics.fingerprint[0]!;
    const r = records.get(f.record)!;
    const outcome = classifyTracing(model, { samples: r.samples, rateHz: r.fs });
    expect(outcome.ok).toBe(true);
    if (outcome.ok) ECG_CLASSES.forEach((c, k) => expect(outcome.classification.probabilities[c]).toBeCloseTo(f.probabilities[k]!, 4));
  });
});
