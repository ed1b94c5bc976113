/**
 * vigil-deterioration end to end without HTTP: sandbox patients' data, prefetch filled as the sandbox EHR
 * fills it, the shipped model, invokeService (validation, prefetch, handler, output guard), the explanation
 * record in an in-memory store. Covers scored cards, the "cannot score" paths and paging.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Bundle, Observation } from 'fhir/r4';
import { createDeteriorationService } from '../../../src/cds-hooks/services/deterioration/index.js';
import { collectDeteriorationData } from '../../../src/cds-hooks/services/deterioration/data.js';
import type { CdsService, HookInvocation } from '../../../src/cds-hooks/types.js';
import { modelProviderFrom, modelProviderOf } from '../../../src/explanations/model-provider.js';
import { openSqliteExplanationStore } from '../../../src/explanations/sqlite-store.js';
import type { ExplanationStore } from '../../../src/explanations/store.js';
import { BAND_INDICATOR, bandOf, type ModelRegistry } from '../../../src/models/index.js';
import { silentLogger } from '../helpers.js';
import {
  NOW,
  callService,
  explanationIdOf,
  loadSandboxFixture,
  observationIds,
  openShippedRegistry,
  patientResources,
  sandboxPrefetch,
  type SandboxFixture,
} from './deterioration-fixtures.js';

let registry: ModelRegistry;
let fixture: SandboxFixture;
let store: ExplanationStore;
let service: CdsService;

beforeAll(async () => {
  registry = await openShippedRegistry();
  fixture = loadSandboxFixture();
  store = openSqliteExplanationStore(':memory:');
  service = createDeteriorationService({ models: modelProviderOf(registry), explanations: store });
});
afterAll(async () => {
  await store.close();
  await registry.close();
});

const septic = () => fixture.index.filter((p) => p.provenance.physionet.septic);
const nonSeptic = () => fixture.index.filter((p) => !p.provenance.physionet.septic);

/** The patient's prefetch with extra Observations put first (newest), as a server sorting -date would. */
async function prefetchWith(patientId: string, extra: Observation[]) {
  const context = { userId: 'Practitioner/x', patientId };
  const prefetch = await sandboxPrefetch(service, fixture.store, context);
  const bundle = prefetch.observations as Bundle;
  return { ...prefetch, observations: { ...bundle, entry: [...extra.map((resource) => ({ resource })), ...(bundle.entry ?? [])] } as Bundle };
}

function heartRate(patientId: string, id: string, value: number, unit: string, minutesAgo: number): Observation {
  return {
    resourceType: 'Observation',
    id,
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
    subject: { reference: `Patient/${patientId}` },
    effectiveDateTime: new Date(NOW.getTime() - minutesAgo * 60_000).toISOString(),
    valueQuantity: { value, unit, system: 'http://unitsofmeasure.org', code: unit },
  };
}

describe('vigil-deterioration on the sandbox patients', () => {
  it('scores every patient: probability in range, band and indicator from the manifest thresholds, version, links', async () => {
    const { thresholds, version } = registry.get('deterioration').manifest;
    for (const patient of fixture.index) {
      const { cards } = await callService(service, fixture.store, patient.id);
      expect(cards).toHaveLength(1);
      const card = cards[0]!;
      expect(card.summary).toContain(`deterioration v${version}`);
      expect(card.summary.length).toBeLessThan(140);
      const record = (await store.get(explanationIdOf(card)!))!;
      expect(record).toMatchObject({ patientId: patient.id, serviceId: 'vigil-deterioration', model: { id: 'deterioration', version }, cardUuid: card.uuid });
      const { probability, band, indicator } = record.prediction!;
      expect(probability).toBeGreaterThan(0);
      expect(probability).toBeLessThan(1);
      expect(band).toBe(bandOf(probability, thresholds));
      expect(indicator).toBe(BAND_INDICATOR[band]);
      expect(card.indicator).toBe(indicator);
      expect(card.summary).toContain(`${(Math.round(probability * 1000) / 10).toFixed(1)} %`);
      expect(card.detail).toContain('within 6 hours');
      expect(card.links?.find((l) => l.type === 'smart')?.url).toBe('http://vigil.test/app/launch');
      expect(card.links?.find((l) => l.type === 'absolute')?.url).toBe('http://vigil.test/models/deterioration/card');
      expect(record.dataHash).toMatch(/^sha256:[0-9a-f]{64}$/);
    }
  }, 60_000);

  it('puts the septic patients above the non-septic ones on average, and most septic ones in the high band', async () => {
    const probabilityOf = async (id: string) => {
      const { cards } = await callService(service, fixture.store, id);
      return (await store.get(explanationIdOf(cards[0]!)!))!.prediction!;
    };
    const s = await Promise.all(septic().map((p) => probabilityOf(p.id)));
    const n = await Promise.all(nonSeptic().map((p) => probabilityOf(p.id)));
    const mean = (xs: { probability: number }[]) => xs.reduce((a, x) => a + x.probability, 0) / xs.length;
    expect(mean(s)).toBeGreaterThan(2 * mean(n));
    expect(s.filter((p) => p.band === 'high').length).toBeGreaterThan(s.length / 2);
  }, 60_000);

  it("cites as evidence only Observations in the patient's own data, and attributes only measured cells", async () => {
    const patient = septic()[0]!;
    const { cards } = await callService(service, fixture.store, patient.id);
    const record = (await store.get(explanationIdOf(cards[0]!)!))!;
    const own = observationIds(patientResources(fixture, patient.id));
    expect(record.factors.length).toBeGreaterThan(0);
    for (const factor of record.factors) {
      // A value shown is a value someone recorded: it names its Observation. "Not measured" has none.
      if (factor.value !== undefined) expect(factor.evidence.length).toBeGreaterThan(0);
      else expect(factor.text).toMatch(/not measured in the last 48 h/);
      for (const ref of factor.evidence) expect(own.has(ref)).toBe(true);
    }
    const cells = record.attributions!;
    expect(cells.values).toHaveLength(48);
    expect(cells.values[0]).toHaveLength(34);
    let total = 0;
    cells.values.forEach((row, h) =>
      row.forEach((v, m) => {
        if (!cells.measured[h]![m]) expect(v).toBe(0);
        else for (const id of cells.sources[h]![m]!) expect(own.has(`Observation/${id}`)).toBe(true);
        total += v;
      }),
    );
    total += cells.unmeasured!.reduce((a, v) => a + v, 0);
    // Completeness: grid + not-yet-measured hours add up to the score's distance from the baseline, within
    // the convergence delta the record reports.
    const gap = record.prediction!.probability - record.method!.baselineProbability!;
    expect(record.method).toMatchObject({ name: 'integrated-gradients', baselineKind: 'normal', rule: 'adaptive-trapezoid' });
    expect(record.method!.convergenceDelta).toBeLessThanOrEqual(record.method!.converged ? record.method!.tolerance! : 1);
    expect(Math.abs(total - gap)).toBeLessThanOrEqual(record.method!.convergenceDelta! * Math.abs(gap) + 1e-4);
    // Factors are ordered by the size of their contribution.
    const sizes = record.factors.map((f) => Math.abs(f.contribution));
    expect(sizes).toEqual([...sizes].sort((a, b) => b - a));
  });

  it('lists the top factors on the card in clinical words, linked to their Observations, never a carried-forward value as fresh', async () => {
    for (const patient of septic().slice(0, 3)) {
      const { cards } = await callService(service, fixture.store, patient.id);
      const card = cards[0]!;
      const record = (await store.get(explanationIdOf(card)!))!;
      const shown = record.factors.filter((f) => Math.abs(f.contribution) >= 0.001).slice(0, 5);
      expect(shown.length).toBeGreaterThan(0);
      for (const f of shown) {
        // "Lactate 4.1 mmol/L at 03:17 (high) raised the risk by 12.0 percentage points"
        expect(f.text).toMatch(/^[A-Z][^\n]* (raised|lowered) the risk by \d+\.\d percentage points$/);
        if (f.evidence[0]) expect(card.detail).toContain(f.evidence[0]);
        if (f.imputed && f.value !== undefined) expect(f.text).toContain('carried forward');
        if (!f.imputed) expect(f.text).not.toContain('carried forward');
        if (f.value !== undefined) {
          // The time printed is the source Observation's own effective time, not its hourly cell.
          const obs = patientResources(fixture, patient.id).find((r) => `Observation/${r.id}` === f.evidence[0]) as Observation;
          expect(f.time).toBe(obs.effectiveDateTime);
          // A reading from another day than the window's end is dated ("at 30 Dec 22:00").
          expect(f.text).toMatch(new RegExp(` at (\\d{1,2} [A-Z][a-z]{2} )?${obs.effectiveDateTime!.slice(11, 16)} `));
        }
      }
      expect(card.detail).toMatch(/completeness error \d+\.\d %/);
    }
  });
});

describe('vigil-deterioration refuses to score bad data, and says why', () => {
  const patientId = () => nonSeptic()[0]!.id;

  it('no Observations at all: too little data', async () => {
    const context = { userId: 'Practitioner/x', patientId: patientId() };
    const prefetch = await sandboxPrefetch(service, fixture.store, context);
    const { cards } = await callService(service, fixture.store, patientId(), { prefetch: { ...prefetch, observations: { resourceType: 'Bundle', type: 'searchset', entry: [] } } });
    expect(cards[0]).toMatchObject({ indicator: 'info', summary: expect.stringMatching(/^Sepsis risk not scored/) });
    expect(cards[0]!.detail).toMatch(/too little data: vital signs in 0 of the last 48 hours/);
    expect(cards[0]!.links?.some((l) => l.type === 'smart')).toBe(false);
  });

  it('an implausible heart rate (900 /min) as the latest reading', async () => {
    const prefetch = await prefetchWith(patientId(), [heartRate(patientId(), 'hr-900', 900, '/min', 5)]);
    const { cards } = await callService(service, fixture.store, patientId(), { prefetch });
    expect(cards[0]!.summary).toMatch(/^Sepsis risk not scored/);
    expect(cards[0]!.detail).toContain('Heart rate 900 /min is outside the plausible range 20–300 /min');
    expect(cards[0]!.detail).toContain('Observation/hr-900');
  });

  it('a heart rate in an unknown unit as the latest reading', async () => {
    const prefetch = await prefetchWith(patientId(), [heartRate(patientId(), 'hr-hz', 1.5, 'Hz', 5)]);
    const { cards } = await callService(service, fixture.store, patientId(), { prefetch });
    expect(cards[0]!.summary).toMatch(/^Sepsis risk not scored/);
    expect(cards[0]!.detail).toContain('Heart rate 1.5 in unit "Hz" cannot be converted to /min');
  });

  it('an implausible reading replaced by a later usable one is listed but does not block the score', async () => {
    const prefetch = await prefetchWith(patientId(), [heartRate(patientId(), 'hr-ok', 88, '/min', 2), heartRate(patientId(), 'hr-900b', 900, '/min', 30)]);
    const { cards } = await callService(service, fixture.store, patientId(), { prefetch });
    expect(cards[0]!.summary).toMatch(/^Sepsis risk \d/);
    expect(cards[0]!.detail).toContain('`Observation/hr-900b`: Heart rate 900 /min is outside the plausible range');
  });

  it('a child is out of scope', async () => {
    const context = { userId: 'Practitioner/x', patientId: patientId() };
    const prefetch = await sandboxPrefetch(service, fixture.store, context);
    const child = { ...(prefetch.patient as object), birthDate: '2015-05-01' } as never;
    const { cards } = await callService(service, fixture.store, patientId(), { prefetch: { ...prefetch, patient: child } });
    expect(cards[0]!.detail).toMatch(/the patient is 10; the model was trained on adults/);
  });

  it('a model that failed to load gives a "model unavailable" card, not an error', async () => {
    const failing = Promise.reject(new Error('weights missing'));
    const broken = createDeteriorationService({ models: modelProviderFrom(failing), explanations: store });
    const { cards } = await callService(broken, fixture.store, patientId());
    expect(cards[0]).toMatchObject({ indicator: 'info', summary: expect.stringContaining('model unavailable') });
    expect(cards[0]!.detail).toContain('weights missing');
  });
});

describe('prefetch paging', () => {
  it('follows next links on the EHR FHIR server until the window is covered, and never to another host', async () => {
    const patientId = septic()[0]!.id;
    const context = { userId: 'Practitioner/x', patientId };
    const full = (await sandboxPrefetch(service, fixture.store, context)).observations as Bundle;
    const entries = full.entry ?? [];
    const page = (from: number, to: number, next?: string): Bundle => ({
      resourceType: 'Bundle',
      type: 'searchset',
      entry: entries.slice(from, to),
      ...(next ? { link: [{ relation: 'next', url: next }] } : {}),
    });
    const reads: string[] = [];
    const invocation = (first: Bundle): HookInvocation => ({
      request: { hook: 'patient-view', hookInstance: 'h', fhirServer: 'http://ehr.test/fhir', context },
      prefetch: { patient: null, observations: first },
      fhir: {
        async get(url: string) {
          reads.push(url);
          return page(50, entries.length);
        },
      },
      baseUrl: 'http://vigil.test',
      logger: silentLogger,
      now: NOW,
    });
    const start = new Date(NOW.getTime() - 48 * 3_600_000);
    const paged = await collectDeteriorationData(invocation(page(0, 50, 'http://ehr.test/fhir/Observation?page=2')), start);
    expect(reads).toEqual(['Observation?page=2']);
    expect(paged.observations).toHaveLength(entries.length);
    expect(paged.truncated).toBeUndefined();

    const foreign = await collectDeteriorationData(invocation(page(0, 50, 'http://elsewhere.test/fhir/Observation?page=2')), start);
    expect(reads).toHaveLength(1);
    expect(foreign.truncated).toMatch(/another server/);
  });
});
