import { describe, expect, it, beforeAll } from '@jest/globals';
import express, { type Express } from 'express';
import request from 'supertest';
import type { Bundle } from 'fhir/r4';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { fillPrefetchTemplate } from '../../../src/cds-hooks/prefetch-template.js';
import type { CdsServiceDefinition } from '../../../src/cds-hooks/types.js';
import { jsonErrorHandler } from '../../../src/http/error-handler.js';
import { createLogger } from '../../../src/logger.js';
import { FhirStore } from '../../../src/sandbox/fhir/store.js';
import { createSandboxApiRouter, type PatientSummary } from '../../../src/sandbox/ehr/api.js';
import { createSandboxClientIdentity, type SandboxClientIdentity } from '../../../src/sandbox/ehr/client-identity.js';
import { discoveryOverHttp, staticCatalog } from '../../../src/sandbox/ehr/service-catalog.js';
import { LOINC, VITALS } from '../../../src/fhir/codes.js';

const logger = createLogger('silent');

/** A small hand-made chart: one patient, two heart-rate readings, one respiratory rate. */
const chart: Bundle = {
  resourceType: 'Bundle',
  type: 'transaction',
  entry: [
    {
      fullUrl: 'urn:uuid:11111111-1111-4111-8111-111111111111',
      resource: { resourceType: 'Patient', id: 'pat-1', gender: 'male', birthDate: '1958-04-02', name: [{ family: 'Test', given: ['Alan'] }] },
      request: { method: 'PUT', url: 'Patient/pat-1' },
    },
    ...(
      [
        ['enc-old', 'finished', '2025-01-01T00:00:00Z'],
        ['enc-now', 'in-progress', '2026-02-27T08:00:00Z'],
      ] as const
    ).map(([id, status, start]) => ({
      resource: {
        resourceType: 'Encounter' as const,
        id,
        status,
        class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'IMP' },
        subject: { reference: 'Patient/pat-1' },
        period: { start },
      },
      request: { method: 'PUT' as const, url: `Encounter/${id}` },
    })),
    ...[
      ['hr-1', VITALS.heartRate, 88, '2026-03-01T10:00:00Z'],
      ['hr-2', VITALS.heartRate, 112, '2026-03-01T11:00:00Z'],
      ['rr-1', VITALS.respiratoryRate, 24, '2026-03-01T11:00:00Z'],
    ].map(([id, code, value, when]) => ({
      resource: {
        resourceType: 'Observation' as const,
        id: String(id),
        status: 'final' as const,
        category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }],
        code: { coding: [{ system: LOINC, code: String(code) }] },
        subject: { reference: 'urn:uuid:11111111-1111-4111-8111-111111111111' },
        effectiveDateTime: String(when),
        valueQuantity: { value: Number(value), unit: '/min' },
      },
      request: { method: 'PUT' as const, url: `Observation/${id}` },
    })),
  ],
};

const patients: PatientSummary[] = [{ id: 'pat-1', name: 'Alan Test', gender: 'male', birthDate: '1958-04-02', age: 67, scenario: 'Tachycardic' }];

const services: CdsServiceDefinition[] = [
  {
    id: 'vitals-watch',
    hook: 'patient-view',
    title: 'Vitals watch',
    description: 'Reads heart rate',
    prefetch: {
      patient: 'Patient/{{context.patientId}}',
      heartRate: `Observation?patient={{context.patientId}}&code=${LOINC}|${VITALS.heartRate}&_sort=-date`,
    },
  },
  { id: 'order-check', hook: 'order-sign', description: 'Checks orders' },
  { id: 'other-hook', hook: 'encounter-discharge', description: 'Not offered by the sandbox' },
];

let identity: SandboxClientIdentity;
let store: FhirStore;
let trusted: string[];

function appWith(catalog = staticCatalog(services)): Express {
  const app = express();
  app.get('/cds-services', (_req, res) => res.json({ services }));
  app.use(
    '/sandbox/api',
    createSandboxApiRouter({
      config: { publicBaseUrl: undefined, bodyLimit: '1mb' },
      identity,
      source: store,
      fill: fillPrefetchTemplate,
      catalog,
      patients: () => patients,
      trust: (base) => trusted.push(base),
    }),
  );
  app.use(jsonErrorHandler(logger));
  return app;
}

beforeAll(async () => {
  identity = await createSandboxClientIdentity();
  store = new FhirStore();
  store.loadBundle(chart);
});

describe('sandbox EHR API', () => {
  it('GET /patients lists the loader summaries', async () => {
    const res = await request(appWith()).get('/sandbox/api/patients').expect(200).expect('Content-Type', /json/);
    expect(res.body).toEqual({ patients });
  });

  it('GET /services lists discovery entries on the hooks the sandbox can fire', async () => {
    const res = await request(appWith()).get('/sandbox/api/services').expect(200);
    expect(res.body.services.map((s: CdsServiceDefinition) => s.id)).toEqual(['vitals-watch', 'order-check']);
  });

  it('GET /services reads discovery over real HTTP from the same server by default', async () => {
    const res = await request(appWith(discoveryOverHttp())).get('/sandbox/api/services').expect(200);
    expect(res.body.services.map((s: CdsServiceDefinition) => s.id)).toEqual(['vitals-watch', 'order-check']);
  });

  it('GET /services answers 503 when discovery is down', async () => {
    const down = discoveryOverHttp({ fetchImpl: async () => new Response('nope', { status: 500 }) });
    const res = await request(appWith(down)).get('/sandbox/api/services').expect(503);
    expect(res.body.error).toBe('service_unavailable');
  });

  it('discovery over HTTP sends the Authorization header it is given', async () => {
    const seen: Array<string | null> = [];
    const catalog = discoveryOverHttp({
      fetchImpl: async (_url, init) => {
        seen.push(new Headers(init?.headers).get('authorization'));
        return Response.json({ services });
      },
      authorization: async (localOrigin) => `Bearer for ${localOrigin}`,
    });
    const list = await catalog('http://127.0.0.1:1234');
    expect(list).toHaveLength(3);
    expect(seen).toEqual(['Bearer for http://127.0.0.1:1234']);
  });

  it('GET /draft-orders lists the canned orders', async () => {
    const res = await request(appWith()).get('/sandbox/api/draft-orders').expect(200);
    expect(res.body.draftOrders.map((o: { key: string }) => o.key)).toEqual(['stress-test', 'ecg', 'lactate', 'blood-cultures', 'aspirin']);
  });

  it('POST /hook-request builds the signed call with prefetch filled from the FHIR store', async () => {
    trusted = [];
    const res = await request(appWith())
      .post('/sandbox/api/hook-request')
      .set('Host', 'ehr.example:9000')
      .send({ serviceId: 'vitals-watch', hook: 'patient-view', patientId: 'pat-1' })
      .expect(200);
    expect(res.headers['cache-control']).toBe('no-store');
    const { url, headers, body } = res.body;
    expect(url).toBe('http://ehr.example:9000/cds-services/vitals-watch');
    expect(headers['Content-Type']).toBe('application/json');
    expect(trusted).toEqual(['http://ehr.example:9000']);
    expect(body.fhirServer).toBe('http://ehr.example:9000/sandbox/fhir');
    expect(body.prefetch.patient).toMatchObject({ resourceType: 'Patient', id: 'pat-1' });
    const hr = body.prefetch.heartRate as Bundle;
    expect(hr.type).toBe('searchset');
    // Newest first, respiratory rate excluded, fullUrls on the sandbox FHIR base.
    expect(hr.entry!.map((e) => e.resource!.id)).toEqual(['hr-2', 'hr-1']);
    expect(hr.entry![0]!.fullUrl).toBe('http://ehr.example:9000/sandbox/fhir/Observation/hr-2');
    await jwtVerify(headers.Authorization.slice(7), createLocalJWKSet(identity.jwks), {
      issuer: 'http://ehr.example:9000/sandbox',
      audience: url,
    });
  });

  it('POST /hook-request puts the in-progress encounter in context unless one is given', async () => {
    const implicit = await request(appWith())
      .post('/sandbox/api/hook-request')
      .send({ serviceId: 'vitals-watch', hook: 'patient-view', patientId: 'pat-1', prefetch: 'none' })
      .expect(200);
    expect(implicit.body.body.context).toEqual({ userId: 'Practitioner/sandbox-clinician', patientId: 'pat-1', encounterId: 'enc-now' });
    const explicit = await request(appWith())
      .post('/sandbox/api/hook-request')
      .send({ serviceId: 'vitals-watch', hook: 'patient-view', patientId: 'pat-1', encounterId: 'enc-old', prefetch: 'none' })
      .expect(200);
    expect(explicit.body.body.context.encounterId).toBe('enc-old');
  });

  it('POST /hook-request with prefetch "none" sends no prefetch', async () => {
    const res = await request(appWith())
      .post('/sandbox/api/hook-request')
      .send({ serviceId: 'vitals-watch', hook: 'patient-view', patientId: 'pat-1', prefetch: 'none' })
      .expect(200);
    expect(res.body.body).not.toHaveProperty('prefetch');
    expect(res.body.body.fhirAuthorization.patient).toBe('pat-1');
  });

  it('POST /hook-request for order-sign carries the chosen draft orders', async () => {
    const res = await request(appWith())
      .post('/sandbox/api/hook-request')
      .send({ serviceId: 'order-check', hook: 'order-sign', patientId: 'pat-1', draftOrders: ['aspirin'] })
      .expect(200);
    expect(res.body.body.context.draftOrders.entry[0].resource).toMatchObject({ resourceType: 'MedicationRequest', status: 'draft' });
  });

  it.each([
    [{ serviceId: 'vitals-watch', hook: 'patient-view' }, 400, 'bad_request'],
    [{ serviceId: 'nope', hook: 'patient-view', patientId: 'pat-1' }, 404, 'not_found'],
    [{ serviceId: 'vitals-watch', hook: 'patient-view', patientId: 'nobody' }, 404, 'not_found'],
    [{ serviceId: 'order-check', hook: 'patient-view', patientId: 'pat-1' }, 400, 'bad_request'],
  ])('POST /hook-request %j → %i', async (payload, status, code) => {
    const res = await request(appWith()).post('/sandbox/api/hook-request').send(payload).expect(status);
    expect(res.body.error).toBe(code);
  });

  it('POST /hook-request rejects malformed JSON with 400', async () => {
    await request(appWith()).post('/sandbox/api/hook-request').set('Content-Type', 'application/json').send('{"x":').expect(400);
  });

  it('POST /feedback-request signs for the feedback endpoint', async () => {
    const res = await request(appWith())
      .post('/sandbox/api/feedback-request')
      .send({ serviceId: 'vitals-watch', feedback: [{ card: 'c-1', outcome: 'overridden', overrideReason: { userComment: 'seen' } }] })
      .expect(200);
    expect(res.body.url).toMatch(/\/cds-services\/vitals-watch\/feedback$/);
    expect(res.body.body.feedback[0]).toMatchObject({ card: 'c-1', outcome: 'overridden', overrideReason: { userComment: 'seen' } });
    const { payload } = await jwtVerify(res.body.headers.Authorization.slice(7), createLocalJWKSet(identity.jwks), { audience: res.body.url });
    expect(payload.jti).toBeDefined();
  });
});
