import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { initBackend } from '../../src/models/backend/index.js';
import { MEASUREMENTS, isSepsisPatient, parsePhysionetCsv, type Stay } from '../../src/models/data/physionet.js';
import { fitDeterioration, trainDeterioration, type DeteriorationTrained } from '../../src/models/deterioration/pipeline.js';
import { explainableFromRegistered, explainPrediction } from '../../src/explain/index.js';
import { deteriorationCard, deteriorationManifest } from '../../src/models/deterioration/card.js';
import { news2FromWindow } from '../../src/models/deterioration/news2-baseline.js';
import { writeModelBundle } from '../../src/models/artifacts.js';
import { ModelRegistry } from '../../src/models/registry.js';
import { evaluatePhysionet } from '../../src/models/evaluate.js';
import type { DeteriorationInput } from '../../src/models/types.js';
import { UnprocessableEntityError } from '../../src/errors.js';

const CSV = 'data/raw/physionet-sepsis-2019/sepsis2019_setB_dev_2000.csv';

/** A tiny slice: the first 16 septic and 24 non-septic stays of the committed file. */
function slice(): Map<string, Stay> {
  const all = parsePhysionetCsv(readFileSync(CSV, 'utf8'));
  const septic = [...all.values()].filter(isSepsisPatient).slice(0, 16);
  const other = [...all.values()].filter((s) => !isSepsisPatient(s)).slice(0, 24);
  return new Map([...septic, ...other].map((s) => [s.id, s]));
}

describe('deterioration pipeline on a tiny slice', () => {
  let dir: string;
  let stays: Map<string, Stay>;
  let trained: DeteriorationTrained;
  let registry: ModelRegistry;

  beforeAll(async () => {
    await initBackend();
    dir = mkdtempSync(path.join(tmpdir(), 'vigil-det-'));
    stays = slice();
    trained = await trainDeterioration(stays, { seed: 5, epochs: 1, patience: 1, negativesPerPatient: 3, bootstrapReplicates: 10, architecture: 'gru' });
    const now = new Date().toISOString();
    await writeModelBundle(path.join(dir, 'deterioration'), {
      manifest: deteriorationManifest(trained.metrics, trained.preprocess.windowHours, '0.0.1', now),
      model: trained.model,
      preprocess: trained.preprocess,
      baseline: trained.baseline,
      split: trained.split,
      metrics: trained.metrics,
      card: deteriorationCard(trained.metrics, '0.0.1', now),
    });
    registry = await ModelRegistry.open({ dir, maxBatch: 16, maxWaitMs: 1 });
  }, 120_000);
  afterAll(async () => {
    await registry.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('splits by patient and reports the network, logistic regression and NEWS2 on the same test hours', () => {
    const m = trained.metrics;
    const test = new Set(trained.split.test);
    expect(trained.split.train.some((id) => test.has(id))).toBe(false);
    expect(m.split.sepsisPatients.test).toBeGreaterThan(0);
    for (const r of [m.test.network, m.test.baseline, m.test.news2]) expect(r.overall.n).toBe(m.split.testHours);
    expect(m.target.met).toBe(m.test.network.overall.auroc.estimate >= 0.8);
    expect(m.quantized.weightBytes * 4).toBe(m.quantized.float32WeightBytes);
  });

  it('the manifest maps every input column to LOINC and UCUM', () => {
    const fields = registry.get('deterioration').manifest.input.fields;
    const measured = fields.filter((f) => (MEASUREMENTS as readonly string[]).includes(f.name));
    expect(measured).toHaveLength(34);
    expect(measured.every((f) => f.system === 'http://loinc.org' && f.code && f.unit)).toBe(true);
    expect(fields.find((f) => f.name === 'HR')).toMatchObject({ code: '8867-4', unit: '/min' });
  });

  it('predicts through the registry for a short window, and refuses windows without vital signs', async () => {
    const model = registry.get<DeteriorationInput>('deterioration');
    const stay = stays.values().next().value!;
    const p = await model.predict({ rows: stay.hours.slice(0, 3), age: stay.age, sex: stay.sex });
    expect(p.probability).toBeGreaterThan(0);
    expect(p.probability).toBeLessThan(1);
    const empty = [Float32Array.from(MEASUREMENTS, () => NaN)];
    expect(() => model.encode({ rows: empty, age: 60, sex: 1 })).toThrow(UnprocessableEntityError);
    expect(() => model.encode({ rows: [new Float32Array(3)], age: 60, sex: 1 })).toThrow(/34 values/);
  });

  it('evaluates a folder of .psv files in the published layout', () => {
    const psvDir = path.join(dir, 'psv');
    mkdirSync(psvDir);
    const header = [...MEASUREMENTS, 'Age', 'Gender', 'Unit1', 'Unit2', 'HospAdmTime', 'ICULOS', 'SepsisLabel'].join('|');
    for (const id of trained.split.test.slice(0, 12)) {
      const s = stays.get(id)!;
      const lines = s.hours.map((h, t) => [...Array.from(h, (v) => (Number.isNaN(v) ? 'NaN' : String(v))), s.age, s.sex, 'NaN', 'NaN', '0', t + 1, s.labels[t]].join('|'));
      writeFileSync(path.join(psvDir, `${id}.psv`), [header, ...lines].join('\n'));
    }
    const result = evaluatePhysionet(registry.get<DeteriorationInput>('deterioration'), psvDir, { replicates: 10 });
    const hours = trained.split.test.slice(0, 12).reduce((n, id) => n + stays.get(id)!.hours.length, 0);
    expect(result.scored + result.refused).toBe(hours);
    expect(result.report.overall.n).toBe(result.scored);
  });

  it('NEWS2 comparator scores from the last value in the window', () => {
    const row = (hr: number, resp: number, fio2: number) =>
      Float32Array.from(MEASUREMENTS, (m) => (m === 'HR' ? hr : m === 'Resp' ? resp : m === 'FiO2' ? fio2 : NaN));
    // HR 135 → 3, RR 26 → 3, FiO2 0.5 → oxygen 2; carried forward from earlier hours.
    expect(news2FromWindow([row(135, 26, 0.5), row(NaN, NaN, NaN)])).toBe(8);
    expect(news2FromWindow([row(70, 16, NaN)])).toBe(0);
  });
});

describe('deterioration TCN architecture on a tiny slice', () => {
  let dir: string;
  let stays: Map<string, Stay>;
  let registry: ModelRegistry;
  let trained: DeteriorationTrained;

  beforeAll(async () => {
    await initBackend();
    dir = mkdtempSync(path.join(tmpdir(), 'vigil-det-tcn-'));
    stays = slice();
    trained = await trainDeterioration(stays, { seed: 5, epochs: 1, patience: 1, negativesPerPatient: 3, bootstrapReplicates: 10, architecture: 'tcn', tcn: { activation: 'tanh' } });
    const now = new Date().toISOString();
    await writeModelBundle(path.join(dir, 'deterioration'), {
      manifest: deteriorationManifest(trained.metrics, trained.preprocess.windowHours, '0.0.1', now),
      model: trained.model,
      preprocess: trained.preprocess,
      baseline: trained.baseline,
      split: trained.split,
      metrics: trained.metrics,
      card: deteriorationCard(trained.metrics, '0.0.1', now),
    });
    registry = await ModelRegistry.open({ dir, maxBatch: 16, maxWaitMs: 1 });
  }, 120_000);
  afterAll(async () => {
    await registry.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('records the architecture and describes it on the card and manifest', () => {
    const h = trained.metrics.hyperparameters;
    expect(h).toMatchObject({ architecture: 'tcn', units: 32, tcn: { filters: 32, kernel: 3, blocks: 2, residual: false, activation: 'tanh' } });
    expect(h.parameters).toBe(trained.model.countParams());
    expect(trained.model.layers.filter((l) => l.getClassName() === 'Conv1D')).toHaveLength(2);
    expect(trained.model.layers.some((l) => l.getClassName() === 'GRU')).toBe(false);
    const card = deteriorationCard(trained.metrics, '0.0.1', new Date().toISOString());
    expect(card.summary).toMatch(/^A temporal convolution network .*2 × convolution width 3/);
    expect(card.metricsTable[0]!.model).toBe('TCN (shipped)');
    expect(registry.get('deterioration').manifest.title).toContain('TCN');
  });

  it('loads through the registry like the GRU: scores, and its logit is differentiable for explanations', async () => {
    const model = registry.get<DeteriorationInput>('deterioration');
    const stay = stays.values().next().value!;
    const p = await model.predict({ rows: stay.hours.slice(0, 6), age: stay.age, sex: stay.sex });
    expect(p.probability).toBeGreaterThan(0);
    expect(p.probability).toBeLessThan(1);
    const explainable = explainableFromRegistered(model);
    const prepared = explainable.prepare({ rows: stay.hours.slice(0, 6), age: stay.age, sex: stay.sex });
    const record = explainPrediction(explainable, prepared);
    expect(record.integration!.converged).toBe(true);
    expect(record.prediction.probability).toBeCloseTo(p.probability, 5);
  });

  it('fitDeterioration scores no test patient (what `--trial` runs)', async () => {
    const fit = await fitDeterioration(stays, { seed: 5, epochs: 1, patience: 1, negativesPerPatient: 3, architecture: 'tcn' });
    expect(fit.metrics).not.toHaveProperty('test');
    expect(fit.metrics).not.toHaveProperty('fingerprint');
    expect(fit.metrics.validation.networkAuroc).toBeGreaterThan(0);
    expect(fit.test.map((s) => s.id).sort()).toEqual([...fit.split.test].sort());
    fit.model.dispose();
  }, 60_000);
});
