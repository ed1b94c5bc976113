/**
 * vigil-ecg-rhythm writes one explanation record per exact tracing and links identical later calls to it
 * (services/ecg-rhythm/issued-key.ts, src/explanations/issued.ts): the same tracing → the same record id,
 * one row, each card its own uuid and otherwise the same card; one changed sample, a new version of the
 * Observation, another patient, or the saliency switched off → a new record. Refused tracings and failed
 * writes are not reused. The key is stored with the record, so a new engine on the same store (a restart,
 * another replica; SQLite and PostgreSQL) links the same record.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Bundle, Observation } from 'fhir/r4';
import { createEcgRhythmService } from '../../../src/cds-hooks/services/ecg-rhythm/index.js';
import type { EcgExplanationRecord } from '../../../src/cds-hooks/services/ecg-rhythm/record.js';
import type { Card, CdsService, HookInvocation } from '../../../src/cds-hooks/types.js';
import { ExplanationEngine } from '../../../src/explanations/engine.js';
import { modelProviderOf } from '../../../src/explanations/model-provider.js';
import type { ExplanationStore } from '../../../src/explanations/store.js';
import { encodeSampledData } from '../../../src/fhir/sampled-data.js';
import { createLogger } from '../../../src/logger.js';
import { initBackend } from '../../../src/models/backend/index.js';
import { readEcgRecords, type EcgRecord } from '../../../src/models/ecg/data.js';
import { ecgObservation } from '../../../src/models/ecg/sandbox-observations.js';
import { ModelRegistry } from '../../../src/models/registry.js';
import { inMemoryCountingStores } from '../../explanations/counting-store.js';
import { storageBackends } from '../../storage/backends.js';

const logger = createLogger('silent');
const NOW = new Date('2026-01-01T12:00:00Z');
const PATIENT = 'p1';

let registry: ModelRegistry;
let tracing: EcgRecord;
const stores = inMemoryCountingStores();

beforeAll(async () => {
  await initBackend({ force: 'wasm' });
  registry = await ModelRegistry.open({ dir: 'models' });
  // The first 12 s of a 300 Hz recording: long enough to classify, short enough to explain quickly.
  const record = readEcgRecords('data/raw/ecg-cinc2017/records.jsonl').find((r) => r.fs === 300 && r.samples.length >= 3600)!;
  tracing = { ...record, samples: record.samples.slice(0, 3600) };
});
afterAll(async () => {
  await stores.closeAll();
  await registry.close();
});

function setup<S extends ExplanationStore>(store: S, options: { explain?: boolean; engine?: ExplanationEngine } = {}) {
  const engine = options.engine ?? new ExplanationEngine({ maxWaitMs: 0 });
  const service = createEcgRhythmService({ models: modelProviderOf(registry), explanations: store, engine }, options.explain === false ? { explain: false } : {});
  return { service, engine, store };
}

function ecg(patientId = PATIENT, edit: (o: Observation) => void = () => {}): Observation {
  const o = ecgObservation(tracing, patientId, '2026-01-01T10:00:00Z', 'value');
  o.meta = { ...o.meta, versionId: '1', lastUpdated: '2026-01-01T10:00:05Z' };
  edit(o);
  return o;
}

async function call(service: CdsService, observation: Observation, patientId = PATIENT, now = NOW): Promise<Card> {
  const bundle: Bundle = { resourceType: 'Bundle', type: 'searchset', entry: [{ resource: observation }] };
  const invocation: HookInvocation = {
    request: { hook: 'patient-view', hookInstance: randomUUID(), context: { patientId, userId: 'Practitioner/1' } },
    prefetch: { ecg: bundle },
    baseUrl: 'http://vigil.test',
    logger,
    now,
  };
  const { cards } = await service.handle(invocation);
  expect(cards).toHaveLength(1);
  return cards[0]!;
}

function explanationIdOf(card: Card): string | undefined {
  const smart = card.links?.find((l) => l.type === 'smart' && l.appContext);
  return smart ? (JSON.parse(smart.appContext!) as { explanationId: string }).explanationId : undefined;
}

/** The card as the EHR shows it, without its uuid (every card has its own). */
function shown(card: Card): Omit<Card, 'uuid'> {
  const { uuid: _uuid, ...rest } = card;
  return rest;
}

describe('one vigil-ecg-rhythm explanation record per exact tracing', () => {
  it('the same tracing: the same record id, one row, analysed once, the whole card the same but its uuid (the next day too)', async () => {
    const { service, engine, store } = setup(stores.open());
    const first = await call(service, ecg());
    const second = await call(service, ecg(), PATIENT, new Date(NOW.getTime() + 30 * 3_600_000));
    expect(first.summary).toMatch(/^ECG rhythm: /);
    expect(first.detail).toContain('Stretches that drove');
    expect(explanationIdOf(first)).toBeDefined();
    expect(explanationIdOf(second)).toBe(explanationIdOf(first));
    expect(second.uuid).not.toBe(first.uuid);
    expect(shown(second)).toEqual(shown(first));
    expect(store.saves).toBe(1);
    expect(engine.stats.computed).toBe(1);
    expect(engine.stats.issued).toMatchObject({ issued: 1, reused: 1 });
    const record = (await store.get(explanationIdOf(first)!)) as EcgExplanationRecord;
    expect(record).toMatchObject({ cardUuid: first.uuid, patientId: PATIENT, serviceId: 'vigil-ecg-rhythm' });
    expect(record.ecg.observation).toBe(`Observation/${ecg().id}`);
  }, 60_000);

  it('one changed sample: a new record of the new tracing; the earlier tracing links the earlier record again', async () => {
    const { service, store } = setup(stores.open());
    const changed = ecg(PATIENT, (o) => {
      const samples = tracing.samples.slice();
      samples[1800] = samples[1800]! + 0.05;
      o.valueSampledData = encodeSampledData(samples, 300);
    });
    expect(changed.valueSampledData!.data).not.toBe(ecg().valueSampledData!.data);
    const before = await call(service, ecg());
    const after = await call(service, changed);
    const again = await call(service, ecg());
    expect(explanationIdOf(after)).toBeDefined();
    expect(explanationIdOf(after)).not.toBe(explanationIdOf(before));
    expect(explanationIdOf(again)).toBe(explanationIdOf(before));
    expect(store.saves).toBe(2);
    const older = (await store.get(explanationIdOf(before)!)) as EcgExplanationRecord;
    const newer = (await store.get(explanationIdOf(after)!)) as EcgExplanationRecord;
    expect(newer.dataHash).not.toBe(older.dataHash);
  }, 60_000);

  it('a new version of the Observation (same waveform, or only lastUpdated changed): a new record', async () => {
    const { service, store } = setup(stores.open());
    const v1 = await call(service, ecg());
    const v2 = await call(service, ecg(PATIENT, (o) => (o.meta = { ...o.meta, versionId: '2', lastUpdated: '2026-01-01T11:00:00Z' })));
    const touched = await call(service, ecg(PATIENT, (o) => (o.meta = { ...o.meta, lastUpdated: '2026-01-01T11:30:00Z' })));
    const v2Again = await call(service, ecg(PATIENT, (o) => (o.meta = { ...o.meta, versionId: '2', lastUpdated: '2026-01-01T11:00:00Z' })));
    const ids = [v1, v2, touched].map(explanationIdOf);
    expect(new Set(ids).size).toBe(3);
    expect(explanationIdOf(v2Again)).toBe(explanationIdOf(v2));
    expect(store.saves).toBe(3);
  }, 60_000);

  it('another patient with the same tracing: a different record, each naming its patient', async () => {
    const { service, store } = setup(stores.open());
    const own = await call(service, ecg());
    const other = await call(service, ecg('p2'), 'p2');
    expect(explanationIdOf(other)).toBeDefined();
    expect(explanationIdOf(other)).not.toBe(explanationIdOf(own));
    expect(store.saves).toBe(2);
    expect((await store.get(explanationIdOf(own)!))!.patientId).toBe(PATIENT);
    expect((await store.get(explanationIdOf(other)!))!.patientId).toBe('p2');
  }, 60_000);

  it('the saliency switched off: a record of its own (the card has no stretches), itself reused', async () => {
    const store = stores.open();
    const engine = new ExplanationEngine({ maxWaitMs: 0 });
    const full = setup(store, { engine }).service;
    const quiet = setup(store, { engine, explain: false }).service;
    const withSaliency = await call(full, ecg());
    const without = await call(quiet, ecg());
    const withoutAgain = await call(quiet, ecg());
    expect(without.detail).not.toContain('Stretches that drove');
    expect(explanationIdOf(without)).not.toBe(explanationIdOf(withSaliency));
    expect(explanationIdOf(withoutAgain)).toBe(explanationIdOf(without));
    expect(store.saves).toBe(2);
  }, 60_000);

  it('a refused tracing (flat line) is not reused: each call stores its record (it has no prediction to reuse by)', async () => {
    const { service, store } = setup(stores.open());
    const flat = ecg(PATIENT, (o) => (o.valueSampledData = encodeSampledData(new Float32Array(3600), 300)));
    const first = await call(service, flat);
    const second = await call(service, flat);
    expect(first.summary).toBe('ECG rhythm not classified: the tracing cannot be used');
    expect(explanationIdOf(first)).toBeDefined();
    expect(explanationIdOf(second)).not.toBe(explanationIdOf(first));
    expect(store.saves).toBe(2);
  });

  it('a failed write is not remembered: that card has no link, the next identical call writes and links', async () => {
    const { service, store } = setup(stores.open());
    store.failNext = 1;
    const failed = await call(service, ecg());
    const next = await call(service, ecg());
    expect(explanationIdOf(failed)).toBeUndefined();
    expect(explanationIdOf(next)).toBeDefined();
    expect(await store.get(explanationIdOf(next)!)).toBeDefined();
    expect(store.saves).toBe(1);
    expect(next.summary).toBe(failed.summary);
  }, 60_000);

  it('concurrent identical calls share one write', async () => {
    const { service, store } = setup(stores.open());
    const cards = await Promise.all([0, 1, 2].map(() => call(service, ecg())));
    expect(new Set(cards.map(explanationIdOf)).size).toBe(1);
    expect(explanationIdOf(cards[0]!)).toBeDefined();
    expect(store.saves).toBe(1);
  }, 60_000);
});

describe.each(await storageBackends())('ECG records across restarts and replicas ($name)', (backend) => {
  it('a new engine on the same store (a restart) links the stored record: same id, no new row, the same card but its uuid', async () => {
    const target = await backend.create();
    try {
      const first = await call(setup(target.openExplanations()).service, ecg());
      const { service, engine } = setup(target.openExplanations());
      const again = await call(service, ecg());
      expect(explanationIdOf(first)).toBeDefined();
      expect(explanationIdOf(again)).toBe(explanationIdOf(first));
      // The analysis itself is kept in memory only: the new engine classifies again, and gets the same card.
      expect(shown(again)).toEqual(shown(first));
      expect(engine.stats.issued).toMatchObject({ issued: 0, reused: 1, recalled: 1 });
      expect(await target.count('explanation')).toBe(1);
    } finally {
      await target.dispose();
    }
  }, 60_000);

  it('two engines (replicas) answering the same tracing at once keep one row and link it from both cards', async () => {
    const target = await backend.create();
    try {
      const services = [0, 1].map(() => setup(target.openExplanations()).service);
      const cards = await Promise.all(services.map((s) => call(s, ecg())));
      expect(explanationIdOf(cards[0]!)).toBeDefined();
      expect(explanationIdOf(cards[1]!)).toBe(explanationIdOf(cards[0]!));
      expect(await target.count('explanation')).toBe(1);
    } finally {
      await target.dispose();
    }
  }, 60_000);
});
