/**
 * vigil-deterioration writes one explanation record per exact data and links identical later calls to it
 * (src/explanations/issued.ts, services/deterioration/issued-key.ts): same data → same record id, one row,
 * each call its own card uuid; new data → new id and a recomputed score; the same data version with a
 * cited Observation's time moved → a new record (the factor sentence names the time), served from the
 * explanation cache without recomputing; concurrent identical calls share one write; a failed write is
 * not remembered. The key is stored with the record, so a new engine (a restart, another replica) on the
 * same store — SQLite and PostgreSQL — links the same record without explaining again (not one explained
 * under other settings), and two engines racing on one database keep one row.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Bundle, Observation } from 'fhir/r4';
import { createDeteriorationService } from '../../../src/cds-hooks/services/deterioration/index.js';
import type { CdsService } from '../../../src/cds-hooks/types.js';
import { ExplanationEngine } from '../../../src/explanations/engine.js';
import { modelProviderOf } from '../../../src/explanations/model-provider.js';
import type { ExplanationRecord } from '../../../src/explanations/record.js';
import { openSqliteExplanationStore } from '../../../src/explanations/sqlite-store.js';
import type { ExplanationStore } from '../../../src/explanations/store.js';
import type { ModelRegistry } from '../../../src/models/index.js';
import { storageBackends } from '../../storage/backends.js';
import { countingStore, type CountingStore } from '../../explanations/counting-store.js';
import { NOW, callService, explanationIdOf, loadSandboxFixture, openShippedRegistry, sandboxPrefetch, type SandboxFixture } from './deterioration-fixtures.js';

let registry: ModelRegistry;
let fixture: SandboxFixture;
let inner: ExplanationStore;

beforeAll(async () => {
  registry = await openShippedRegistry();
  fixture = loadSandboxFixture();
  inner = openSqliteExplanationStore(':memory:');
});
afterAll(async () => {
  await inner.close();
  await registry.close();
});


function setup(): { service: CdsService; engine: ExplanationEngine; store: CountingStore } {
  const engine = new ExplanationEngine({ maxWaitMs: 0 });
  // The shared SQLite store, counting saves; `failNext` makes the next saves throw.
  const store = countingStore(inner);
  return { service: createDeteriorationService({ models: modelProviderOf(registry), explanations: store, engine }), engine, store };
}

const septicId = (k: number) => fixture.index.filter((p) => p.provenance.physionet.septic)[k]!.id;

function heartRate(patientId: string, id: string, value: number, at: Date): Observation {
  return {
    resourceType: 'Observation',
    id,
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
    subject: { reference: `Patient/${patientId}` },
    effectiveDateTime: at.toISOString(),
    valueQuantity: { value, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
  };
}

describe('one explanation record per exact data', () => {
  it('identical data: the same record id on every call, one row written, each card its own uuid, the score unchanged', async () => {
    const { service, engine, store } = setup();
    const id = septicId(0);
    const first = (await callService(service, fixture.store, id)).cards[0]!;
    const second = (await callService(service, fixture.store, id)).cards[0]!;
    const third = (await callService(service, fixture.store, id)).cards[0]!;
    expect(explanationIdOf(first)).toBeDefined();
    expect(explanationIdOf(second)).toBe(explanationIdOf(first));
    expect(explanationIdOf(third)).toBe(explanationIdOf(first));
    expect(store.saves).toBe(1);
    expect(engine.stats.computed).toBe(1);
    expect(engine.stats.issued).toMatchObject({ issued: 1, reused: 2 });
    expect(new Set([first.uuid, second.uuid, third.uuid]).size).toBe(3);
    expect(second.summary).toBe(first.summary);
    expect(second.detail).toBe(first.detail);
    const record = (await store.get(explanationIdOf(first)!))!;
    expect(record.cardUuid).toBe(first.uuid);
  });

  it('new data: a new record id and a recomputed score that includes the new reading; the earlier record stays', async () => {
    const { service, engine, store } = setup();
    const id = septicId(1);
    const prefetch = await sandboxPrefetch(service, fixture.store, { userId: 'Practitioner/x', patientId: id });
    const before = (await callService(service, fixture.store, id, { prefetch })).cards[0]!;
    const bundle = prefetch.observations as Bundle;
    const reading = heartRate(id, 'reuse-hr-155', 155, new Date(NOW.getTime() - 2 * 60_000));
    const changed = { ...prefetch, observations: { ...bundle, entry: [{ resource: reading }, ...(bundle.entry ?? [])] } as Bundle };
    const after = (await callService(service, fixture.store, id, { prefetch: changed })).cards[0]!;

    expect(explanationIdOf(after)).not.toBe(explanationIdOf(before));
    expect(engine.stats.computed).toBe(2);
    expect(store.saves).toBe(2);
    const older = (await store.get(explanationIdOf(before)!))!;
    const newer = (await store.get(explanationIdOf(after)!))!;
    expect(newer.dataHash).not.toBe(older.dataHash);
    expect(newer.prediction!.probability).not.toBe(older.prediction!.probability);
    expect(newer.attributions!.sources.flat(2)).toContain('reuse-hr-155');
    expect(older.attributions!.sources.flat(2)).not.toContain('reuse-hr-155');
    // Back to the earlier data: its record again, never the newer one.
    const again = (await callService(service, fixture.store, id, { prefetch })).cards[0]!;
    expect(explanationIdOf(again)).toBe(explanationIdOf(before));
  });

  it('same data version, a cited reading re-timed within its hour: served from the explanation cache, but a new record naming the new time', async () => {
    const { service, engine, store } = setup();
    const id = septicId(2);
    const hourStart = new Date(Math.floor(NOW.getTime() / 3_600_000) * 3_600_000);
    const prefetch = await sandboxPrefetch(service, fixture.store, { userId: 'Practitioner/x', patientId: id });
    const bundle = prefetch.observations as Bundle;
    const at = (minutes: number) => ({
      ...prefetch,
      observations: { ...bundle, entry: [{ resource: heartRate(id, 'reuse-hr-moved', 150, new Date(hourStart.getTime() + minutes * 60_000)) }, ...(bundle.entry ?? [])] } as Bundle,
    });
    const early = (await callService(service, fixture.store, id, { prefetch: at(5) })).cards[0]!;
    const late = (await callService(service, fixture.store, id, { prefetch: at(15) })).cards[0]!;
    const a = (await store.get(explanationIdOf(early)!))!;
    const b = (await store.get(explanationIdOf(late)!))!;
    expect(b.dataHash).toBe(a.dataHash);
    expect(engine.stats.computed).toBe(1);
    expect(b.id).not.toBe(a.id);
    expect(store.saves).toBe(2);
    const hr = (r: ExplanationRecord) => r.factors.find((f) => f.evidence.includes('Observation/reuse-hr-moved'));
    expect(hr(a)?.time).toBe(new Date(hourStart.getTime() + 5 * 60_000).toISOString());
    expect(hr(b)?.time).toBe(new Date(hourStart.getTime() + 15 * 60_000).toISOString());
  });

  it('concurrent identical calls share one write', async () => {
    const { service, store } = setup();
    const id = septicId(3);
    const cards = (await Promise.all([0, 1, 2].map(() => callService(service, fixture.store, id)))).map((r) => r.cards[0]!);
    expect(new Set(cards.map(explanationIdOf)).size).toBe(1);
    expect(store.saves).toBe(1);
  });

  it('a failed write is not remembered: that card has no explanation link, the next identical call writes and links', async () => {
    const { service, engine, store } = setup();
    const id = septicId(4);
    store.failNext = 1;
    const failed = (await callService(service, fixture.store, id)).cards[0]!;
    expect(explanationIdOf(failed)).toBeUndefined();
    expect(failed.summary).toContain('Sepsis risk');
    const next = (await callService(service, fixture.store, id)).cards[0]!;
    expect(explanationIdOf(next)).toBeDefined();
    expect(await store.get(explanationIdOf(next)!)).toBeDefined();
    expect(store.saves).toBe(1);
    expect(engine.stats.computed).toBe(1);
  });
});

describe.each(await storageBackends())('one record per exact data across restarts and replicas ($name)', (backend) => {
  it('a new engine on the same store (a restart) links the stored record: same id, no new row, nothing explained', async () => {
    const target = await backend.create();
    try {
      const id = septicId(5);
      const before = new ExplanationEngine({ maxWaitMs: 0 });
      const first = (await callService(createDeteriorationService({ models: modelProviderOf(registry), explanations: target.openExplanations(), engine: before }), fixture.store, id)).cards[0]!;
      const after = new ExplanationEngine({ maxWaitMs: 0 });
      const service = createDeteriorationService({ models: modelProviderOf(registry), explanations: target.openExplanations(), engine: after });
      const again = (await callService(service, fixture.store, id)).cards[0]!;
      expect(explanationIdOf(first)).toBeDefined();
      expect(explanationIdOf(again)).toBe(explanationIdOf(first));
      expect(again.uuid).not.toBe(first.uuid);
      expect(again.summary).toBe(first.summary);
      expect(again.detail).toBe(first.detail);
      expect(after.stats.computed).toBe(0);
      expect(after.stats.issued).toMatchObject({ issued: 0, reused: 1, recalled: 1, size: 1 });
      // Remembered: the next call does not ask the store.
      await callService(service, fixture.store, id);
      expect(after.stats.issued).toMatchObject({ reused: 2, recalled: 1 });
      expect(await target.count('explanation')).toBe(1);
    } finally {
      await target.dispose();
    }
  });

  it('two engines (replicas) answering the same data at once keep one row and link it from both cards', async () => {
    const target = await backend.create();
    try {
      const id = septicId(6);
      const services = [0, 1].map(() => createDeteriorationService({ models: modelProviderOf(registry), explanations: target.openExplanations(), engine: new ExplanationEngine({ maxWaitMs: 0 }) }));
      const cards = (await Promise.all(services.map((s) => callService(s, fixture.store, id)))).map((r) => r.cards[0]!);
      expect(explanationIdOf(cards[0]!)).toBeDefined();
      expect(explanationIdOf(cards[1]!)).toBe(explanationIdOf(cards[0]!));
      expect(await target.count('explanation')).toBe(1);
    } finally {
      await target.dispose();
    }
  });

  it('a new engine with other explanation settings (a release that changed them) does not link the stored record', async () => {
    const target = await backend.create();
    try {
      const id = septicId(5);
      const first = (await callService(createDeteriorationService({ models: modelProviderOf(registry), explanations: target.openExplanations(), engine: new ExplanationEngine({ maxWaitMs: 0 }) }), fixture.store, id)).cards[0]!;
      const other = new ExplanationEngine({ maxWaitMs: 0, explain: { tolerance: 0.005 } });
      const again = (await callService(createDeteriorationService({ models: modelProviderOf(registry), explanations: target.openExplanations(), engine: other }), fixture.store, id)).cards[0]!;
      expect(explanationIdOf(again)).toBeDefined();
      expect(explanationIdOf(again)).not.toBe(explanationIdOf(first));
      expect(other.stats.computed).toBe(1);
      expect((await target.openExplanations().get(explanationIdOf(again)!))!.method).toMatchObject({ tolerance: 0.005 });
    } finally {
      await target.dispose();
    }
  });

  it('changed data after a restart: a new record, not the stored one', async () => {
    const target = await backend.create();
    try {
      const id = septicId(7);
      const first = (await callService(createDeteriorationService({ models: modelProviderOf(registry), explanations: target.openExplanations(), engine: new ExplanationEngine({ maxWaitMs: 0 }) }), fixture.store, id)).cards[0]!;
      const service = createDeteriorationService({ models: modelProviderOf(registry), explanations: target.openExplanations(), engine: new ExplanationEngine({ maxWaitMs: 0 }) });
      const prefetch = await sandboxPrefetch(service, fixture.store, { userId: 'Practitioner/x', patientId: id });
      const bundle = prefetch.observations as Bundle;
      const changed = { ...prefetch, observations: { ...bundle, entry: [{ resource: heartRate(id, 'restart-hr-150', 150, new Date(NOW.getTime() - 3 * 60_000)) }, ...(bundle.entry ?? [])] } as Bundle };
      const after = (await callService(service, fixture.store, id, { prefetch: changed })).cards[0]!;
      expect(explanationIdOf(after)).toBeDefined();
      expect(explanationIdOf(after)).not.toBe(explanationIdOf(first));
      expect(await target.count('explanation')).toBe(2);
    } finally {
      await target.dispose();
    }
  });
});
