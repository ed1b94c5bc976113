/**
 * vigil-heart-disease (patient-view) and vigil-heart-disease-order (order-select) on the sandbox patients
 * with a cardiology work-up: scored cards, work-up-only inputs, refusals, and order-select answering only
 * for cardiology orders.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Bundle, FhirResource, Observation } from 'fhir/r4';
import { createHeartDiseaseServices } from '../../../src/cds-hooks/services/heart-disease/index.js';
import type { Card, CdsService } from '../../../src/cds-hooks/types.js';
import { modelProviderOf } from '../../../src/explanations/model-provider.js';
import { openSqliteExplanationStore } from '../../../src/explanations/sqlite-store.js';
import type { ExplanationStore } from '../../../src/explanations/store.js';
import { buildDraftOrders } from '../../../src/sandbox/ehr/draft-orders.js';
import { BAND_INDICATOR, bandOf, type ModelRegistry } from '../../../src/models/index.js';
import { percentAgainstThreshold, thresholdPhrase } from '../../../src/explanations/percent.js';
import { NOW, callService, loadSandboxFixture, observationIds, openShippedRegistry, patientResources, sandboxPrefetch, type SandboxFixture } from './deterioration-fixtures.js';

let registry: ModelRegistry;
let fixture: SandboxFixture;
let store: ExplanationStore;
let patientView: CdsService;
let orderSelect: CdsService;

beforeAll(async () => {
  registry = await openShippedRegistry();
  fixture = loadSandboxFixture();
  store = openSqliteExplanationStore(':memory:');
  [patientView, orderSelect] = createHeartDiseaseServices({ models: modelProviderOf(registry), explanations: store }) as [CdsService, CdsService];
});
afterAll(async () => {
  await store.close();
  await registry.close();
});

const workedUp = () => fixture.index.filter((p) => p.provenance.uci !== null);
const notWorkedUp = () => fixture.index.filter((p) => p.provenance.uci === null);

function explanationIdOf(card: Card): string {
  return (JSON.parse(card.links!.find((l) => l.type === 'smart')!.appContext!) as { explanationId: string }).explanationId;
}

function orderContext(patientId: string, selected: string): Record<string, unknown> {
  const draftOrders = buildDraftOrders(['stress-test', 'ecg', 'aspirin'], { patientId, userId: 'Practitioner/x', now: NOW });
  return { selections: [selected], draftOrders };
}

/** Prefetch with the work-up Observations edited. */
async function editedPrefetch(service: CdsService, patientId: string, edit: (o: Observation) => Observation | undefined) {
  const prefetch = await sandboxPrefetch(service, fixture.store, { userId: 'Practitioner/x', patientId });
  const bundle = prefetch.observations as Bundle;
  const entry = (bundle.entry ?? []).flatMap((e) => {
    const r = e.resource as Observation;
    const edited = edit(r);
    return edited ? [{ resource: edited as FhirResource }] : [];
  });
  return { ...prefetch, observations: { ...bundle, entry } as Bundle };
}

describe('vigil-heart-disease (patient-view)', () => {
  it('scores every worked-up patient with band, indicator, version and evidence from the work-up only', async () => {
    const { thresholds, version } = registry.get('heart-disease').manifest;
    expect(workedUp().length).toBeGreaterThanOrEqual(5);
    for (const patient of workedUp()) {
      const { cards } = await callService(patientView, fixture.store, patient.id);
      expect(cards).toHaveLength(1);
      const card = cards[0]!;
      expect(card.summary).toContain(`heart-disease v${version}`);
      const record = (await store.get(explanationIdOf(card)))!;
      const { probability, band, indicator } = record.prediction!;
      expect(probability).toBeGreaterThan(0);
      expect(probability).toBeLessThan(1);
      expect(band).toBe(bandOf(probability, thresholds));
      expect(card.indicator).toBe(BAND_INDICATOR[band]);
      expect(indicator).toBe(card.indicator);
      // The probability is stated against the manifest's alert threshold, not by band name alone ("49.5 % — low"
      // read as high with the cut-off at 53.7 %), in the summary and the detail.
      expect(card.summary).toContain(percentAgainstThreshold(probability, thresholds, { short: true }));
      expect(card.summary).not.toMatch(/— (low|moderate|high)\b/);
      expect([...card.summary].length).toBeLessThan(140);
      expect(card.detail).toContain(`${thresholdPhrase(probability, thresholds)} (${band} band)`);
      const own = observationIds(patientResources(fixture, patient.id));
      for (const input of record.inputs!) {
        for (const ref of input.evidence) {
          if (ref.startsWith('Patient/')) expect(ref).toBe(`Patient/${patient.id}`);
          // Work-up Observations only: the sandbox names them "<patient>-uci-<input>" (never the ICU vitals).
          else expect(own.has(ref) && ref.includes('-uci-')).toBe(true);
        }
      }
      expect(record.inputs!.find((i) => i.feature === 'trestbps')!.evidence[0]).toMatch(/-uci-trestbps$/);
      for (const factor of record.factors) expect(factor.evidence.length).toBeGreaterThan(0);
      expect(record.factors.length).toBeGreaterThan(0);
      // The card itself (issue 7) names the top factors, each with the Observation it came from.
      const top = record.factors.filter((f) => f.evidence[0]?.startsWith('Observation/')).slice(0, 3);
      expect(top.length).toBeGreaterThan(0);
      for (const f of top) expect(card.detail).toContain(f.evidence[0]!);
      expect(card.detail).toMatch(/(raised|lowered) the risk by/);
    }
  });

  it('says nothing on patient-view for a patient with no cardiology work-up', async () => {
    const { cards } = await callService(patientView, fixture.store, notWorkedUp()[0]!.id);
    expect(cards).toEqual([]);
  });

  it('scores without slope, vessels and thallium (the model was trained to handle them missing) and says so', async () => {
    const patientId = workedUp()[0]!.id;
    const prefetch = await editedPrefetch(patientView, patientId, (o) => (/-uci-(slope|ca|thal)$/.test(o.id ?? '') ? undefined : o));
    const { cards } = await callService(patientView, fixture.store, patientId, { prefetch });
    expect(cards[0]!.summary).toMatch(/^Coronary disease probability \d/);
    expect(cards[0]!.detail).toContain('**Not in the work-up:** Peak-exercise ST slope, Vessels coloured by fluoroscopy, Thallium scan');
  });

  it('refuses an implausible resting BP and a cholesterol in an unknown unit', async () => {
    const patientId = workedUp()[0]!.id;
    const bp = await editedPrefetch(patientView, patientId, (o) =>
      o.id?.endsWith('-uci-trestbps') ? { ...o, valueQuantity: { ...o.valueQuantity, value: 900 } } : o,
    );
    const refused = await callService(patientView, fixture.store, patientId, { prefetch: bp });
    expect(refused.cards[0]!.summary).toMatch(/^Coronary disease probability not scored/);
    expect(refused.cards[0]!.detail).toContain('Resting systolic blood pressure 900 mm\\[Hg\\] is outside the plausible range 50–260');

    const chol = await editedPrefetch(patientView, patientId, (o) =>
      o.id?.endsWith('-uci-chol') ? { ...o, valueQuantity: { value: 5.2, unit: 'mmol/L', system: 'http://unitsofmeasure.org', code: 'mmol/L' } } : o,
    );
    const unit = await callService(patientView, fixture.store, patientId, { prefetch: chol });
    expect(unit.cards[0]!.summary).toMatch(/not scored/);
    expect(unit.cards[0]!.detail).toContain('in unit "mmol/L" cannot be read (expected mg/dL)');
  });

  it('refuses too little data (fewer than 7 of 13 inputs)', async () => {
    const patientId = workedUp()[0]!.id;
    const prefetch = await editedPrefetch(patientView, patientId, (o) => (/-uci-(cp|trestbps|chol|fbs|restecg|thalach|exang)$/.test(o.id ?? '') ? undefined : o));
    const { cards } = await callService(patientView, fixture.store, patientId, { prefetch });
    expect(cards[0]!.detail).toMatch(/too little data/);
  });
});

describe('vigil-heart-disease-order (order-select)', () => {
  it('answers for a stress test or an ECG, not for aspirin', async () => {
    const patientId = workedUp()[1]!.id;
    for (const [selected, answers] of [
      ['ServiceRequest/draft-stress-test', true],
      ['ServiceRequest/draft-ecg', true],
      ['MedicationRequest/draft-aspirin', false],
    ] as const) {
      const { cards } = await callService(orderSelect, fixture.store, patientId, { context: orderContext(patientId, selected) });
      if (!answers) expect(cards).toEqual([]);
      else {
        expect(cards).toHaveLength(1);
        expect(cards[0]!.summary).toMatch(/^Before (exercise tolerance test|electrocardiographic procedure)[^:]*: Coronary disease probability [\d.]+ % \((below|above|at or above|at) the [\d.]+ % (alert|high-risk) threshold\)/);
        // Whole, not cut by the 140-character limit (CDS Hooks §Card Attributes).
        expect([...cards[0]!.summary].length).toBeLessThan(140);
      }
    }
  });

  it('says it cannot score a patient with no work-up when a stress test is ordered', async () => {
    const patientId = notWorkedUp()[0]!.id;
    const { cards } = await callService(orderSelect, fixture.store, patientId, { context: orderContext(patientId, 'ServiceRequest/draft-stress-test') });
    expect(cards[0]!.summary).toMatch(/not scored/);
    expect(cards[0]!.detail).toContain('no cardiology work-up was found');
  });
});
