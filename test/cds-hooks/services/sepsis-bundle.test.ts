/**
 * vigil-sepsis-bundle (order-sign): the pure coverage rules of the hour-1 bundle items, the card, and the
 * service on the shipped sandbox patients with the shipped deterioration model (through invokeService:
 * validation, prefetch, handler, output guard).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Bundle, FhirResource, Observation, ServiceRequest } from 'fhir/r4';
import { bundleCoverage, coverageOf, BUNDLE_ITEMS, type BundleEvidence } from '../../../src/cds-hooks/services/sepsis-bundle/bundle-items.js';
import { buildSepsisBundleCard, needsAction } from '../../../src/cds-hooks/services/sepsis-bundle/card.js';
import { createSepsisBundleService } from '../../../src/cds-hooks/services/sepsis-bundle/index.js';
import { createDeteriorationService } from '../../../src/cds-hooks/services/deterioration/index.js';
import type { CdsService } from '../../../src/cds-hooks/types.js';
import { modelProviderFrom, modelProviderOf } from '../../../src/explanations/model-provider.js';
import { openSqliteExplanationStore } from '../../../src/explanations/sqlite-store.js';
import type { ExplanationStore } from '../../../src/explanations/store.js';
import type { ModelRegistry, Prediction, RiskBand } from '../../../src/models/index.js';
import { buildDraftOrders } from '../../../src/sandbox/ehr/draft-orders.js';
import { NOW, callService, explanationIdOf, loadSandboxFixture, openShippedRegistry, sandboxPrefetch, type SandboxFixture } from './deterioration-fixtures.js';

const HOUR = 3_600_000;
const at = (hoursAgo: number, now = NOW) => new Date(now.getTime() - hoursAgo * HOUR).toISOString();
const lactateItem = BUNDLE_ITEMS.find((i) => i.id === 'lactate')!;
const culturesItem = BUNDLE_ITEMS.find((i) => i.id === 'blood-cultures')!;

function lactate(id: string, hoursAgo: number, value: number, unit = 'mmol/L', status: Observation['status'] = 'final'): Observation {
  return {
    resourceType: 'Observation',
    id,
    status,
    code: { coding: [{ system: 'http://loinc.org', code: '2524-7' }] },
    effectiveDateTime: at(hoursAgo),
    valueQuantity: { value, unit, system: 'http://unitsofmeasure.org', code: unit },
  };
}

function order(id: string, code: string, hoursAgo: number, status: ServiceRequest['status'] = 'active'): ServiceRequest {
  return { resourceType: 'ServiceRequest', id, status, intent: 'order', code: { coding: [{ system: 'http://loinc.org', code }] }, subject: { reference: 'Patient/p' }, authoredOn: at(hoursAgo) };
}

const evidence = (over: Partial<BundleEvidence> = {}): BundleEvidence => ({ draftOrders: [], orders: [], observations: [], now: NOW, ...over });

describe('hour-1 bundle coverage (pure)', () => {
  it('nothing on record: both items missing', () => {
    expect(bundleCoverage(evidence()).map((c) => [c.item.id, c.status])).toEqual([
      ['lactate', 'missing'],
      ['blood-cultures', 'missing'],
    ]);
  });

  it('a normal lactate within 6 h is covered; one older than 6 h is not', () => {
    expect(coverageOf(lactateItem, evidence({ observations: [lactate('l1', 5.5, 1.4)] }))).toMatchObject({ status: 'resulted', reference: 'Observation/l1', at: at(5.5) });
    expect(coverageOf(lactateItem, evidence({ observations: [lactate('l1', 6.5, 1.4)] })).status).toBe('missing');
  });

  it('a lactate above 2 mmol/L is due again after 2 h, unless a newer lactate was ordered', () => {
    expect(coverageOf(lactateItem, evidence({ observations: [lactate('l1', 1.5, 3.4)] })).status).toBe('resulted');
    expect(coverageOf(lactateItem, evidence({ observations: [lactate('l1', 2.5, 3.4)] }))).toMatchObject({ status: 'repeat-due', value: 3.4, reference: 'Observation/l1' });
    expect(coverageOf(lactateItem, evidence({ observations: [lactate('l1', 2.5, 3.4)], orders: [order('o1', '2524-7', 1)] }))).toMatchObject({ status: 'ordered', reference: 'ServiceRequest/o1' });
    // An order placed before the high value does not stand for the repeat.
    expect(coverageOf(lactateItem, evidence({ observations: [lactate('l1', 2.5, 3.4)], orders: [order('o1', '2524-7', 3)] })).status).toBe('repeat-due');
    // Exactly 2 mmol/L is not above the cut-off.
    expect(coverageOf(lactateItem, evidence({ observations: [lactate('l1', 3, 2)] })).status).toBe('resulted');
  });

  it('reads a lactate in mg/dL (36 mg/dL ≈ 4.0 mmol/L) and ignores the repeat rule for unknown units', () => {
    const c = coverageOf(lactateItem, evidence({ observations: [lactate('l1', 3, 36, 'mg/dL')] }));
    expect(c.status).toBe('repeat-due');
    expect(c.status === 'repeat-due' && c.value).toBeCloseTo(4.0, 1);
    expect(coverageOf(lactateItem, evidence({ observations: [lactate('l1', 3, 36, 'mEq/L')] })).status).toBe('resulted');
  });

  it('the newest lactate decides: a normal one after a high one is covered', () => {
    expect(coverageOf(lactateItem, evidence({ observations: [lactate('old', 4, 4.1), lactate('new', 0.5, 1.6)] }))).toMatchObject({ status: 'resulted', reference: 'Observation/new' });
  });

  it('an order counts unless revoked or entered in error; results must be usable', () => {
    expect(coverageOf(culturesItem, evidence({ orders: [order('c1', '600-7', 20)] }))).toMatchObject({ status: 'ordered', reference: 'ServiceRequest/c1' });
    expect(coverageOf(culturesItem, evidence({ orders: [order('c1', '600-7', 30)] })).status).toBe('missing');
    expect(coverageOf(culturesItem, evidence({ orders: [order('c1', '600-7', 2, 'revoked'), order('c2', '600-7', 2, 'entered-in-error')] })).status).toBe('missing');
    expect(coverageOf(lactateItem, evidence({ observations: [lactate('l1', 1, 1.2, 'mmol/L', 'cancelled')] })).status).toBe('missing');
    // Another test's order does not cover this item.
    expect(coverageOf(culturesItem, evidence({ orders: [order('x', '2524-7', 1)] })).status).toBe('missing');
  });

  it('a draft order among the ones being signed covers the item', () => {
    const drafts = buildDraftOrders(['lactate', 'blood-cultures'], { patientId: 'p', userId: 'Practitioner/x', now: NOW }).entry!.map((e) => e.resource as FhirResource);
    expect(bundleCoverage(evidence({ draftOrders: drafts })).map((c) => c.status)).toEqual(['in-this-order', 'in-this-order']);
  });

  it('times in the future beyond a few minutes of clock skew are data errors, not coverage', () => {
    expect(coverageOf(lactateItem, evidence({ observations: [lactate('l1', -0.05, 1.2)] })).status).toBe('resulted');
    expect(coverageOf(lactateItem, evidence({ observations: [lactate('l1', -1, 1.2)] })).status).toBe('missing');
  });
});

describe('the sepsis bundle card (pure)', () => {
  const prediction: Prediction = { probability: 0.091, band: 'high', indicator: 'critical' } as Prediction;
  const manifest = { id: 'deterioration', version: '9.9.9', output: { horizonHours: 6 } } as Parameters<typeof buildSepsisBundleCard>[0]['manifest'];

  it('asks only for what is missing, with one draft order per suggestion, and explains every item', () => {
    const coverage = bundleCoverage(evidence({ observations: [lactate('l1', 2.5, 3.4)] }));
    expect(needsAction(coverage)).toBe(true);
    const card = buildSepsisBundleCard({ prediction, manifest, coverage, patientId: 'p1', encounterId: 'e1', userId: 'Practitioner/u1', now: NOW, baseUrl: 'http://vigil.test' });
    expect(card.summary).toBe('Sepsis risk high (9.1 %): consider a repeat lactate and blood cultures before signing');
    expect(card.summary.length).toBeLessThan(140);
    expect(card).toMatchObject({ indicator: 'warning', selectionBehavior: 'any' });
    expect(card.suggestions!.map((s) => s.label)).toEqual(['Add a lactate to these orders', 'Add blood cultures (two sets) to these orders']);
    const created = card.suggestions!.map((s) => s.actions![0]!);
    for (const action of created) {
      expect(action.type).toBe('create');
      expect(action.resource).toMatchObject({ resourceType: 'ServiceRequest', status: 'draft', intent: 'order', priority: 'stat', subject: { reference: 'Patient/p1' }, encounter: { reference: 'Encounter/e1' }, requester: { reference: 'Practitioner/u1' } });
    }
    expect(created.map((a) => (a.resource as ServiceRequest).code!.coding![0]!.code)).toEqual(['2524-7', '600-7']);
    expect(card.detail).toContain('| Lactate | **due again**: 3.4 mmol/L at');
    expect(card.detail).toContain('| Blood cultures | **none** in the last 24 h');
    expect(card.overrideReasons!.map((r) => r.code)).toEqual(['taken-not-recorded', 'sepsis-not-suspected', 'goals-of-care']);
    expect(card.links!.map((l) => l.url)).toEqual(['https://doi.org/10.1097/CCM.0000000000003119', 'http://vigil.test/models/deterioration/card']);
  });

  it('has nothing to ask when every item is covered', () => {
    expect(needsAction(bundleCoverage(evidence({ observations: [lactate('l1', 1, 1.1)], orders: [order('c', '600-7', 1)] })))).toBe(false);
  });
});

describe('vigil-sepsis-bundle on the sandbox patients', () => {
  let registry: ModelRegistry;
  let fixture: SandboxFixture;
  let store: ExplanationStore;
  let service: CdsService;
  const bands = new Map<string, RiskBand>();

  beforeAll(async () => {
    registry = await openShippedRegistry();
    fixture = loadSandboxFixture();
    store = openSqliteExplanationStore(':memory:');
    service = createSepsisBundleService({ models: modelProviderOf(registry) });
    // Each patient's band from the patient-view service, as the clinician saw it.
    const deterioration = createDeteriorationService({ models: modelProviderOf(registry), explanations: store });
    for (const p of fixture.index) {
      const { cards } = await callService(deterioration, fixture.store, p.id);
      const id = explanationIdOf(cards[0]!);
      if (id) bands.set(p.id, (await store.get(id))!.prediction!.band as RiskBand);
    }
  }, 120_000);
  afterAll(async () => {
    await store.close();
    await registry.close();
  });

  const signing = (patientId: string, keys: string[], extra: Record<string, unknown> = {}) => ({
    context: { patientId, draftOrders: buildDraftOrders(keys, { patientId, userId: 'Practitioner/sandbox-clinician', now: NOW }) as Bundle, ...extra },
  });
  const high = () => fixture.index.filter((p) => bands.get(p.id) === 'high');
  const notHigh = () => fixture.index.filter((p) => bands.has(p.id) && bands.get(p.id) !== 'high');

  it('is on order-sign in discovery with the deterioration prefetch plus orders and cultures', () => {
    expect(service.definition).toMatchObject({ id: 'vigil-sepsis-bundle', hook: 'order-sign' });
    expect(Object.keys(service.definition.prefetch!)).toEqual(['patient', 'observations', 'bundleOrders', 'bloodCultures']);
    expect(service.definition.prefetch!.bundleOrders).toContain('ServiceRequest?patient={{context.patientId}}&code=http://loinc.org|2524-7');
  });

  it('cards exactly the high-band patients (no blood cultures in the sandbox), and is silent for the others', async () => {
    expect(high().length).toBeGreaterThan(0);
    expect(notHigh().length).toBeGreaterThan(0);
    for (const p of high()) {
      const { cards } = await callService(service, fixture.store, p.id, signing(p.id, ['aspirin']));
      expect(cards).toHaveLength(1);
      expect(cards[0]!.suggestions!.map((s) => s.label)).toContain('Add blood cultures (two sets) to these orders');
      expect(cards[0]!.detail).toContain('the same score as the vigil-deterioration card');
    }
    for (const p of notHigh()) {
      const { cards } = await callService(service, fixture.store, p.id, signing(p.id, ['aspirin']));
      expect(cards).toEqual([]);
    }
  }, 120_000);

  it('is silent when the orders being signed already hold a lactate and blood cultures', async () => {
    const p = high()[0]!;
    const { cards } = await callService(service, fixture.store, p.id, signing(p.id, ['lactate', 'blood-cultures', 'aspirin']));
    expect(cards).toEqual([]);
  });

  it('counts blood cultures the EHR has on record (prefetch) and then asks at most for the lactate', async () => {
    const p = high()[0]!;
    const call = signing(p.id, ['aspirin']);
    const baseline = await callService(service, fixture.store, p.id, call);
    const asksLactate = baseline.cards[0]!.suggestions!.some((s) => s.label === 'Add a lactate to these orders');
    const prefetch = await sandboxPrefetch(service, fixture.store, { userId: 'Practitioner/sandbox-clinician', ...call.context });
    const orders: Bundle = { resourceType: 'Bundle', type: 'searchset', entry: [{ resource: order('bc-1', '600-7', 3) }] };
    const { cards } = await callService(service, fixture.store, p.id, { ...call, prefetch: { ...prefetch, bundleOrders: orders } });
    if (!asksLactate) {
      expect(cards).toEqual([]);
      return;
    }
    expect(cards).toHaveLength(1);
    expect(cards[0]!.suggestions!.map((s) => s.label)).toEqual(['Add a lactate to these orders']);
    expect(cards[0]!.detail).toContain('| Blood cultures | ordered');
    expect(cards[0]!.detail).toContain('ServiceRequest/bc-1');
  });

  it('is silent, not an error, when the model cannot be loaded', async () => {
    const failing = Promise.reject(new Error('weights missing'));
    const broken = createSepsisBundleService({ models: modelProviderFrom(failing) });
    const p = high()[0]!;
    await expect(callService(broken, fixture.store, p.id, signing(p.id, ['aspirin']))).resolves.toEqual({ cards: [] });
  });
});
