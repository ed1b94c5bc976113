/**
 * Issue 7: "explainers are model-agnostic over the model registry's interface (a new model needs no new
 * explainer code)". A model the explainers have never heard of — the shipped deterioration network
 * re-registered under a new id with an encoding kind that has no decoder in src/explain/encodings (what a
 * new encoding version looks like to src/explain) — goes through the generic fallback and still gets every
 * explainer: completeness within 1 %, a factor per feature, per-cell attributions, deterministic records.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { initBackend } from '../../src/models/backend/index.js';
import { ModelRegistry } from '../../src/models/registry.js';
import { MEASUREMENTS } from '../../src/models/data/physionet.js';
import type { DeteriorationInput } from '../../src/models/types.js';
import { explainableFromRegistered } from '../../src/explain/explainable.js';
import { explainPrediction } from '../../src/explain/explain.js';
import type { ExplanationMethod } from '../../src/explain/types.js';

const NEW_ID = 'early-warning-next';
let dir: string;
let registry: ModelRegistry;

beforeAll(async () => {
  await initBackend();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-new-model-'));
  const folder = path.join(dir, NEW_ID);
  fs.cpSync(path.resolve('models/deterioration'), folder, { recursive: true });
  const manifestFile = path.join(folder, 'manifest.json');
  const manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8')) as { id: string; files: { preprocess: string } };
  manifest.id = NEW_ID;
  fs.writeFileSync(manifestFile, JSON.stringify(manifest));
  const preprocessFile = path.join(folder, manifest.files.preprocess);
  const preprocess = JSON.parse(fs.readFileSync(preprocessFile, 'utf8')) as { kind: string };
  preprocess.kind = 'physionet-window-v9';
  fs.writeFileSync(preprocessFile, JSON.stringify(preprocess));
  registry = await ModelRegistry.open({ dir, maxWaitMs: 0 });
});

afterAll(async () => {
  await registry.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** 12 hours of plausible vitals, a lactate at hour 9, the rest unmeasured. */
function input(): DeteriorationInput {
  const vitals: Record<string, number> = { HR: 112, O2Sat: 93, Temp: 38.4, SBP: 98, MAP: 68, DBP: 52, Resp: 26 };
  const rows = Array.from({ length: 12 }, (_, h) => Float32Array.from(MEASUREMENTS, (m) => (vitals[m] !== undefined ? vitals[m]! + (h % 3) : m === 'Lactate' && h === 9 ? 3.2 : NaN)));
  return { rows, age: 67, sex: 1 };
}

describe('a model with an encoding src/explain has no decoder for', () => {
  it('is explained through the registry with no model-specific code: complete, every feature, every cell', () => {
    const model = explainableFromRegistered(registry.get<DeteriorationInput>(NEW_ID));
    expect(model.modelId).toBe(NEW_ID);
    // Hour starts only (no source links), one per model step: the generic decoder still lays attributions
    // out in time.
    const steps = model.layout.shape[0]!;
    const stepTimes = Array.from({ length: steps }, (_, h) => new Date(Date.UTC(2026, 2, 1) + h * 3_600_000).toISOString());
    const prepared = model.prepare(input(), { sources: [], stepTimes });
    const record = explainPrediction(model, prepared, { patient: 'Patient/p1', now: () => new Date('2026-03-01T12:00:00Z'), newId: () => 'r1' });
    expect(record.model.id).toBe(NEW_ID);
    expect(record.integration!.converged).toBe(true);
    expect(record.integration!.delta).toBeLessThan(0.01);
    const change = record.prediction.probability - record.baseline.probability;
    const total = record.factors.reduce((s, f) => s + f.contribution, 0);
    expect(Math.abs(total - change)).toBeLessThanOrEqual(0.0101 * Math.abs(change) + 1e-6);
    // One factor per feature of the layout, each with words even without clinical units.
    expect(record.factors.map((f) => f.feature).sort()).toEqual(model.layout.features.map((f) => f.name).sort());
    for (const f of record.factors) expect(f.text).toMatch(/(raised|lowered) the risk by|less than/);
    expect(record.timeSeries!.attribution.length).toBe(model.layout.features.length);
    // Per-cell sums fold back into the factors (sums only, so completeness survives aggregation).
    record.factors.forEach((f) => {
      const row = record.timeSeries!.attribution[record.timeSeries!.features.indexOf(f.feature)]!;
      expect(row.reduce((s, v) => s + v, 0)).toBeCloseTo(f.contribution, 4);
    });
  });

  it('drops step times that do not match its steps (no decoder to align them): no time axis, no crash', () => {
    const model = explainableFromRegistered(registry.get<DeteriorationInput>(NEW_ID));
    const prepared = model.prepare(input(), { sources: [], stepTimes: ['2026-03-01T00:00:00.000Z'] });
    expect(prepared.stepTimes).toBeUndefined();
    const record = explainPrediction(model, prepared);
    expect(record.timeSeries).toBeUndefined();
    expect(record.integration!.converged).toBe(true);
  });

  it.each<[ExplanationMethod]>([['smoothgrad-integrated-gradients'], ['smoothgrad'], ['gradient-x-input'], ['occlusion']])(
    'gets %s too, deterministic for a seed',
    (method) => {
      const model = explainableFromRegistered(registry.get<DeteriorationInput>(NEW_ID));
      const prepared = model.prepare(input());
      const options = { method, noise: { samples: 3, seed: 9 }, schedule: [8], occlusionSteps: 12, now: () => new Date(0), newId: () => 'x' };
      const a = explainPrediction(model, prepared, options);
      expect(a.method).toBe(method);
      expect(a.factors.some((f) => f.contribution !== 0)).toBe(true);
      expect(explainPrediction(model, prepared, options)).toEqual(a);
    },
  );
});
