/**
 * The new-ECG trigger through the FHIR store (issue 10): the whole app on a real port (sandbox EHR,
 * precompute on, shipped models). An ECG Observation POSTed to the sandbox FHIR server over HTTP is
 * classified and explained ahead of time; AF becomes a RiskAssessment (basis → the Observation) within a
 * bounded time; the next patient-view (signed by the sandbox EHR) is served from the engine's cache; the same
 * Observation filed again, or announced by the filed-ECG hook, is not classified again; HL7's
 * onPatientDataChanged seam (PrecomputeWorker.notify) classifies the patient's newest ECG.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Bundle, Observation, RiskAssessment } from 'fhir/r4';
import { createVigil, type Vigil } from '../../src/app.js';
import type { CdsResponse } from '../../src/cds-hooks/types.js';
import { ecgRiskAssessmentId } from '../../src/precompute/ecg.js';
import { openShippedRegistry } from '../cds-hooks/services/deterioration-fixtures.js';
import { listenVigil, okJson as json, shippedPatientOf, silentLogger, testConfig, type ListeningVigil } from '../cds-hooks/helpers.js';

// Shipped tracings (docs/services/ecg-rhythm.md §Sandbox): A00027 is called AF, A00006 normal.
const AF_TRACING = 'ecg-a00027';
const NORMAL_TRACING = 'ecg-a00006';
/** Generous for two busy CI cores: one analysis takes ≈ 2 s on wasm here. */
const TRIGGER_BUDGET_MS = 60_000;

let vigil: Vigil;
let listening: ListeningVigil;
let origin = '';
let dataDir = '';

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'vigil-ecg-precompute-'));
  const config = testConfig({ dataDir, sandbox: true, sandboxFhirAuth: false, precompute: true, precomputePollSeconds: 0, rateLimitRps: 0, explainThread: 'off' });
  vigil = await createVigil(config, { logger: silentLogger, modelRegistry: openShippedRegistry() });
  listening = await listenVigil(vigil);
  origin = listening.origin;
});

afterAll(async () => {
  await listening.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const fhir = (rel: string, init: RequestInit = {}) => fetch(`${origin}/sandbox/fhir/${rel}`, { ...init, headers: { Accept: 'application/fhir+json', 'Content-Type': 'application/fhir+json', ...(init.headers ?? {}) } });

/** A new Observation carrying a shipped tracing's waveform, for a patient, recorded now. */
function newEcg(shippedId: string, patientId: string): Observation {
  const shipped = vigil.sandboxStore!.read('Observation', shippedId) as Observation;
  const { id: _id, meta: _meta, ...rest } = structuredClone(shipped);
  return { ...rest, subject: { reference: `Patient/${patientId}` }, effectiveDateTime: new Date().toISOString() };
}

const patientOf = (shippedId: string) => shippedPatientOf(vigil, shippedId);

/** Resolves when the worker has drained, or fails past the budget. */
async function precomputed(): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const budget = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`precompute not done within ${TRIGGER_BUDGET_MS} ms`)), TRIGGER_BUDGET_MS)));
  try {
    await Promise.race([vigil.precompute!.idle(), budget]);
  } finally {
    clearTimeout(timer);
  }
}

async function riskAssessments(patientId: string): Promise<RiskAssessment[]> {
  const bundle = await json<Bundle>(await fhir(`RiskAssessment?patient=Patient/${patientId}`));
  return (bundle.entry ?? []).map((e) => e.resource as RiskAssessment);
}

async function fire(body: Record<string, unknown>): Promise<CdsResponse> {
  const call = await json<{ url: string; headers: Record<string, string>; body: unknown }>(
    await fetch(`${origin}/sandbox/api/hook-request`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  );
  return json<CdsResponse>(await fetch(call.url, { method: 'POST', headers: call.headers, body: JSON.stringify(call.body) }));
}

describe('new-ECG trigger: FHIR store create → precompute', () => {
  let patientId = '';
  let observationId = '';

  it('an AF ECG POSTed to the sandbox FHIR server becomes a RiskAssessment within the budget', async () => {
    patientId = patientOf(AF_TRACING);
    const before = vigil.explanationEngine.stats.computed;
    const started = performance.now();
    const res = await fhir('Observation', { method: 'POST', body: JSON.stringify(newEcg(AF_TRACING, patientId)) });
    expect(res.status).toBe(201);
    observationId = ((await res.json()) as Observation).id!;
    await precomputed();
    const elapsed = performance.now() - started;
    expect(elapsed).toBeLessThan(TRIGGER_BUDGET_MS);

    const found = (await riskAssessments(patientId)).filter((ra) => ra.basis?.some((b) => b.reference === `Observation/${observationId}`));
    expect(found).toHaveLength(1);
    const ra = found[0]!;
    const { version } = JSON.parse(readFileSync('models/ecg-rhythm/manifest.json', 'utf8')) as { version: string };
    expect(ra.id).toBe(ecgRiskAssessmentId(`Observation/${observationId}`, version));
    expect(ra).toMatchObject({ status: 'preliminary', subject: { reference: `Patient/${patientId}` }, method: { coding: [{ code: 'ecg-rhythm' }] } });
    expect(ra.prediction!.map((p) => p.outcome!.text)).toEqual(['atrial fibrillation', 'normal sinus rhythm', 'other rhythm', 'too noisy to classify']);
    expect(ra.prediction![0]!.outcome!.coding![0]).toMatchObject({ system: 'http://snomed.info/sct', code: '49436004' });
    const probabilities = ra.prediction!.map((p) => p.probabilityDecimal!);
    expect(probabilities[0]).toBeGreaterThan(0.5);
    expect(probabilities.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 3);
    expect(vigil.explanationEngine.stats.computed).toBe(before + 1);
    expect(vigil.precompute!.stats.ecg).toMatchObject({ computed: 1, riskAssessments: 1, failed: 0 });
  }, TRIGGER_BUDGET_MS + 10_000);

  it("the sandbox EHR's inbox lists it for the patient, and lists the shipped tracings to file", async () => {
    const { riskAssessments: items } = await json<{ riskAssessments: Array<{ basis: string[]; outcome: string; probability: number; status: string }> }>(
      await fetch(`${origin}/sandbox/api/patients/${patientId}/risk-assessments`),
    );
    expect(items.find((i) => i.basis.includes(`Observation/${observationId}`))).toMatchObject({ outcome: 'atrial fibrillation', status: 'preliminary' });
    const { tracings } = await json<{ tracings: Array<{ id: string; patientId: string }> }>(await fetch(`${origin}/sandbox/api/ecg-tracings`));
    expect(tracings.map((t) => t.id)).toEqual(expect.arrayContaining([AF_TRACING, NORMAL_TRACING]));
    expect(tracings.find((t) => t.id === AF_TRACING)!.patientId).toBe(patientId);
  });

  it('the next patient-view classifies that ECG from the cache (no new computation)', async () => {
    const { computed, served } = vigil.explanationEngine.stats;
    const { cards } = await fire({ serviceId: 'vigil-ecg-rhythm', hook: 'patient-view', patientId });
    expect(cards).toHaveLength(1);
    expect(cards[0]!.summary).toMatch(/^ECG rhythm: atrial fibrillation/);
    expect(cards[0]!.detail).toContain(`Observation/${observationId}`);
    expect(cards[0]!.detail).toMatch(/Stretches that drove "atrial fibrillation" most/);
    expect(vigil.explanationEngine.stats.computed).toBe(computed);
    expect(vigil.explanationEngine.stats.served).toBe(served + 1);
  }, 30_000);

  it('idempotent: the same Observation filed again (PUT, same waveform) is not classified again and gets no second RiskAssessment', async () => {
    const stored = vigil.sandboxStore!.read('Observation', observationId) as Observation;
    const { computed } = vigil.explanationEngine.stats;
    const res = await fhir(`Observation/${observationId}`, { method: 'PUT', body: JSON.stringify(stored) });
    expect(res.status).toBe(200);
    await precomputed();
    expect(vigil.explanationEngine.stats.computed).toBe(computed);
    expect(vigil.precompute!.stats.ecg).toMatchObject({ computed: 1, fresh: 1, riskAssessments: 1 });
    expect((await riskAssessments(patientId)).filter((ra) => ra.basis?.some((b) => b.reference === `Observation/${observationId}`))).toHaveLength(1);
  }, TRIGGER_BUDGET_MS + 10_000);

  it('a normal ECG is classified ahead of time but writes no RiskAssessment', async () => {
    const normalPatient = patientOf(NORMAL_TRACING);
    const before = (await riskAssessments(normalPatient)).length;
    const res = await fhir('Observation', { method: 'POST', body: JSON.stringify(newEcg(NORMAL_TRACING, normalPatient)) });
    expect(res.status).toBe(201);
    await precomputed();
    expect(vigil.precompute!.stats.ecg).toMatchObject({ computed: 2, riskAssessments: 1, failed: 0 });
    expect(await riskAssessments(normalPatient)).toHaveLength(before);
  }, TRIGGER_BUDGET_MS + 10_000);

  it('HL7 seam: notify(patient) classifies the newest ECG — here already cached, so nothing is recomputed', async () => {
    const { computed } = vigil.explanationEngine.stats;
    const fresh = vigil.precompute!.stats.ecg!.fresh;
    vigil.precompute!.notify(patientId);
    await precomputed();
    expect(vigil.precompute!.stats.ecg!.fresh).toBe(fresh + 1);
    expect(vigil.explanationEngine.stats.computed - computed).toBeLessThanOrEqual(1); // the deterioration model may compute once
  }, TRIGGER_BUDGET_MS + 10_000);

  it('other resources written to the store (and RiskAssessments themselves) do not trigger ECG work', async () => {
    const notified = vigil.precompute!.stats.ecg!.notified;
    const res = await fhir('Observation', {
      method: 'POST',
      body: JSON.stringify({ resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] }, subject: { reference: `Patient/${patientId}` }, effectiveDateTime: new Date().toISOString(), valueQuantity: { value: 80, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' } }),
    });
    expect(res.status).toBe(201);
    expect(vigil.precompute!.stats.ecg!.notified).toBe(notified);
  });
});
