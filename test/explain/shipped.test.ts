/**
 * Explanations of the shipped models (models/heart-disease, models/deterioration) through the registry:
 * completeness on random inputs, FHIR evidence links, carry-forward marking, determinism, record shape.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import type { Observation, Patient } from 'fhir/r4';
import { initBackend } from '../../src/models/backend/index.js';
import { ModelRegistry } from '../../src/models/registry.js';
import { MEASUREMENTS } from '../../src/models/data/physionet.js';
import { HEART_INPUTS, type HeartRecord } from '../../src/models/data/uci-heart.js';
import { buildDeteriorationWindow } from '../../src/models/features/deterioration-window.js';
import { heartInputFromFhir } from '../../src/models/features/heart-inputs.js';
import { uciRowToFhir } from '../../src/fhir/mappings/uci-heart.js';
import type { DeteriorationInput } from '../../src/models/types.js';
import { explainableFromRegistered, provenanceOfWindow } from '../../src/explain/explainable.js';
import { heartProvenance } from '../../src/explain/encodings/uci-heart.js';
import { explainPrediction, explainPredictions } from '../../src/explain/explain.js';
import type { Explainable, ExplanationRecord } from '../../src/explain/types.js';

let registry: ModelRegistry;
let heart: Explainable<HeartRecord>;
let deterioration: Explainable<DeteriorationInput>;

beforeAll(async () => {
  await initBackend();
  registry = await ModelRegistry.open({ dir: 'models' });
  heart = explainableFromRegistered(registry.get<HeartRecord>('heart-disease'));
  deterioration = explainableFromRegistered(registry.get<DeteriorationInput>('deterioration'));
});
afterAll(() => registry.close());

const HOUR = 3_600_000;
const now = new Date('2026-03-01T12:00:00Z');
const fixed = { now: () => now, newId: () => 'x' };

const heartRecord = fc.record({
  age: fc.integer({ min: 30, max: 80 }),
  sex: fc.constantFrom(0, 1),
  cp: fc.constantFrom(1, 2, 3, 4),
  trestbps: fc.integer({ min: 95, max: 200 }),
  chol: fc.oneof(fc.integer({ min: 130, max: 400 }), fc.constant(NaN)),
  fbs: fc.constantFrom(0, 1, NaN),
  restecg: fc.constantFrom(0, 1, 2),
  thalach: fc.integer({ min: 80, max: 200 }),
  exang: fc.constantFrom(0, 1),
  oldpeak: fc.double({ min: 0, max: 5, noNaN: true }),
  slope: fc.constantFrom(1, 2, 3, NaN),
  ca: fc.constantFrom(0, 1, 2, 3, NaN),
  thal: fc.constantFrom(3, 6, 7, NaN),
}) as fc.Arbitrary<HeartRecord>;

/** A random ICU window: vitals most hours, a few labs, everything in plausible training units. */
const deteriorationInput = fc.record({
  seed: fc.integer({ min: 1, max: 1e6 }),
  hours: fc.integer({ min: 6, max: 48 }),
  age: fc.integer({ min: 18, max: 95 }),
  sex: fc.constantFrom(0, 1),
}).map(({ seed, hours, age, sex }): DeteriorationInput => {
  let s = seed;
  const random = () => ((s = (s * 16807) % 2147483647) / 2147483647);
  const ranges: Record<string, [number, number]> = { HR: [50, 150], O2Sat: [85, 100], Temp: [35, 40], SBP: [80, 170], MAP: [55, 110], DBP: [40, 90], Resp: [10, 35], Lactate: [0.5, 8], WBC: [2, 25], Creatinine: [0.5, 4], Platelets: [50, 400] };
  const rows = Array.from({ length: hours }, () =>
    Float32Array.from(MEASUREMENTS, (m) => {
      const range = ranges[m];
      const p = m.length > 4 || m === 'WBC' ? 0.1 : 0.8;
      return range && random() < p ? range[0] + random() * (range[1] - range[0]) : NaN;
    }),
  );
  rows[hours - 1]![0] = 90 + random() * 30;
  return { rows, age, sex };
});

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

/** The record's own completeness: factor contributions add up to p(x) − p(baseline), within the reported delta. */
function expectComplete(record: ExplanationRecord): void {
  expect(record.integration!.converged).toBe(true);
  expect(record.integration!.delta).toBeLessThan(0.01);
  const change = record.prediction.probability - record.baseline.probability;
  expect(Math.abs(sum(record.factors.map((f) => f.contribution)) - change)).toBeLessThanOrEqual(0.0101 * Math.abs(change) + 1e-6);
}

describe('completeness on random inputs, shipped models', () => {
  it('heart-disease, every baseline', () => {
    fc.assert(
      fc.property(heartRecord, fc.constantFrom('normal' as const, 'training-mean' as const, 'zero' as const), (record, baseline) => {
        const r = explainPrediction(heart, heart.prepare(record), { baseline, ...fixed });
        expectComplete(r);
        expect(r.factors.map((f) => f.feature).sort()).toEqual([...HEART_INPUTS].sort());
      }),
      { numRuns: 25 },
    );
  });

  it('deterioration, every baseline', () => {
    fc.assert(
      fc.property(deteriorationInput, fc.constantFrom('normal' as const, 'training-mean' as const, 'zero' as const), (input, baseline) => {
        expectComplete(explainPrediction(deterioration, deterioration.prepare(input), { baseline, ...fixed }));
      }),
      { numRuns: 6 },
    );
  });

  it('uniform trapezoid and Gauss–Legendre reach the same tolerance and agree with the adaptive default', () => {
    const input = fc.sample(deteriorationInput, { seed: 3, numRuns: 1 })[0]!;
    const prepared = deterioration.prepare(input);
    const adaptive = explainPrediction(deterioration, prepared, fixed);
    const scale = Math.abs(adaptive.prediction.probability - adaptive.baseline.probability);
    for (const rule of ['trapezoid', 'gauss-legendre'] as const) {
      const other = explainPrediction(deterioration, prepared, { rule, ...fixed });
      expectComplete(other);
      const byFeature = new Map(other.factors.map((f) => [f.feature, f.contribution]));
      for (const f of adaptive.factors) expect(Math.abs(f.contribution - byFeature.get(f.feature)!)).toBeLessThan(0.03 * scale + 1e-6);
    }
  });
});

describe('deterioration explanation from FHIR Observations', () => {
  const quantity = (id: string, code: string, value: number, unit: string, hoursAgo: number): Observation => ({
    resourceType: 'Observation',
    id,
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code }] },
    effectiveDateTime: new Date(now.getTime() - hoursAgo * HOUR).toISOString(),
    valueQuantity: { value, unit, system: 'http://unitsofmeasure.org', code: unit },
  });
  const patient: Patient = { resourceType: 'Patient', id: 'p1', gender: 'male', birthDate: '1950-05-05' };
  const observations: Observation[] = [
    ...[1, 2, 3, 4, 5, 6].flatMap((h) => [
      quantity(`hr${h}`, '8867-4', 118 + h, '/min', h - 0.5),
      quantity(`rr${h}`, '9279-1', 28, '/min', h - 0.5),
      quantity(`t${h}`, '8310-5', 39.2, 'Cel', h - 0.5),
      quantity(`map${h}`, '8478-0', 62, 'mm[Hg]', h - 0.5),
    ]),
    quantity('lac', '2524-7', 4.1, 'mmol/L', 8.5),
  ];
  const window = buildDeteriorationWindow(patient, observations, now);

  let record: ExplanationRecord;
  beforeAll(() => {
    record = explainPrediction(deterioration, deterioration.prepare(window.input, provenanceOfWindow(window)), { patient: 'Patient/p1', ...fixed });
  });

  it('links factors to their Observations and shows the lactate as measured 8.5 h ago, carried forward', () => {
    const lactate = record.factors.find((f) => f.feature === 'Lactate')!;
    expect(lactate.sources).toEqual(['Observation/lac']);
    expect(lactate.value).toBe(4.1);
    expect(lactate.unit).toBe('mmol/L');
    expect(lactate.direction).toBe('high');
    expect(lactate.measuredAt).toBe('2026-03-01T03:00:00.000Z');
    // The peak step may be the measured hour or a later one; a later one must say carried forward.
    expect(lactate.text).toMatch(/^Lactate 4\.1 mmol\/L at 03:00 \(high(, carried forward)?\) (raised|lowered|changed) the risk by /);
    if (lactate.imputed) expect(lactate.text).toContain('carried forward');
    const hr = record.factors.find((f) => f.feature === 'HR')!;
    expect(hr.sources[0]).toMatch(/^Observation\/hr\d$/);
  });

  it('per-cell attributions: measured hours are not imputed, carried-forward hours are, values carry forward', () => {
    const ts = record.timeSeries!;
    const f = ts.features.indexOf('Lactate');
    const hour = ts.times.indexOf('2026-03-01T03:00:00.000Z');
    expect(ts.times).toHaveLength(48);
    expect(ts.imputed[f]![hour]).toBe(false);
    expect(ts.values[f]![hour]).toBe(4.1);
    expect(ts.imputed[f]![hour + 1]).toBe(true);
    expect(ts.values[f]![47]).toBe(4.1);
    expect(ts.values[f]![hour - 1]).toBeNull();
    // Cells add up to the per-feature factor; windows add up to the whole.
    expect(sum(ts.attribution[f]!)).toBeCloseTo(record.factors.find((x) => x.feature === 'Lactate')!.contribution, 10);
    expect(sum(ts.windows.map((w) => w.contribution))).toBeCloseTo(sum(record.factors.map((x) => x.contribution)), 10);
    expect(record.windowFactors!.length).toBeGreaterThan(0);
    expect(record.windowFactors![0]!.window).toBeDefined();
  });

  it('is JSON-serialisable and deterministic; the data version changes with the data', () => {
    expect(JSON.parse(JSON.stringify(record))).toEqual(record);
    const again = explainPrediction(deterioration, deterioration.prepare(window.input, provenanceOfWindow(window)), { patient: 'Patient/p1', ...fixed });
    expect(again).toEqual(record);
    const newer = buildDeteriorationWindow(patient, [...observations, quantity('lac2', '2524-7', 2.0, 'mmol/L', 0.5)], now);
    expect(deterioration.prepare(newer.input, provenanceOfWindow(newer)).dataVersion).not.toBe(record.dataVersion);
  });

  it('NoiseTunnel and occlusion records are deterministic for a seed', () => {
    const prepared = deterioration.prepare(window.input, provenanceOfWindow(window));
    for (const method of ['smoothgrad', 'smoothgrad-integrated-gradients', 'occlusion', 'gradient-x-input'] as const) {
      const options = { method, noise: { samples: 4, seed: 7 }, schedule: [8], occlusionSteps: 12, ...fixed };
      const a = explainPrediction(deterioration, prepared, options);
      expect(explainPrediction(deterioration, prepared, options)).toEqual(a);
      expect(a.method).toBe(method);
    }
  });
});

describe('heart-disease explanation from FHIR Observations', () => {
  it('links each factor to the Observation its value came from', () => {
    const row = { age: 63, sex: 1, cp: 4, trestbps: 160, chol: 286, fbs: 0, restecg: 2, thalach: 108, exang: 1, oldpeak: 1.5, slope: 2, ca: 3, thal: 3 };
    const observations = uciRowToFhir(row, { idPrefix: 'h1', subject: 'Patient/h1', effective: '2026-02-01T09:00:00Z' });
    const patient: Patient = { resourceType: 'Patient', id: 'h1', gender: 'male', birthDate: '1962-06-01' };
    const input = heartInputFromFhir(patient, observations, now);
    const record = explainPrediction(heart, heart.prepare(input, heartProvenance(observations, now)), { patient: 'Patient/h1', ...fixed });
    const chol = record.factors.find((f) => f.feature === 'chol')!;
    expect(chol.sources).toEqual(['Observation/h1-uci-chol']);
    expect(chol.text).toMatch(/^Cholesterol 286 mg\/dL at 09:00 \(high\) (raised|lowered) the risk by /);
    const cp = record.factors.find((f) => f.feature === 'cp')!;
    expect(cp.text).toMatch(/^Chest pain: asymptomatic /);
    expect(record.factors.find((f) => f.feature === 'age')!.sources).toEqual([]);
    expect(record.timeSeries).toBeUndefined();
  });

  it('several patients explained together equal each explained alone', () => {
    const records = fc.sample(heartRecord, { seed: 9, numRuns: 4 });
    const prepared = records.map((r) => heart.prepare(r));
    const together = explainPredictions(heart, prepared, fixed);
    prepared.forEach((p, k) => {
      const alone = explainPrediction(heart, p, fixed);
      alone.factors.forEach((f, i) => expect(together[k]!.factors[i]!.contribution).toBeCloseTo(f.contribution, 6));
    });
  });
});

describe('service Explainer seam (src/explanations/explainer.ts)', () => {
  it('answers concurrent requests with probability-scale values that add up to p − p(baseline)', async () => {
    const { integratedGradientsServiceExplainer } = await import('../../src/explain/service-explainer.js');
    const explainer = integratedGradientsServiceExplainer({ maxWaitMs: 5 });
    const model = registry.get<HeartRecord>('heart-disease');
    const records = fc.sample(heartRecord, { seed: 4, numRuns: 3 });
    const answers = await Promise.all(
      records.map((r) => {
        const prepared = heart.prepare(r);
        return explainer.attribute({ model: model as never, input: prepared.encoded, baseline: prepared.baselines.normal, baselineDescription: 'normal physiology' });
      }),
    );
    answers.forEach((a, k) => {
      const change = a.probability - a.baselineProbability;
      const total = Array.from(a.values).reduce((s, v) => s + v, 0);
      expect(a.method.convergenceDelta).toBeLessThan(0.01);
      expect(Math.abs(total - change)).toBeLessThanOrEqual(0.0101 * Math.abs(change) + 1e-6);
      // Same numbers as the record API for the same input.
      const record = explainPrediction(heart, heart.prepare(records[k]!), fixed);
      expect(a.probability).toBeCloseTo(record.prediction.probability, 6);
    });
  });

  it('refuses a request already aborted at the deadline', async () => {
    const { integratedGradientsServiceExplainer } = await import('../../src/explain/service-explainer.js');
    const prepared = heart.prepare(fc.sample(heartRecord, { seed: 5, numRuns: 1 })[0]!);
    const controller = new AbortController();
    controller.abort();
    await expect(
      integratedGradientsServiceExplainer({ maxWaitMs: 0 }).attribute({
        model: registry.get('heart-disease') as never,
        input: prepared.encoded,
        baseline: prepared.baselines.zero,
        baselineDescription: 'zero',
        signal: controller.signal,
      }),
    ).rejects.toThrow(/deadline/);
  });
});
