import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import express from 'express';
import request from 'supertest';
import type { Bundle, Observation } from 'fhir/r4';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { loadConfig } from '../../../src/config.js';
import { CdsClientRegistry } from '../../../src/cds-hooks/clients.js';
import { createCdsHooksRouter, discoveryEntry } from '../../../src/cds-hooks/router.js';
import { createServices } from '../../../src/cds-hooks/services/index.js';
import { jsonErrorHandler } from '../../../src/http/error-handler.js';
import { createLogger } from '../../../src/logger.js';
import { openFeedbackStore, type FeedbackStore } from '../../../src/storage/feedback-store.js';
import { LOINC, VITALS } from '../../../src/fhir/codes.js';
import { createSandbox, keepSupported, type Sandbox } from '../../../src/sandbox/index.js';
import { ageAt } from '../../../src/sandbox/patients.js';

const logger = createLogger('silent');
const ANCHOR = '2026-01-10T08:00:00Z';

/** A one-patient data directory in the loader's format, with a few vitals at the anchor. */
function writeFixtureData(dir: string): void {
  const vital = (id: string, code: string, value: number, unit: string): Observation => ({
    resourceType: 'Observation',
    id,
    status: 'final',
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }],
    code: { coding: [{ system: LOINC, code }] },
    subject: { reference: 'Patient/sbx-1' },
    effectiveDateTime: ANCHOR,
    valueQuantity: { value, unit },
  });
  const resources = [
    { resourceType: 'Patient' as const, id: 'sbx-1', gender: 'female' as const, birthDate: '1950-06-01', name: [{ family: 'Fixture', given: ['Ada'] }] },
    vital('v-hr', VITALS.heartRate, 118, '/min'),
    vital('v-rr', VITALS.respiratoryRate, 26, '/min'),
    vital('v-spo2', VITALS.spo2, 91, '%'),
    vital('v-temp', VITALS.bodyTemperature, 38.6, 'Cel'),
    vital('v-sbp', VITALS.systolicBp, 95, 'mm[Hg]'),
  ];
  const bundle: Bundle = {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: resources.map((resource) => ({ resource, request: { method: 'PUT', url: `${resource.resourceType}/${resource.id}` } })),
  };
  writeFileSync(path.join(dir, 'sbx-1.json'), JSON.stringify(bundle));
  writeFileSync(
    path.join(dir, 'index.json'),
    JSON.stringify({
      anchor: ANCHOR,
      patients: [
        {
          id: 'sbx-1',
          file: 'sbx-1.json',
          name: 'Ada Fixture',
          gender: 'female',
          birthDate: '1950-06-01',
          age: 75,
          scenario: 'Febrile and tachypnoeic',
          provenance: {
            physionet: { patientId: 'p000001', septic: false, sepsisLabelHoursBeforeAnchor: null, iculosAtAnchor: 10, windowHours: 10, age: 75, unit: 'MICU' },
            synthea: { file: 'x.json', patientId: 'x' },
            uci: null,
          },
        },
      ],
    }),
  );
}

let tmp: string;
let sandbox: Sandbox;
let registry: CdsClientRegistry;
let feedbackStore: FeedbackStore;
let server: Server;
let origin: string;

beforeAll(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'vigil-sandbox-'));
  writeFixtureData(tmp);
  const config = loadConfig({ DATA_DIR: tmp, LOG_LEVEL: 'silent' });
  const services = createServices();
  registry = new CdsClientRegistry();
  feedbackStore = openFeedbackStore(':memory:');
  sandbox = await createSandbox({
    config,
    logger,
    dataDir: tmp,
    services: () => services.map((s) => discoveryEntry(s.definition)),
    clients: registry,
  });
  const app = express();
  app.use('/cds-services', createCdsHooksRouter({ config, logger, services, feedbackStore }));
  app.use('/sandbox', sandbox.router);
  app.use(jsonErrorHandler(logger));
  server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await sandbox.close();
  await feedbackStore.close();
  rmSync(tmp, { recursive: true, force: true });
});

describe('createSandbox', () => {
  it('loads the patients into the FHIR store, shifted to end near now', async () => {
    expect(sandbox.patientCount).toBe(1);
    // The FHIR server enforces SMART tokens (SANDBOX_FHIR_AUTH on by default); read with one for this patient.
    const { token } = await sandbox.auth.issueAccessToken({ clientId: 'test', scope: 'patient/*.rs', patient: 'sbx-1' }, { baseUrl: origin, lifetimeSeconds: 60 });
    await request(origin).get('/sandbox/fhir/Observation/v-hr').expect(401);
    const res = await request(origin).get('/sandbox/fhir/Observation/v-hr').set('Authorization', `Bearer ${token}`).expect(200);
    const shifted = new Date(res.body.effectiveDateTime).getTime();
    const now = Date.now();
    expect(now - shifted).toBeGreaterThanOrEqual(0);
    expect(now - shifted).toBeLessThanOrEqual(60 * 60 * 1000);
  });

  it('serves the page as HTML with the demo-data warning and a strict CSP', async () => {
    const res = await request(origin).get('/sandbox/').expect(200).expect('Content-Type', /text\/html/);
    expect(res.text).toContain('Sandbox EHR — synthetic/de-identified demo data, not for clinical use');
    expect(res.text).toContain('<script type="module" src="./app.js">');
    expect(res.headers['content-security-policy']).toContain("script-src 'self'");
    expect(res.headers['x-content-type-options']).toBe('nosniff');
  });

  it.each([
    ['/sandbox/app.js', /javascript/],
    ['/sandbox/markdown.js', /javascript/],
    ['/sandbox/style.css', /text\/css/],
  ])('serves %s with content type %s', async (url, type) => {
    await request(origin).get(url).expect(200).expect('Content-Type', type);
  });

  it('serves the SMART styling document its token responses point apps to', async () => {
    const res = await request(origin).get('/sandbox/smart-style.json').expect(200).expect('Content-Type', /json/);
    expect(res.body).toMatchObject({ color_background: '#ffffff', color_text: '#1a1a1a', color_highlight: '#0b4f9c' });
  });

  it('publishes a public-only JWKS', async () => {
    const res = await request(origin).get('/sandbox/.well-known/jwks.json').expect(200);
    expect(res.body.keys).toHaveLength(1);
    expect(res.body.keys[0]).toMatchObject({ kty: 'EC', crv: 'P-384', alg: 'ES384', kid: sandbox.identity.kid });
    expect(res.body.keys[0]).not.toHaveProperty('d');
  });

  it('lists the app services and the shipped patients', async () => {
    const services = await request(origin).get('/sandbox/api/services').expect(200);
    expect(services.body.services.length).toBeGreaterThan(0);
    const patients = await request(origin).get('/sandbox/api/patients').expect(200);
    expect(patients.body.patients).toEqual([
      { id: 'sbx-1', name: 'Ada Fixture', gender: 'female', birthDate: '1950-06-01', age: ageAt('1950-06-01', new Date()), scenario: 'Febrile and tachypnoeic' },
    ]);
  });
});

describe('keepSupported', () => {
  it('drops entries of types the FHIR server cannot hold and counts them', () => {
    const skipped = new Map<string, number>();
    const bundle: Bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { resource: { resourceType: 'Patient', id: 'a' } },
        { resource: { resourceType: 'AllergyIntolerance', id: 'b', patient: { reference: 'Patient/a' } } },
        { resource: { resourceType: 'AllergyIntolerance', id: 'c', patient: { reference: 'Patient/a' } } },
      ],
    };
    const kept = keepSupported(bundle, new Set(['Patient']), skipped);
    expect(kept.entry!.map((e) => e.resource!.id)).toEqual(['a']);
    expect(Object.fromEntries(skipped)).toEqual({ AllergyIntolerance: 2 });
    expect(bundle.entry).toHaveLength(3); // input untouched
  });
});

describe('hook call end to end', () => {
  async function hookCall(prefetch: 'fill' | 'none') {
    const services = await request(origin).get('/sandbox/api/services').expect(200);
    const service = services.body.services.find((s: { hook: string }) => s.hook === 'patient-view');
    const res = await request(origin)
      .post('/sandbox/api/hook-request')
      .send({ serviceId: service.id, hook: 'patient-view', patientId: 'sbx-1', prefetch })
      .expect(200);
    return res.body as { url: string; headers: Record<string, string>; body: Record<string, unknown> };
  }

  it('signs a JWT the service can verify by fetching the jku over HTTP, and registers the issuer', async () => {
    const call = await hookCall('fill');
    const jwt = call.headers.Authorization!.slice('Bearer '.length);
    const jku = JSON.parse(Buffer.from(jwt.split('.')[0]!, 'base64url').toString()).jku as string;
    expect(jku).toBe(`${origin}/sandbox/.well-known/jwks.json`);
    const { payload } = await jwtVerify(jwt, createRemoteJWKSet(new URL(jku)), { issuer: `${origin}/sandbox`, audience: call.url });
    expect(payload.jti).toBeDefined();
    const client = registry.byIssuer(`${origin}/sandbox`);
    expect(client?.services).toEqual(['*']);
    expect(client?.jwks?.keys[0]?.kid).toBe(sandbox.identity.kid);
    expect(client?.jku).toBe(jku);
  });

  const answers: Record<string, Array<{ summary: string; indicator?: string; detail?: string }>> = {};

  it.each(['fill', 'none'] as const)('the service answers the call with prefetch=%s', async (prefetch) => {
    const call = await hookCall(prefetch);
    expect(call.url.startsWith(`${origin}/cds-services/`)).toBe(true);
    const res = await request(origin).post(call.url.slice(origin.length)).set(call.headers).send(call.body);
    expect(res.status).toBe(200);
    expect(Array.isArray(res.body.cards)).toBe(true);
    answers[prefetch] = res.body.cards;
  });

  it('the service reaches the same answer from prefetch as from querying the sandbox FHIR server', () => {
    // Same clinical content; uuids and suggestion timestamps differ per call.
    const strip = (cards: Array<{ summary: string; indicator?: string; detail?: string }>) =>
      cards.map(({ summary, indicator, detail }) => ({ summary, indicator, detail }));
    expect(answers.fill!.length).toBeGreaterThan(0);
    expect(answers.fill![0]!.summary).toMatch(/^NEWS2 \d+/);
    expect(answers.fill![0]!.summary).not.toMatch(/stale/);
    expect(strip(answers.none!)).toEqual(strip(answers.fill!));
  });

  it('feedback built by the sandbox is accepted by the service', async () => {
    const services = await request(origin).get('/sandbox/api/services').expect(200);
    const serviceId = services.body.services[0].id as string;
    const call = await request(origin)
      .post('/sandbox/api/feedback-request')
      .send({ serviceId, feedback: [{ card: '5d0ab1d4-5a3c-4bb1-9a1e-2f9f7a1b2c3d', outcome: 'overridden', overrideReason: { userComment: 'already treated' } }] })
      .expect(200);
    await request(origin).post(call.body.url.slice(origin.length)).set(call.body.headers).send(call.body.body).expect(200);
  });
});
