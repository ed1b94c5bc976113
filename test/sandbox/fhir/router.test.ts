import { beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import express, { type Express, type Request } from 'express';
import request from 'supertest';
import type { Bundle, CapabilityStatement, Observation, OperationOutcome } from 'fhir/r4';
import { ForbiddenError } from '../../../src/errors.js';
import { createLogger } from '../../../src/logger.js';
import { FhirStore } from '../../../src/sandbox/fhir/store.js';
import { createFhirRouter, type AuthorizeFhirRequest, type FhirInteraction } from '../../../src/sandbox/fhir/router.js';
import { loadFhirDefinitions } from '../../../src/sandbox/fhir/validation.js';

const FHIR_JSON = 'application/fhir+json';
const LOINC = 'http://loinc.org';
const logger = createLogger('silent');

function hr(patient: string, when: string, value = 80): Observation {
  return {
    resourceType: 'Observation',
    status: 'final',
    code: { coding: [{ system: LOINC, code: '8867-4' }] },
    subject: { reference: `Patient/${patient}` },
    effectiveDateTime: when,
    valueQuantity: { value, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
  };
}

let store: FhirStore;
let app: Express;

function appWith(authorize?: AuthorizeFhirRequest): Express {
  const a = express();
  a.set('trust proxy', 'loopback');
  a.use('/sandbox/fhir', createFhirRouter({ store, logger, authorize }));
  return a;
}

beforeAll(() => {
  loadFhirDefinitions();
});

beforeEach(() => {
  store = new FhirStore();
  store.create({ resourceType: 'Patient', id: 'p1', gender: 'female' });
  store.create({ ...hr('p1', '2024-01-01T10:00:00Z'), id: 'o1' });
  store.create({ ...hr('p1', '2024-01-01T11:00:00Z'), id: 'o2' });
  app = appWith();
});

function expectOutcome(body: unknown, code: string): OperationOutcome {
  const oo = body as OperationOutcome;
  expect(oo.resourceType).toBe('OperationOutcome');
  expect(oo.issue[0]).toMatchObject({ severity: 'error', code });
  return oo;
}

describe('FHIR router: reads and searches', () => {
  it('GET /metadata: a CapabilityStatement listing what is supported', async () => {
    const res = await request(app).get('/sandbox/fhir/metadata').expect(200).expect('Content-Type', 'application/fhir+json; charset=utf-8');
    const cs = res.body as CapabilityStatement;
    expect(cs).toMatchObject({ resourceType: 'CapabilityStatement', fhirVersion: '4.0.1', kind: 'instance', status: 'active' });
    expect(cs.format).toContain('json');
    expect(cs.implementation?.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/sandbox\/fhir$/);
    const observation = cs.rest![0]!.resource!.find((r) => r.type === 'Observation')!;
    expect(observation.interaction!.map((i) => i.code)).toEqual(['read', 'search-type', 'create', 'update']);
    const params = Object.fromEntries(observation.searchParam!.map((p) => [p.name, p.type]));
    expect(params).toMatchObject({ patient: 'reference', subject: 'reference', code: 'token', date: 'date', category: 'token', _id: 'token', _lastUpdated: 'date' });
    expect(cs.rest![0]!.resource!.map((r) => r.type)).toEqual(
      expect.arrayContaining(['Patient', 'Encounter', 'Observation', 'Condition', 'MedicationRequest', 'ServiceRequest', 'AuditEvent', 'Practitioner', 'Organization', 'DiagnosticReport', 'Procedure', 'RiskAssessment']),
    );
    expect(cs.rest![0]!.interaction!.map((i) => i.code)).toEqual(['transaction', 'batch']);
    expect(observation.searchInclude).toEqual(expect.arrayContaining(['Observation:patient', 'Observation:encounter']));
    const patient = cs.rest![0]!.resource!.find((r) => r.type === 'Patient')!;
    expect(patient.searchRevInclude).toEqual(expect.arrayContaining(['Observation:patient', 'Encounter:subject']));
  });

  it('GET /metadata declares SMART security only when the router is given the OAuth endpoints', async () => {
    const plain = (await request(app).get('/sandbox/fhir/metadata').expect(200)).body as CapabilityStatement;
    expect(plain.rest![0]!.security).toBeUndefined();
    const a = express();
    a.use('/sandbox/fhir', createFhirRouter({ store, logger, smartOAuthUris: () => ({ authorize: 'https://as.example/a', token: 'https://as.example/t', revoke: 'https://as.example/r' }) }));
    const cs = (await request(a).get('/sandbox/fhir/metadata').expect(200)).body as CapabilityStatement;
    const oauth = cs.rest![0]!.security!.extension![0]!;
    expect(oauth.url).toBe('http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris');
    expect(oauth.extension).toEqual([
      { url: 'authorize', valueUri: 'https://as.example/a' },
      { url: 'token', valueUri: 'https://as.example/t' },
      { url: 'revoke', valueUri: 'https://as.example/r' },
    ]);
    expect(cs.rest![0]!.security!.service![0]!.coding![0]!.code).toBe('SMART-on-FHIR');
  });

  it('GET /{type}/{id} reads with ETag and Last-Modified', async () => {
    const res = await request(app).get('/sandbox/fhir/Observation/o1').expect(200).expect('Content-Type', /application\/fhir\+json/);
    expect(res.body).toMatchObject({ resourceType: 'Observation', id: 'o1' });
    expect(res.headers.etag).toBe('W/"1"');
    expect(res.headers['last-modified']).toBeDefined();
    await request(app).get('/sandbox/fhir/Observation/o1/_history/1').expect(200);
    expectOutcome((await request(app).get('/sandbox/fhir/Observation/o1/_history/9').expect(404)).body, 'not-found');
  });

  it('GET search answers a searchset with absolute links on the request base', async () => {
    const res = await request(app)
      .get(`/sandbox/fhir/Observation?patient=Patient/p1&code=${encodeURIComponent(`${LOINC}|8867-4`)}&_sort=-date&_count=1`)
      .set('Host', 'ehr.example:9000')
      .expect(200)
      .expect('Content-Type', 'application/fhir+json; charset=utf-8');
    const b = res.body as Bundle;
    expect(b).toMatchObject({ type: 'searchset', total: 2 });
    expect(b.entry![0]).toMatchObject({ fullUrl: 'http://ehr.example:9000/sandbox/fhir/Observation/o2', search: { mode: 'match' } });
    const next = b.link!.find((l) => l.relation === 'next')!.url;
    expect(next.startsWith('http://ehr.example:9000/sandbox/fhir/Observation?')).toBe(true);
    const page2 = await request(app).get(next.replace('http://ehr.example:9000', '')).expect(200);
    expect((page2.body as Bundle).entry![0]!.resource!.id).toBe('o1');
  });

  it('POST /{type}/_search takes a form body, merged with the URL query', async () => {
    const res = await request(app).post('/sandbox/fhir/Observation/_search?_sort=date').type('form').send('patient=p1&date=ge2024-01-01T10:30:00Z').expect(200);
    expect((res.body as Bundle).entry!.map((e) => e.resource!.id)).toEqual(['o2']);
    const json = await request(app).post('/sandbox/fhir/Observation/_search').set('Content-Type', 'application/json').send('{}').expect(415);
    expectOutcome(json.body, 'not-supported');
  });

  it('GET /{type}/_search is a search too', async () => {
    const res = await request(app).get('/sandbox/fhir/Observation/_search?patient=p1').expect(200);
    expect((res.body as Bundle).total).toBe(2);
  });

  it('unknown parameters: ignored by default, 400 with Prefer: handling=strict', async () => {
    await request(app).get('/sandbox/fhir/Observation?patient=p1&nonsense=1').expect(200);
    const res = await request(app).get('/sandbox/fhir/Observation?patient=p1&nonsense=1').set('Prefer', 'handling=strict').expect(400);
    const oo = expectOutcome(res.body, 'invalid');
    expect(oo.issue[0]!.expression).toEqual(['nonsense']);
  });

  it.each([
    ['/sandbox/fhir/Observation?date=2024-13-01', 400, 'invalid'],
    ['/sandbox/fhir/Observation?date=zz2024', 400, 'invalid'],
    ['/sandbox/fhir/Observation?_count=many', 400, 'invalid'],
    ['/sandbox/fhir/Observation/nope', 404, 'not-found'],
    ['/sandbox/fhir/Spaceship', 404, 'not-found'],
    ['/sandbox/fhir/Spaceship/1', 404, 'not-found'],
    ['/sandbox/fhir/Observation/o1/extra/path/here', 404, 'not-found'],
  ])('GET %s → %i OperationOutcome', async (url, status, code) => {
    const res = await request(app).get(url).expect(status).expect('Content-Type', /application\/fhir\+json/);
    expectOutcome(res.body, code);
  });

  it.each([
    ['delete', '/sandbox/fhir/Observation/o1'],
    ['patch', '/sandbox/fhir/Observation/o1'],
    ['delete', '/sandbox/fhir/Observation'],
    ['put', '/sandbox/fhir/Observation'],
    ['post', '/sandbox/fhir/Observation/o1'],
    ['post', '/sandbox/fhir/metadata'],
    ['get', '/sandbox/fhir/'],
  ] as const)('%s %s → 405', async (method, url) => {
    const res = await request(app)[method](url).expect(405);
    expectOutcome(res.body, 'not-supported');
  });
});

describe('FHIR router: writes', () => {
  it('POST /{type} creates: 201, server id, Location, meta; client id ignored', async () => {
    const res = await request(app)
      .post('/sandbox/fhir/Observation')
      .set('Content-Type', FHIR_JSON)
      .send(JSON.stringify({ ...hr('p1', '2024-01-02T10:00:00Z'), id: 'client-chosen' }))
      .expect(201)
      .expect('Content-Type', 'application/fhir+json; charset=utf-8');
    const created = res.body as Observation;
    expect(created.id).not.toBe('client-chosen');
    expect(created.meta).toMatchObject({ versionId: '1' });
    expect(res.headers.location).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:\\d+/sandbox/fhir/Observation/${created.id}/_history/1$`));
    expect(store.read('Observation', created.id!)).toEqual(created);
  });

  it('accepts application/json too; Prefer: return=minimal answers no body', async () => {
    const res = await request(app).post('/sandbox/fhir/Patient').set('Prefer', 'return=minimal').send({ resourceType: 'Patient' }).expect(201);
    expect(res.text).toBe('');
    expect(res.headers.location).toContain('/sandbox/fhir/Patient/');
  });

  it('invalid resources: 422 with one issue per problem, each with its expression', async () => {
    const res = await request(app)
      .post('/sandbox/fhir/Observation')
      .set('Content-Type', FHIR_JSON)
      .send(JSON.stringify({ resourceType: 'Observation', status: 'final', effectiveDateTime: 'yesterday', colour: 'blue' }))
      .expect(422);
    const oo = expectOutcome(res.body, 'processing');
    const expressions = oo.issue.flatMap((i) => i.expression ?? []);
    expect(expressions).toEqual(expect.arrayContaining(['Observation.code', 'Observation.colour']));
    expect(oo.issue.every((i) => (i.expression ?? []).length === 1)).toBe(true);
    expect(store.count('Observation')).toBe(2);
  });

  it.each([
    ['wrong content type', 'text/plain', 'hello', 415],
    ['malformed JSON', FHIR_JSON, '{"resourceType":', 400],
    ['not a resource', FHIR_JSON, '[1,2]', 400],
    ['type differs from the URL', FHIR_JSON, '{"resourceType":"Patient"}', 400],
  ])('POST with %s → %i', async (_what, type, body, status) => {
    const res = await request(app).post('/sandbox/fhir/Observation').set('Content-Type', type).send(body).expect(status);
    expect(res.body.resourceType).toBe('OperationOutcome');
  });

  it('PUT updates (200, next version) and creates with the client id (201)', async () => {
    const existing = await request(app)
      .put('/sandbox/fhir/Observation/o1')
      .set('Content-Type', FHIR_JSON)
      .send(JSON.stringify({ ...hr('p1', '2024-01-01T10:00:00Z', 95), id: 'o1' }))
      .expect(200);
    expect(existing.body.meta.versionId).toBe('2');
    expect(existing.headers.etag).toBe('W/"2"');
    const fresh = await request(app).put('/sandbox/fhir/Patient/new-1').send({ resourceType: 'Patient', id: 'new-1' }).expect(201);
    expect(fresh.headers.location).toMatch(/\/sandbox\/fhir\/Patient\/new-1\/_history\/1$/);
    const mismatch = await request(app).put('/sandbox/fhir/Patient/a').send({ resourceType: 'Patient', id: 'b' }).expect(400);
    expect(mismatch.body.issue[0].expression).toEqual(['id']);
  });

  it('POST / runs a transaction: urn:uuid references resolved, all or nothing', async () => {
    const tx: Bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { fullUrl: 'urn:uuid:11111111-1111-1111-1111-111111111111', resource: { resourceType: 'Patient', gender: 'male' }, request: { method: 'POST', url: 'Patient' } },
        {
          fullUrl: 'urn:uuid:22222222-2222-2222-2222-222222222222',
          resource: { ...hr('x', '2024-02-01T00:00:00Z'), subject: { reference: 'urn:uuid:11111111-1111-1111-1111-111111111111' } },
          request: { method: 'POST', url: 'Observation' },
        },
        { request: { method: 'GET', url: 'Patient?gender=male' } },
      ],
    };
    const res = await request(app).post('/sandbox/fhir').set('Content-Type', FHIR_JSON).send(JSON.stringify(tx)).expect(200);
    const out = res.body as Bundle;
    expect(out.type).toBe('transaction-response');
    expect(out.entry!.map((e) => e.response!.status)).toEqual(['201 Created', '201 Created', '200 OK']);
    const patientId = out.entry![0]!.resource!.id!;
    expect((out.entry![1]!.resource as Observation).subject!.reference).toBe(`Patient/${patientId}`);
    expect(out.entry![0]!.response!.location).toBe(`Patient/${patientId}/_history/1`);
    expect((out.entry![2]!.resource as Bundle).total).toBe(1);

    const before = store.count();
    const bad: Bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { resource: { resourceType: 'Patient' }, request: { method: 'POST', url: 'Patient' } },
        { resource: { resourceType: 'Observation', status: 'final' } as Observation, request: { method: 'POST', url: 'Observation' } },
      ],
    };
    const failed = await request(app).post('/sandbox/fhir').set('Content-Type', FHIR_JSON).send(JSON.stringify(bad)).expect(422);
    expect(failed.body.issue[0].expression[0]).toMatch(/^Bundle\.entry\[1\]/);
    expect(store.count()).toBe(before);
  });

  it('conditional create (If-None-Exist) and conditional update (PUT ?criteria)', async () => {
    const patient = { resourceType: 'Patient', identifier: [{ system: 'urn:mrn', value: 'M7' }] };
    const first = await request(app).post('/sandbox/fhir/Patient').set('If-None-Exist', 'identifier=urn:mrn|M7').send(patient).expect(201);
    const again = await request(app).post('/sandbox/fhir/Patient').set('If-None-Exist', 'identifier=urn:mrn|M7').send(patient).expect(200);
    expect(again.body.id).toBe(first.body.id);
    const put = await request(app).put('/sandbox/fhir/Patient?identifier=urn:mrn|M7').send({ ...patient, gender: 'other' }).expect(200);
    expect(put.body).toMatchObject({ id: first.body.id, gender: 'other', meta: { versionId: '2' } });
    const created = await request(app).put('/sandbox/fhir/Patient?identifier=urn:mrn|M8').send({ ...patient, identifier: [{ system: 'urn:mrn', value: 'M8' }] }).expect(201);
    expect(created.headers.location).toContain(`/Patient/${created.body.id}/_history/1`);
    await request(app).post('/sandbox/fhir/Patient').send(patient).expect(201);
    expectOutcome((await request(app).post('/sandbox/fhir/Patient').set('If-None-Exist', 'identifier=urn:mrn|M7').send(patient).expect(412)).body, 'conflict');
    await request(app).put('/sandbox/fhir/Patient').send(patient).expect(405);
  });

  it('a transaction resolves references to a conditionally created resource that already existed', async () => {
    const tx: Bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        {
          fullUrl: 'urn:uuid:33333333-3333-3333-3333-333333333333',
          resource: { resourceType: 'Patient', identifier: [{ system: 'urn:mrn', value: 'M9' }] },
          request: { method: 'POST', url: 'Patient', ifNoneExist: 'identifier=urn:mrn|M9' },
        },
        {
          resource: { ...hr('x', '2024-02-01T00:00:00Z'), subject: { reference: 'urn:uuid:33333333-3333-3333-3333-333333333333' } },
          request: { method: 'POST', url: 'Observation' },
        },
      ],
    };
    const one = (await request(app).post('/sandbox/fhir').send(tx).expect(200)).body as Bundle;
    const two = (await request(app).post('/sandbox/fhir').send(tx).expect(200)).body as Bundle;
    expect(one.entry!.map((e) => e.response!.status)).toEqual(['201 Created', '201 Created']);
    expect(two.entry!.map((e) => e.response!.status)).toEqual(['200 OK', '201 Created']);
    const patientId = one.entry![0]!.resource!.id!;
    expect(two.entry![0]!.resource!.id).toBe(patientId);
    expect((two.entry![1]!.resource as Observation).subject!.reference).toBe(`Patient/${patientId}`);
    expect(store.search('Patient', new URLSearchParams('identifier=urn:mrn|M9'), { baseUrl: 'http://x' }).total).toBe(1);
  });

  it('POST / runs a batch: each entry succeeds or fails on its own', async () => {
    const batch: Bundle = {
      resourceType: 'Bundle',
      type: 'batch',
      entry: [
        { resource: { resourceType: 'Patient' }, request: { method: 'POST', url: 'Patient' } },
        { resource: { resourceType: 'Observation', status: 'final' } as Observation, request: { method: 'POST', url: 'Observation' } },
        { request: { method: 'GET', url: 'Observation/nope' } },
        { request: { method: 'DELETE', url: 'Observation/o1' } },
      ],
    };
    const res = await request(app).post('/sandbox/fhir').send(batch).expect(200);
    const out = res.body as Bundle;
    expect(out.type).toBe('batch-response');
    expect(out.entry!.map((e) => e.response!.status)).toEqual(['201 Created', '422', '404', '405']);
    expect(out.entry![1]!.response!.outcome).toMatchObject({ resourceType: 'OperationOutcome' });
    await request(app).post('/sandbox/fhir').send({ resourceType: 'Bundle', type: 'collection' }).expect(400);
  });
});

describe('FHIR router: the authorize seam', () => {
  it('is called with the interaction, type and patient, and can refuse', async () => {
    const calls: Array<[FhirInteraction, string | undefined, string | undefined]> = [];
    const authorize: AuthorizeFhirRequest = (req: Request, interaction, type, patient) => {
      calls.push([interaction, type, patient]);
      if (req.get('x-deny')) throw new ForbiddenError('not your patient');
    };
    const guarded = appWith(authorize);
    await request(guarded).get('/sandbox/fhir/Observation?patient=Patient/p1').expect(200);
    await request(guarded).get('/sandbox/fhir/Observation/o1').expect(200);
    await request(guarded).get('/sandbox/fhir/Patient/p1').expect(200);
    await request(guarded).post('/sandbox/fhir/Observation').send(hr('p1', '2024-03-01T00:00:00Z')).expect(201);
    expect(calls).toEqual([
      ['search-type', 'Observation', 'p1'],
      ['read', 'Observation', 'p1'],
      ['read', 'Patient', 'p1'],
      ['create', 'Observation', 'p1'],
    ]);
    calls.length = 0;
    await request(guarded).get('/sandbox/fhir/Patient?_id=p1,p2').expect(200);
    await request(guarded).get('/sandbox/fhir/Patient?_id=p1').expect(200);
    await request(guarded).get('/sandbox/fhir/Observation?patient=p1,p2').expect(200);
    expect(calls).toEqual([
      ['search-type', 'Patient', undefined],
      ['search-type', 'Patient', 'p1'],
      ['search-type', 'Observation', undefined],
    ]);
    const denied = await request(guarded).get('/sandbox/fhir/Observation/o1').set('x-deny', '1').expect(403);
    expectOutcome(denied.body, 'forbidden');
  });

  it('leaves out included resources the caller may not read', async () => {
    store.create({ resourceType: 'Practitioner', id: 'dr1' });
    store.create({ ...hr('p1', '2024-01-01T12:00:00Z'), id: 'o3', performer: [{ reference: 'Practitioner/dr1' }] });
    const guarded = appWith((_req, interaction, type) => {
      if (interaction === 'read' && type === 'Practitioner') throw new ForbiddenError('no practitioner scope');
    });
    const url = '/sandbox/fhir/Observation?patient=p1&_include=Observation:performer&_include=Observation:patient';
    const open = (await request(app).get(url).expect(200)).body as Bundle;
    expect(open.entry!.filter((e) => e.search!.mode === 'include').map((e) => e.resource!.resourceType).sort()).toEqual(['Patient', 'Practitioner']);
    const res = (await request(guarded).get(url).expect(200)).body as Bundle;
    expect(res.total).toBe(3);
    expect(res.entry!.filter((e) => e.search!.mode === 'include').map((e) => e.resource!.resourceType)).toEqual(['Patient']);
  });

  it('authorises every entry of a transaction as its own interaction', async () => {
    const calls: Array<[FhirInteraction, string | undefined, string | undefined]> = [];
    const guarded = appWith((_req, interaction, type, patient) => {
      calls.push([interaction, type, patient]);
      if (patient === 'p2') throw new ForbiddenError('not your patient');
    });
    const tx = (patient: string): Bundle => ({
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { resource: hr(patient, '2024-03-01T00:00:00Z'), request: { method: 'POST', url: 'Observation' } },
        { request: { method: 'GET', url: 'Observation/o1' } },
        { request: { method: 'GET', url: `Observation?patient=${patient}` } },
      ],
    });
    await request(guarded).post('/sandbox/fhir').send(tx('p1')).expect(200);
    expect(calls).toEqual([
      ['transaction', undefined, undefined],
      ['create', 'Observation', 'p1'],
      ['read', 'Observation', 'p1'],
      ['search-type', 'Observation', 'p1'],
    ]);
    const before = store.count('Observation');
    await request(guarded).post('/sandbox/fhir').send(tx('p2')).expect(403);
    expect(store.count('Observation')).toBe(before);
  });

  it("checks an update against the patient the resource belongs to now, not only the one it names", async () => {
    // A caller confined to p2 must not overwrite p1's Observation by PUTting it with p2 as subject,
    // directly, by conditional update, or inside a transaction.
    store.create({ ...hr('p1', '2024-01-01T12:00:00Z'), id: 'o9', identifier: [{ system: 'urn:test', value: 'nine' }] });
    const calls: Array<[FhirInteraction, string | undefined, string | undefined]> = [];
    const onlyP2 = appWith((_req, interaction, type, patient) => {
      calls.push([interaction, type, patient]);
      if (interaction !== 'transaction' && patient !== 'p2') throw new ForbiddenError('not your patient');
    });
    const moved: Observation = { ...hr('p2', '2024-01-01T12:00:00Z', 999), id: 'o9', identifier: [{ system: 'urn:test', value: 'nine' }] };
    await request(onlyP2).put('/sandbox/fhir/Observation/o9').send(moved).expect(403);
    await request(onlyP2).put('/sandbox/fhir/Observation?identifier=urn:test|nine').send({ ...moved, id: undefined }).expect(403);
    const tx: Bundle = { resourceType: 'Bundle', type: 'transaction', entry: [{ resource: moved, request: { method: 'PUT', url: 'Observation/o9' } }] };
    await request(onlyP2).post('/sandbox/fhir').send(tx).expect(403);
    const conditionalTx: Bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [{ resource: { ...moved, id: undefined }, request: { method: 'PUT', url: 'Observation?identifier=urn:test|nine' } }],
    };
    await request(onlyP2).post('/sandbox/fhir').send(conditionalTx).expect(403);
    expect((store.read('Observation', 'o9') as Observation).valueQuantity?.value).toBe(80);
    expect(calls.filter(([i]) => i === 'update').every(([, , patient]) => patient === 'p1')).toBe(true);
    // A PUT to a new id is a create for the patient it names.
    await request(onlyP2).put('/sandbox/fhir/Observation/fresh').send({ ...moved, id: 'fresh' }).expect(201);
  });
});
