/**
 * vigil-heart-disease and vigil-heart-disease-order write one explanation record per exact data and link
 * identical later calls to it (services/heart-disease/issued-key.ts, src/explanations/issued.ts): same data →
 * same record id on both cards, one row, each card its own uuid and otherwise the same card; one changed
 * input value, an amended reading (new version, same value), another patient with identical values, or the
 * other heart service → a new record; a cited reading crossing 24 h before the call (its factor sentence
 * then prints the date) → a new record; concurrent identical calls share one write. The key is stored with
 * the record, so a new engine on the same store (a restart, another replica; SQLite and PostgreSQL) links
 * the same record without explaining again.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Bundle, FhirResource, Observation, Patient } from 'fhir/r4';
import { createHeartDiseaseServices } from '../../../src/cds-hooks/services/heart-disease/index.js';
import { HEART_ORDER_SERVICE_ID, HEART_SERVICE_ID } from '../../../src/cds-hooks/services/heart-disease/definition.js';
import type { Card, CdsService } from '../../../src/cds-hooks/types.js';
import { ExplanationEngine } from '../../../src/explanations/engine.js';
import { modelProviderOf } from '../../../src/explanations/model-provider.js';
import type { ExplanationRecord } from '../../../src/explanations/record.js';
import type { ExplanationStore } from '../../../src/explanations/store.js';
import type { ModelRegistry } from '../../../src/models/index.js';
import { buildDraftOrders } from '../../../src/sandbox/ehr/draft-orders.js';
import { storageBackends } from '../../storage/backends.js';
import { inMemoryCountingStores } from '../../explanations/counting-store.js';
import { NOW, callService, explanationIdOf, loadSandboxFixture, openShippedRegistry, sandboxPrefetch, type SandboxFixture } from './deterioration-fixtures.js';

const HOUR = 3_600_000;

let registry: ModelRegistry;
let fixture: SandboxFixture;
const stores = inMemoryCountingStores();

beforeAll(async () => {
  registry = await openShippedRegistry();
  fixture = loadSandboxFixture();
});
afterAll(async () => {
  await stores.closeAll();
  await registry.close();
});

function setup<S extends ExplanationStore>(store: S, engine = new ExplanationEngine({ maxWaitMs: 0 })) {
  const [patientView, orderSelect] = createHeartDiseaseServices({ models: modelProviderOf(registry), explanations: store, engine }) as [CdsService, CdsService];
  return { patientView, orderSelect, engine, store };
}

const workedUp = (k: number) => fixture.index.filter((p) => p.provenance.uci !== null)[k]!.id;

function orderContext(patientId: string): Record<string, unknown> {
  return { selections: ['ServiceRequest/draft-stress-test'], draftOrders: buildDraftOrders(['stress-test', 'ecg'], { patientId, userId: 'Practitioner/x', now: NOW }) };
}

type Prefetch = Record<string, FhirResource | null>;

/** The prefetch with each Observation passed through `edit`. */
function editObservations(prefetch: Prefetch, edit: (o: Observation) => Observation): Prefetch {
  const bundle = prefetch.observations as Bundle;
  return { ...prefetch, observations: { ...bundle, entry: (bundle.entry ?? []).map((e) => ({ ...e, resource: edit(e.resource as Observation) })) } as Bundle };
}

/** The card as the EHR shows it, without its uuid (every card has its own). */
function shown(card: Card): Omit<Card, 'uuid'> {
  const { uuid: _uuid, ...rest } = card;
  return rest;
}

describe('one heart-disease explanation record per exact data', () => {
  it('identical data: the same record id on both cards, one row, nothing explained again, the same card but for its uuid', async () => {
    const { patientView, engine, store } = setup(stores.open());
    const id = workedUp(0);
    const first = (await callService(patientView, fixture.store, id)).cards[0]!;
    const second = (await callService(patientView, fixture.store, id)).cards[0]!;
    expect(explanationIdOf(first)).toBeDefined();
    expect(explanationIdOf(second)).toBe(explanationIdOf(first));
    expect(store.saves).toBe(1);
    expect(engine.stats.computed).toBe(1);
    expect(engine.stats.issued).toMatchObject({ issued: 1, reused: 1 });
    expect(second.uuid).not.toBe(first.uuid);
    expect(shown(second)).toEqual(shown(first));
    // Before reuse the repeated card said its factors were "computed ahead of time" (an engine cache hit).
    expect(second.detail).not.toContain('computed ahead of time');
    const record = (await store.get(explanationIdOf(first)!))!;
    expect(record).toMatchObject({ cardUuid: first.uuid, serviceId: HEART_SERVICE_ID, patientId: id });
    expect((await store.latestByModel(id)).filter((r) => r.model.id === 'heart-disease').map((r) => r.id)).toEqual([record.id]);
  });

  it('one changed input value: a new record with the new value, the earlier one kept; the earlier data link the earlier record again', async () => {
    const { patientView, engine, store } = setup(stores.open());
    const id = workedUp(1);
    const prefetch = await sandboxPrefetch(patientView, fixture.store, { userId: 'Practitioner/x', patientId: id });
    const chol = (o: Observation) => o.id?.endsWith('-uci-chol') === true;
    const cholesterol = (prefetch.observations as Bundle).entry!.map((e) => e.resource as Observation).find(chol)!.valueQuantity!.value!;
    const changed = editObservations(prefetch, (o) => (chol(o) ? { ...o, valueQuantity: { ...o.valueQuantity, value: cholesterol + 40 } } : o));

    const before = (await callService(patientView, fixture.store, id, { prefetch })).cards[0]!;
    const after = (await callService(patientView, fixture.store, id, { prefetch: changed })).cards[0]!;
    expect(explanationIdOf(after)).toBeDefined();
    expect(explanationIdOf(after)).not.toBe(explanationIdOf(before));
    expect(engine.stats.computed).toBe(2);
    expect(store.saves).toBe(2);
    const older = (await store.get(explanationIdOf(before)!))!;
    const newer = (await store.get(explanationIdOf(after)!))!;
    expect(older.inputs!.find((i) => i.feature === 'chol')!.value).toBe(cholesterol);
    expect(newer.inputs!.find((i) => i.feature === 'chol')!.value).toBe(cholesterol + 40);
    expect(newer.prediction!.probability).not.toBe(older.prediction!.probability);
    const again = (await callService(patientView, fixture.store, id, { prefetch })).cards[0]!;
    expect(explanationIdOf(again)).toBe(explanationIdOf(before));
    expect(store.saves).toBe(2);
  });

  it('an amended reading (new version, same value): a new record', async () => {
    const { patientView, store } = setup(stores.open());
    const id = workedUp(2);
    const prefetch = await sandboxPrefetch(patientView, fixture.store, { userId: 'Practitioner/x', patientId: id });
    const version = (v: string) =>
      editObservations(prefetch, (o) => (o.id?.endsWith('-uci-trestbps') ? { ...o, meta: { ...o.meta, versionId: v, lastUpdated: `2025-12-0${v}T10:00:00Z` } } : o));
    const v1 = (await callService(patientView, fixture.store, id, { prefetch: version('1') })).cards[0]!;
    const v1Again = (await callService(patientView, fixture.store, id, { prefetch: version('1') })).cards[0]!;
    const v2 = (await callService(patientView, fixture.store, id, { prefetch: version('2') })).cards[0]!;
    expect(explanationIdOf(v1Again)).toBe(explanationIdOf(v1));
    expect(explanationIdOf(v2)).not.toBe(explanationIdOf(v1));
    expect(store.saves).toBe(2);
  });

  it('another patient with identical values and the same Observations: a different record, each naming its patient', async () => {
    const { patientView, store } = setup(stores.open());
    const id = workedUp(3);
    const prefetch = await sandboxPrefetch(patientView, fixture.store, { userId: 'Practitioner/x', patientId: id });
    const twinId = `${id}-twin`;
    const twin: Prefetch = {
      ...editObservations(prefetch, (o) => ({ ...o, subject: { reference: `Patient/${twinId}` } })),
      patient: { ...(prefetch.patient as Patient), id: twinId },
    };
    const own = (await callService(patientView, fixture.store, id, { prefetch })).cards[0]!;
    const other = (await callService(patientView, fixture.store, twinId, { prefetch: twin })).cards[0]!;
    expect(explanationIdOf(other)).toBeDefined();
    expect(explanationIdOf(other)).not.toBe(explanationIdOf(own));
    expect(store.saves).toBe(2);
    const a = (await store.get(explanationIdOf(own)!))!;
    const b = (await store.get(explanationIdOf(other)!))!;
    expect(a.patientId).toBe(id);
    expect(b.patientId).toBe(twinId);
    // Identical values: the same score and factors, so only the patient told the records apart.
    expect(b.prediction!.probability).toBe(a.prediction!.probability);
    expect(b.factors).toEqual(a.factors);
  });

  it('patient-view and order-select on the same data keep a record each (feedback is filed under the record’s service), each reused by its own service', async () => {
    const { patientView, orderSelect, store } = setup(stores.open());
    const id = workedUp(4);
    const view = (await callService(patientView, fixture.store, id)).cards[0]!;
    const order = (await callService(orderSelect, fixture.store, id, { context: orderContext(id) })).cards[0]!;
    const orderAgain = (await callService(orderSelect, fixture.store, id, { context: orderContext(id) })).cards[0]!;
    const viewAgain = (await callService(patientView, fixture.store, id)).cards[0]!;
    expect(explanationIdOf(order)).not.toBe(explanationIdOf(view));
    expect(explanationIdOf(orderAgain)).toBe(explanationIdOf(order));
    expect(explanationIdOf(viewAgain)).toBe(explanationIdOf(view));
    expect(shown(orderAgain)).toEqual(shown(order));
    expect(order.summary).toMatch(/^Before exercise tolerance test/);
    expect(store.saves).toBe(2);
    expect((await store.get(explanationIdOf(view)!))!.serviceId).toBe(HEART_SERVICE_ID);
    expect((await store.get(explanationIdOf(order)!))!.serviceId).toBe(HEART_ORDER_SERVICE_ID);
  });

  it('a cited reading becoming more than 24 h old (its sentence then prints the date): a new record; within either side, reused', async () => {
    const { patientView, store } = setup(stores.open());
    const id = workedUp(0);
    const measured = new Date(NOW.getTime() - 23 * HOUR);
    const prefetch = editObservations(await sandboxPrefetch(patientView, fixture.store, { userId: 'Practitioner/x', patientId: id }), (o) =>
      o.id?.endsWith('-uci-trestbps') ? { ...o, effectiveDateTime: measured.toISOString() } : o,
    );
    const call = async (hoursLater: number) => (await callService(patientView, fixture.store, id, { prefetch, now: new Date(NOW.getTime() + hoursLater * HOUR) })).cards[0]!;
    const day1 = await call(0);
    const day1Later = await call(0.5);
    const day2 = await call(2);
    const day2Later = await call(3);
    const bp = (card: Card) => card.detail!.split('\n').find((l) => l.includes('-uci-trestbps'))!;
    expect(bp(day1)).toMatch(/ at \d\d:\d\d /);
    expect(bp(day2)).toMatch(/ at \d{1,2} [A-Z][a-z]{2} \d\d:\d\d /);
    expect(explanationIdOf(day1Later)).toBe(explanationIdOf(day1));
    expect(explanationIdOf(day2)).not.toBe(explanationIdOf(day1));
    expect(explanationIdOf(day2Later)).toBe(explanationIdOf(day2));
    expect(store.saves).toBe(2);
  });

  it('a failed write is not remembered: that card has no explanation link, the next identical call writes and links', async () => {
    const { patientView, store } = setup(stores.open());
    const id = workedUp(2);
    store.failNext = 1;
    const failed = (await callService(patientView, fixture.store, id)).cards[0]!;
    expect(explanationIdOf(failed)).toBeUndefined();
    expect(failed.summary).toMatch(/^Coronary disease probability \d/);
    const next = (await callService(patientView, fixture.store, id)).cards[0]!;
    expect(explanationIdOf(next)).toBeDefined();
    expect(await store.get(explanationIdOf(next)!)).toBeDefined();
    expect(store.saves).toBe(1);
    expect(next.summary).toBe(failed.summary);
  });

  it('concurrent identical calls share one write', async () => {
    const { patientView, store } = setup(stores.open());
    const id = workedUp(1);
    const cards = (await Promise.all([0, 1, 2].map(() => callService(patientView, fixture.store, id)))).map((r) => r.cards[0]!);
    expect(new Set(cards.map(explanationIdOf)).size).toBe(1);
    expect(explanationIdOf(cards[0]!)).toBeDefined();
    expect(store.saves).toBe(1);
  });
});

describe.each(await storageBackends())('heart-disease records across restarts and replicas ($name)', (backend) => {
  it('a new engine on the same store (a restart) links the stored record: same id, no new row, nothing explained', async () => {
    const target = await backend.create();
    try {
      const id = workedUp(2);
      const first = (await callService(setup(target.openExplanations()).patientView, fixture.store, id)).cards[0]!;
      const { patientView, engine } = setup(target.openExplanations());
      const again = (await callService(patientView, fixture.store, id)).cards[0]!;
      expect(explanationIdOf(first)).toBeDefined();
      expect(explanationIdOf(again)).toBe(explanationIdOf(first));
      expect(shown(again)).toEqual(shown(first));
      expect(engine.stats.computed).toBe(0);
      expect(engine.stats.issued).toMatchObject({ issued: 0, reused: 1, recalled: 1 });
      expect(await target.count('explanation')).toBe(1);
    } finally {
      await target.dispose();
    }
  });

  it('two engines (replicas) answering the same data at once keep one row and link it from both cards', async () => {
    const target = await backend.create();
    try {
      const id = workedUp(3);
      const services = [0, 1].map(() => setup(target.openExplanations()).patientView);
      const cards = (await Promise.all(services.map((s) => callService(s, fixture.store, id)))).map((r) => r.cards[0]!);
      expect(explanationIdOf(cards[0]!)).toBeDefined();
      expect(explanationIdOf(cards[1]!)).toBe(explanationIdOf(cards[0]!));
      expect(await target.count('explanation')).toBe(1);
    } finally {
      await target.dispose();
    }
  });

  it('a new engine with other explanation settings does not link the stored record', async () => {
    const target = await backend.create();
    try {
      const id = workedUp(4);
      const first = (await callService(setup(target.openExplanations()).patientView, fixture.store, id)).cards[0]!;
      const other = new ExplanationEngine({ maxWaitMs: 0, explain: { tolerance: 0.005 } });
      const again = (await callService(setup(target.openExplanations(), other).patientView, fixture.store, id)).cards[0]!;
      expect(explanationIdOf(again)).toBeDefined();
      expect(explanationIdOf(again)).not.toBe(explanationIdOf(first));
      expect(other.stats.computed).toBe(1);
      expect(await target.count('explanation')).toBe(2);
    } finally {
      await target.dispose();
    }
  });
});
