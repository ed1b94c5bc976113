/**
 * vigil-ecg-rhythm end to end over the shipped model: FHIR ECG Observations (valueSampledData and
 * component form, other sampling rates) → card + explanation record with its saliency (format 2); every
 * refusal path ("cannot classify" with its reason, and a record of the tracing when it decodes), no ECG, model unavailable.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Bundle, Observation } from 'fhir/r4';
import { createEcgRhythmService } from '../../../src/cds-hooks/services/ecg-rhythm/index.js';
import { ecgDefinition } from '../../../src/cds-hooks/services/ecg-rhythm/definition.js';
import type { EcgExplanationRecord, UnclassifiedEcgRecord } from '../../../src/cds-hooks/services/ecg-rhythm/record.js';
import type { CdsService, HookInvocation } from '../../../src/cds-hooks/types.js';
import { encodeSampledData, resample } from '../../../src/fhir/sampled-data.js';
import { ModelUnavailableError, modelProviderOf, type ModelProvider } from '../../../src/explanations/model-provider.js';
import { fromFixedPoint } from '../../../src/explanations/fixed-point.js';
import type { ExplanationRecord } from '../../../src/explanations/record.js';
import type { ExplanationStore } from '../../../src/explanations/store.js';
import { summarizeExplanation } from '../../../src/explanations/summary.js';
import { scoreTrendOf } from '../../../src/explanations/trend.js';
import { createLogger } from '../../../src/logger.js';
import { initBackend } from '../../../src/models/backend/index.js';
import { readEcgRecords, type EcgRecord } from '../../../src/models/ecg/data.js';
import { ecgObservation } from '../../../src/models/ecg/sandbox-observations.js';
import { ModelRegistry } from '../../../src/models/registry.js';

const logger = createLogger('silent');
const now = new Date('2026-01-01T12:00:00Z');
const PATIENT = 'p1';

function memoryStore(): ExplanationStore & { records: Map<string, ExplanationRecord> } {
  const records = new Map<string, ExplanationRecord>();
  return {
    records,
    async save(r) { records.set(r.id, r); },
    async get(id) { return records.get(id); },
    async latestByModel(patientId) {
      const newest = new Map<string, ExplanationRecord>();
      for (const r of records.values()) {
        const known = newest.get(r.model.id);
        if (r.patientId === patientId && (!known || r.created > known.created)) newest.set(r.model.id, r);
      }
      return [...newest.values()].sort((a, b) => a.model.id.localeCompare(b.model.id));
    },
    async purgeOlderThan(before) {
      const old = [...records.values()].filter((r) => r.created < before.toISOString());
      for (const r of old) records.delete(r.id);
      return old.length;
    },
    // Keyed reuse is tested in ecg-reuse.test.ts; here every key is new (each test its own tracing).
    async findIssued() { return undefined; },
    async saveIssued(r) { records.set(r.id, r); return r; },
    async close() {},
  };
}

function invocation(observations: Observation[]): HookInvocation {
  const bundle: Bundle = { resourceType: 'Bundle', type: 'searchset', entry: observations.map((resource) => ({ resource })) };
  return {
    request: { hook: 'patient-view', hookInstance: 'h1', context: { patientId: PATIENT, userId: 'Practitioner/1' } },
    prefetch: { ecg: bundle },
    baseUrl: 'http://vigil.test',
    logger,
    now,
  };
}

describe('vigil-ecg-rhythm', () => {
  let registry: ModelRegistry;
  let service: CdsService;
  let store: ReturnType<typeof memoryStore>;
  let af: EcgRecord;
  let normal: EcgRecord;

  beforeAll(async () => {
    await initBackend({ force: 'wasm' });
    registry = await ModelRegistry.open({ dir: 'models' });
    store = memoryStore();
    service = createEcgRhythmService({ models: modelProviderOf(registry), explanations: store });
    const split = JSON.parse(readFileSync('models/ecg-rhythm/split.json', 'utf8')) as { test: string[] };
    const metrics = JSON.parse(readFileSync('models/ecg-rhythm/metrics.json', 'utf8')) as { fingerprint: Array<{ record: string; probabilities: number[] }> };
    const predicted = new Map(metrics.fingerprint.map((f) => [f.record, f.probabilities.indexOf(Math.max(...f.probabilities))]));
    const test = readEcgRecords('data/raw/ecg-cinc2017/records.jsonl').filter((r) => split.test.includes(r.id));
    // A test AF record the shipped model calls AF, and a test normal record it calls normal.
    af = test.find((r) => r.label === 'A' && predicted.get(r.id) === 1)!;
    normal = test.find((r) => r.label === 'N' && predicted.get(r.id) === 0 && r.samples.length === 9000)!;
    expect(af).toBeDefined();
    expect(normal).toBeDefined();
  });
  afterAll(() => registry.close());

  it('discovery: patient-view, prefetches the newest ECG Observations by LOINC and MDC code', () => {
    const d = ecgDefinition();
    expect(d).toMatchObject({ id: 'vigil-ecg-rhythm', hook: 'patient-view' });
    expect(d.prefetch!.ecg).toContain('http://loinc.org|11524-6');
    expect(d.prefetch!.ecg).toContain('urn:oid:2.16.840.1.113883.6.24|131328');
    expect(d.prefetch!.ecg).toContain('patient={{context.patientId}}');
  });

  it('AF tracing → warning card with probabilities and timed segments; record (format 2) carries the per-sample consensus and 40 ms method sums', async () => {
    const obs = ecgObservation(af, PATIENT, '2026-01-01T10:00:00Z', 'value');
    const { cards } = await service.handle(invocation([obs]));
    expect(cards).toHaveLength(1);
    const card = cards[0]!;
    expect(card.indicator).toBe('warning');
    expect(card.summary).toMatch(/^ECG rhythm: atrial fibrillation \(\d/);
    expect(card.detail).toContain(`Observation/${obs.id}`);
    expect(card.detail).toMatch(/Stretches that drove "atrial fibrillation" most:\*\*\n- \d+ s–\d+ s \(at 10:00:\d\d UTC\)/);
    expect(card.links!.map((l) => l.type)).toEqual(['smart', 'absolute']);
    const id = (JSON.parse(card.links![0]!.appContext!) as { explanationId: string }).explanationId;
    const record = (await store.get(id)) as EcgExplanationRecord;
    expect(record.cardUuid).toBe(card.uuid);
    expect(record.patientId).toBe(PATIENT);
    const e = record.ecg;
    expect(e.rhythm).toBe('A');
    expect(e.rateHz).toBe(150);
    expect(e.format).toBe(2);
    const samples = Math.floor((af.samples.length / 300) * 150);
    expect(e.signal.q).toHaveLength(samples);
    expect(e.signal.scale).toBe(0.001);
    expect(e.saliency!.map((s) => s.method)).toEqual(['ig-flat', 'ig-smoothed', 'smoothgrad', 'occlusion']);
    // Per method: one sum per 40 ms (6 samples), adding up to the full-resolution total.
    expect(e.saliencyBucketSeconds).toBeCloseTo(0.04, 9);
    for (const s of e.saliency!) {
      expect(s.sums.q).toHaveLength(Math.ceil(samples / 6));
      const summed = fromFixedPoint(s.sums).reduce((a, b) => a + b, 0);
      expect(Math.abs(summed - s.total)).toBeLessThanOrEqual(s.sums.q.length * s.sums.scale);
    }
    expect(e.consensus!.q).toHaveLength(samples);
    expect(e.segments!.length).toBe(Math.ceil(e.durationSeconds));
    expect(e.segments![0]!.fromTime).toMatch(/^2026-01-01T10:00:/);
    expect(e.classes.reduce((s, c) => s + c.probability, 0)).toBeCloseTo(1, 4);
    expect(record.method?.convergenceDelta).toBeLessThan(0.1);
    // Hybrid model: the RR-interval features are one factor beside the signal, in the same IG run as ig-flat.
    const factor = e.rhythmFactor!;
    expect(factor.features.map((f) => f.name)).toEqual(['heartRate', 'cvRR', 'rmssdRatio', 'pnn50', 'sampleEntropy', 'irregularFraction', 'medianAbsDiffRatio']);
    expect(factor.attribution).toBeCloseTo(factor.features.reduce((a, f) => a + f.attribution, 0), 6);
    const igFlat = e.saliency!.find((s) => s.method === 'ig-flat')!;
    expect(factor.signalAttribution).toBeCloseTo(igFlat.total, 6);
    // Completeness, from the record alone (computed before bucketing): Σ signal + Σ rhythm = f(x) − f(baseline).
    const difference = e.score! - igFlat.baselineScore!;
    expect(Math.abs(igFlat.total + factor.attribution - difference)).toBeLessThanOrEqual(igFlat.convergenceDelta! * Math.max(Math.abs(difference), 1e-4) + 1e-6);
    // The stored consensus still ranks the 1 s segments as the full-resolution one did: same top segments, same times.
    const consensus = fromFixedPoint(e.consensus!);
    const perSecond = Array.from({ length: Math.ceil(samples / 150) }, (_, k) => consensus.slice(k * 150, (k + 1) * 150).reduce((a, b) => a + b, 0));
    const top = perSecond.map((score, k) => ({ k, score })).sort((a, b) => b.score - a.score).slice(0, 5);
    expect(top.map((t) => t.k)).toEqual(e.segments!.slice(0, 5).map((s) => s.from));
    top.forEach((t, i) => expect(t.score).toBeCloseTo(e.segments![i]!.score, 3));
    // Format 2 size: ≈ 52 KB of JSON for this 30 s tracing (format 1: ≈ 246 KB).
    expect(e.durationSeconds).toBe(30);
    expect(JSON.stringify(record).length).toBeLessThan(64_000);
    expect(card.detail).toMatch(/\*\*Rhythm irregularity\*\* \(R-peak intervals\) (raised|lowered) "atrial fibrillation" by \d+\.\d\d log-odds/);
    // The features follow the sentence they explain; the waveform's own part is said in words.
    expect(card.detail).toMatch(/log-odds against a training-average rhythm — .+ \([+−]\d+\.\d\d\)[,;].*the shape of the tracing itself (added|took away) \d+\.\d\d\./);
  });

  it('lead I component at 250 Hz is resampled; no explanation when switched off', async () => {
    const quiet = createEcgRhythmService({ models: modelProviderOf(registry), explanations: store }, { explain: false });
    const at250 = resample(normal.samples, 300, 250);
    const obs = ecgObservation({ ...normal, fs: 250, samples: at250 }, PATIENT, '2026-01-01T09:00:00Z', 'component');
    obs.component!.unshift({ code: { coding: [{ system: 'urn:oid:2.16.840.1.113883.6.24', code: '131330' }] }, valueSampledData: encodeSampledData(new Float32Array(7500), 250) });
    const { cards } = await quiet.handle(invocation([obs]));
    expect(cards[0]!.summary).toMatch(/^ECG rhythm: normal sinus rhythm/);
    expect(cards[0]!.indicator).toBe('info');
    expect(cards[0]!.detail).toContain('Resampled from 250 Hz');
    expect(cards[0]!.detail).toContain('component\\[1\\] (lead I)');
  });

  it('the newest ECG is classified', async () => {
    const older = ecgObservation(normal, PATIENT, '2026-01-01T08:00:00Z', 'value');
    const newer = ecgObservation({ ...af, samples: af.samples.subarray(0, 300 * 5) }, PATIENT, '2026-01-01T11:00:00Z', 'value');
    const { cards } = await service.handle(invocation([older, newer]));
    expect(cards[0]!.summary).toBe('ECG rhythm not classified: the tracing cannot be used');
  });

  // The last column: samples of the stored tracing (a record is stored whenever the SampledData decodes).
  const refusals: Array<[string, (o: Observation) => void, RegExp, number | undefined]> = [
    ['too short (8 s)', (o) => (o.valueSampledData = encodeSampledData(normal.samples.subarray(0, 2400), 300)), /8\.0 s long; at least 10 s/, 2400],
    ['flat', (o) => (o.valueSampledData = encodeSampledData(new Float32Array(9000).fill(0.1), 300)), /flat/, 9000],
    ['saturated', (o) => (o.valueSampledData = { ...encodeSampledData(normal.samples, 300, { lowerLimit: -2000, upperLimit: 2000 }), data: encodeSampledData(normal.samples, 300).data!.split(' ').map((v, i) => (i % 10 === 0 ? 'U' : v)).join(' ') }), /saturated/, 9000],
    ['not a voltage', (o) => (o.valueSampledData = { ...encodeSampledData(normal.samples, 300), origin: { value: 0, code: 'mm[Hg]' } }), /not a voltage/, undefined],
    ['mostly errors', (o) => (o.valueSampledData = { ...encodeSampledData(normal.samples, 300), data: encodeSampledData(normal.samples, 300).data!.split(' ').map((v, i) => (i % 4 === 0 ? 'E' : v)).join(' ') }), /marked as errors/, 9000],
  ];
  it.each(refusals)('%s → "cannot classify" card saying why, and a record of the tracing and the reasons', async (_name, mutate, reason, samples) => {
    const obs = ecgObservation(normal, PATIENT, '2026-01-01T10:00:00Z', 'value');
    mutate(obs);
    const before = store.records.size;
    const { cards } = await service.handle(invocation([obs]));
    expect(cards).toHaveLength(1);
    const card = cards[0]!;
    expect(card.indicator).toBe('info');
    expect(card.summary).toBe('ECG rhythm not classified: the tracing cannot be used');
    expect(card.detail).toMatch(reason);
    if (samples === undefined) {
      // Nothing decodable to show: no record, no view link.
      expect(store.records.size).toBe(before);
      expect(card.links!.map((l) => l.type)).toEqual(['absolute']);
      return;
    }
    expect(card.links!.map((l) => l.type)).toEqual(['smart', 'absolute']);
    const id = (JSON.parse(card.links![0]!.appContext!) as { explanationId: string }).explanationId;
    const record = (await store.get(id)) as UnclassifiedEcgRecord;
    expect(record.cardUuid).toBe(card.uuid);
    expect(record.ecg.unclassified.reasons.join('\n')).toMatch(reason);
    expect(record.ecg).toMatchObject({ format: 2, rateHz: 300, durationSeconds: samples / 300, observation: `Observation/${obs.id}`, lead: 'Observation.valueSampledData' });
    expect(record.ecg.signal.q).toHaveLength(samples);
    expect(record.ecg).not.toHaveProperty('rhythm');
    expect(record.ecg).not.toHaveProperty('saliency');
    // No score was computed, and none is implied (not even a low one) to an API client reading the record.
    expect(record).not.toHaveProperty('prediction');
    const summary = summarizeExplanation(record);
    expect(summary).toMatchObject({ id, unclassified: true });
    expect(summary).not.toHaveProperty('probability');
    expect(summary).not.toHaveProperty('band');
    expect(scoreTrendOf(record).points).toEqual([]);
    // Error samples stay gaps (null), never 0 mV.
    if (/errors/.test(reason.source)) expect(record.ecg.signal.q[0]).toBeNull();
  });

  it('no ECG Observation (or only other codes / entered-in-error) → no card', async () => {
    const other = ecgObservation(normal, PATIENT, '2026-01-01T10:00:00Z', 'value');
    other.code = { coding: [{ system: 'http://loinc.org', code: '8867-4' }] };
    const wrong = ecgObservation(normal, PATIENT, '2026-01-01T10:00:00Z', 'value');
    wrong.status = 'entered-in-error';
    expect((await service.handle(invocation([]))).cards).toEqual([]);
    expect((await service.handle(invocation([other, wrong]))).cards).toEqual([]);
  });

  it('model unavailable → plain card, no error', async () => {
    const missing: ModelProvider = { get: async () => Promise.reject(new ModelUnavailableError('model ecg-rhythm is not installed')) };
    const s = createEcgRhythmService({ models: missing, explanations: store });
    const { cards } = await s.handle(invocation([ecgObservation(normal, PATIENT, '2026-01-01T10:00:00Z', 'value')]));
    expect(cards[0]!.summary).toMatch(/model unavailable/);
    expect(cards[0]!.detail).toContain('not installed');
  });
});
