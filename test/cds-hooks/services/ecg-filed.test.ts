/**
 * vigil-ecg-rhythm-filed over real HTTP (issue 10, the filed-ECG hook `org.example.vigil.observation-create`):
 * the sandbox EHR files a shipped tracing as a new Observation and signs the hook call (ES384 client JWT);
 * AF → one warning card with the class probabilities and the stretches that drove it; normal → no card;
 * an unusable tracing → "cannot classify"; a malformed context → 400 naming the field; no JWT → 401;
 * discovery lists the service on its hook. Precompute is off here, so the hook does the work itself.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Bundle, Observation } from 'fhir/r4';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey } from 'jose';
import { createVigil, type Vigil } from '../../../src/app.js';
import type { CdsResponse, CdsServiceDefinition } from '../../../src/cds-hooks/types.js';
import { openShippedRegistry } from './deterioration-fixtures.js';
import { listenVigil, okJson as json, shippedPatientOf, silentLogger, testConfig, type ListeningVigil } from '../helpers.js';

const HOOK = 'org.example.vigil.observation-create';
/** A second trusted EHR (CDS_CLIENTS_FILE) so the test can read discovery with its own signed JWT. */
const TEST_EHR = 'https://ehr.test.example';
let ehrKey: CryptoKey;

interface HookCall {
  url: string;
  headers: Record<string, string>;
  body: { hook: string; context: Record<string, unknown> } & Record<string, unknown>;
}

let vigil: Vigil;
let listening: ListeningVigil;
let origin = '';
let dataDir = '';

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'vigil-ecg-filed-'));
  const keys = await generateKeyPair('ES384', { extractable: true });
  ehrKey = keys.privateKey;
  const cdsClientsFile = path.join(dataDir, 'clients.json');
  writeFileSync(cdsClientsFile, JSON.stringify([{ issuer: TEST_EHR, jwks: { keys: [{ ...(await exportJWK(keys.publicKey)), kid: 'k1', alg: 'ES384' }] }, services: ['*'] }]));
  const config = testConfig({ dataDir, cdsClientsFile, sandbox: true, sandboxFhirAuth: false, precompute: false, rateLimitRps: 0, explainThread: 'off' });
  vigil = await createVigil(config, { logger: silentLogger, modelRegistry: openShippedRegistry() });
  listening = await listenVigil(vigil);
  origin = listening.origin;
});

afterAll(async () => {
  await listening.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const patientOf = (tracingId: string) => shippedPatientOf(vigil, tracingId);

/** The sandbox EHR files the tracing for the patient and returns the signed hook call. */
async function file(tracingId: string, patientId = patientOf(tracingId)): Promise<{ observation: { id: string; reference: string }; call: HookCall }> {
  const res = await fetch(`${origin}/sandbox/api/ecg-filing`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ patientId, tracingId }) });
  expect(res.status).toBe(201);
  return json(res);
}

const post = (call: HookCall, body: unknown = call.body, headers: Record<string, string> = call.headers) => fetch(call.url, { method: 'POST', headers, body: JSON.stringify(body) });

describe('vigil-ecg-rhythm-filed', () => {
  it('discovery lists the service on the reverse-domain hook, without prefetch', async () => {
    const jwt = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES384', typ: 'JWT', kid: 'k1' })
      .setIssuer(TEST_EHR)
      .setAudience(`${origin}/cds-services`)
      .setIssuedAt()
      .setExpirationTime('5m')
      .setJti(randomUUID())
      .sign(ehrKey);
    const res = await fetch(`${origin}/cds-services`, { headers: { Authorization: `Bearer ${jwt}` } });
    const services = (await json<{ services: CdsServiceDefinition[] }>(res)).services;
    const filed = services.find((s) => s.id === 'vigil-ecg-rhythm-filed');
    expect(filed).toMatchObject({ hook: HOOK });
    expect(filed!.prefetch).toBeUndefined();
  });

  let afCall: HookCall;

  it('AF tracing filed → one warning card with the class probabilities and the stretches that drove it', async () => {
    const { observation, call } = await file('ecg-a00027');
    afCall = call;
    expect(call.body.hook).toBe(HOOK);
    const bundle = call.body.context.observations as Bundle;
    expect(bundle.entry!.map((e) => `Observation/${e.resource!.id}`)).toEqual([observation.reference]);
    const { cards } = await json<CdsResponse>(await post(call));
    expect(cards).toHaveLength(1);
    const card = cards[0]!;
    expect(card.indicator).toBe('warning');
    expect(card.summary).toMatch(/^ECG rhythm: atrial fibrillation \(\d/);
    expect(card.detail).toContain(observation.reference);
    for (const name of ['normal sinus rhythm', 'atrial fibrillation', 'other rhythm', 'too noisy to classify']) expect(card.detail).toMatch(new RegExp(`\\| (\\*\\*)?${name}(\\*\\*)? \\| (< )?\\d+(\\.\\d)? %`));
    expect(card.detail).toMatch(/Stretches that drove "atrial fibrillation" most:\*\*\n- \d+ s–\d+ s/);
    expect(card.links!.some((l) => l.type === 'smart')).toBe(true);
  }, 90_000);

  it('normal tracing filed → no card, even for a patient whose newest ECG on the server is AF (exactly the filed tracing is classified)', async () => {
    const { call } = await file('ecg-a00006', patientOf('ecg-a00027'));
    expect((await json<CdsResponse>(await post(call))).cards).toEqual([]);
  }, 90_000);

  it('unusable tracing (too short) → "cannot classify" card', async () => {
    const { call } = await file('ecg-a00027');
    const observations = structuredClone(call.body.context.observations) as Bundle<Observation>;
    const o = observations.entry![0]!.resource!;
    const sd = o.valueSampledData ?? o.component![0]!.valueSampledData!;
    sd.data = sd.data!.split(' ').slice(0, 300 * 5).join(' ');
    const { cards } = await json<CdsResponse>(await post(call, { ...call.body, context: { ...call.body.context, observations } }));
    expect(cards).toHaveLength(1);
    expect(cards[0]!.summary).toBe('ECG rhythm not classified: the tracing cannot be used');
  }, 60_000);

  const malformed: Array<[string, (c: Record<string, unknown>) => void, string]> = [
    ['observations missing', (c) => delete c.observations, 'context.observations'],
    ['observations not a Bundle', (c) => (c.observations = { resourceType: 'Observation' }), 'context.observations'],
    ['entry not an Observation', (c) => ((c.observations as Bundle).entry = [{ resource: { resourceType: 'Patient' } }]), 'context.observations.entry[0].resource'],
    ['Observation of another patient', (c) => ((c.observations as Bundle<Observation>).entry![0]!.resource!.subject = { reference: 'Patient/someone-else' }), 'context.observations.entry[0].resource.subject'],
    ['empty Bundle', (c) => ((c.observations as Bundle).entry = []), 'context.observations.entry'],
    ['patientId missing', (c) => delete c.patientId, 'context.patientId'],
  ];
  it.each(malformed)('malformed context (%s) → 400', async (_name, mutate, field) => {
    const { call } = await file('ecg-a00006');
    const context = structuredClone(call.body.context);
    mutate(context);
    const res = await post(call, { ...call.body, context });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { details?: Array<{ field: string }> };
    expect(body.details!.map((d) => d.field)).toContain(field);
  });

  it('no client JWT → 401, and nothing is classified', async () => {
    const { call } = await file('ecg-a00027');
    const { computed } = vigil.explanationEngine.stats;
    const res = await post(call, call.body, { 'Content-Type': 'application/json' });
    expect(res.status).toBe(401);
    expect(vigil.explanationEngine.stats.computed).toBe(computed);
  });

  it('the same filed Observation announced twice is classified once (the second answer comes from the cache)', async () => {
    const before = vigil.explanationEngine.stats;
    // The EHR re-sends the AF filing with a fresh client JWT (a jti is single-use): file() signs one; only its headers are used.
    const resend = (await file('ecg-a00006')).call;
    const { cards } = await json<CdsResponse>(await post(resend, { ...resend.body, context: afCall.body.context }));
    expect(cards[0]!.summary).toMatch(/^ECG rhythm: atrial fibrillation/);
    expect(vigil.explanationEngine.stats.computed).toBe(before.computed);
    expect(vigil.explanationEngine.stats.served).toBe(before.served + 1);
  });
});
