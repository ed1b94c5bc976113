import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import express from 'express';
import request from 'supertest';
import { createCdsHooksRouter } from '../../src/cds-hooks/router.js';
import { createCard, createSuggestion } from '../../src/cds-hooks/cards.js';
import type { CdsService, HookInvocation } from '../../src/cds-hooks/types.js';
import { PreconditionFailedError } from '../../src/errors.js';
import { openFeedbackStore } from '../../src/storage/feedback-store.js';
import { createLogger } from '../../src/logger.js';
import { draftOrders, hookBody, silentLogger, startFakeFhir, testConfig, type FakeFhirServer } from './helpers.js';

const HOOKS = ['patient-view', 'order-select', 'order-sign', 'encounter-start', 'encounter-discharge', 'appointment-book'];

/** Echoes which prefetch keys it received, so tests can see resolution. */
function echoService(id: string, hook: string, extra: Partial<CdsService> = {}): CdsService {
  return {
    definition: { id, hook, title: `Echo ${hook}`, description: `Echo service for ${hook}` },
    async handle(inv: HookInvocation) {
      const keys = Object.entries(inv.prefetch).map(([k, v]) => `${k}=${v ? v.resourceType : 'null'}`);
      return {
        cards: [
          createCard({
            summary: `${inv.request.hook} ${keys.join(' ')}`.trim(),
            indicator: 'info',
            source: { label: 'Vigil test' },
            detail: JSON.stringify(inv.prefetch),
          }),
        ],
      };
    },
    ...extra,
  };
}

const logLines: string[] = [];
const capturingLogger = createLogger('info', { write: (line: string) => void logLines.push(line) });

const services: CdsService[] = [
  ...HOOKS.map((hook) => echoService(`echo-${hook}`, hook)),
  {
    ...echoService('vitals', 'patient-view'),
    definition: {
      id: 'vitals',
      hook: 'patient-view',
      title: 'Vitals',
      description: 'Needs the patient, would like heart rates',
      prefetch: { patient: 'Patient/{{context.patientId}}', heartRates: 'Observation?patient={{context.patientId}}&code=8867-4' },
      usageRequirements: 'Patient and Observation read access',
    },
    requiredPrefetch: ['patient'],
  },
  {
    definition: { id: 'thrower', hook: 'patient-view', description: 'Always fails' },
    async handle() {
      throw new TypeError('cannot read properties of patient Jane Doe MRN 12345');
    },
  },
  {
    definition: { id: 'needs-data', hook: 'patient-view', description: 'Signals missing data itself' },
    async handle() {
      throw new PreconditionFailedError('no vitals');
    },
  },
  {
    definition: { id: 'slow', hook: 'patient-view', description: 'Exceeds the deadline' },
    handle: (inv) =>
      new Promise((resolve) => {
        const t = setTimeout(() => resolve({ cards: [] }), 10_000);
        inv.signal?.addEventListener('abort', () => clearTimeout(t));
      }),
  },
  {
    definition: { id: 'bad-output', hook: 'patient-view', description: 'Returns an invalid card' },
    async handle() {
      return { cards: [{ summary: 'x', indicator: 'urgent', source: { label: 'x' } }] } as never;
    },
  },
  {
    definition: { id: 'sloppy', hook: 'order-sign', description: 'Returns repairable cards' },
    async handle() {
      return {
        cards: [
          {
            summary: 'A'.repeat(200),
            indicator: 'warning',
            source: { label: 'Vigil' },
            suggestions: [{ label: 'Cancel', actions: [{ type: 'delete', description: 'Remove', resourceId: 'MedicationRequest/m1' }] }],
            links: [
              { label: 'ok', url: 'https://example.org/x', type: 'absolute' },
              { label: 'relative', url: '/x', type: 'absolute' },
            ],
          },
        ],
        systemActions: [{ type: 'update', description: 'Annotate', resource: { resourceType: 'MedicationRequest', id: 'm1' } }],
      } as never;
    },
  },
  {
    definition: { id: 'suggests', hook: 'order-select', description: 'Uses the card builders' },
    async handle() {
      return { cards: [createCard({ summary: 'Consider', indicator: 'info', source: { label: 'V' }, suggestions: [createSuggestion('Do it')] })] };
    },
  },
];

let fhir: FakeFhirServer;
let app: express.Express;
const TOKEN = 'ehr-issued-token-123';
const feedbackStore = openFeedbackStore(':memory:');

beforeAll(async () => {
  fhir = await startFakeFhir({
    'Patient/p1': { body: { resourceType: 'Patient', id: 'p1' } },
    'Observation?patient=p1&code=8867-4': { body: { resourceType: 'Bundle', type: 'searchset', total: 0 } },
    'Patient/p401': { status: 401, body: { resourceType: 'OperationOutcome', issue: [] } },
    'Observation?patient=p401&code=8867-4': { status: 401, body: { resourceType: 'OperationOutcome', issue: [] } },
    'Patient/pslow': { delayMs: 5000, body: { resourceType: 'Patient', id: 'pslow' } },
    'Observation?patient=pslow&code=8867-4': { delayMs: 5000, body: { resourceType: 'Bundle', type: 'searchset' } },
    'Patient/popt': { body: { resourceType: 'Patient', id: 'popt' } },
    'Observation?patient=popt&code=8867-4': { status: 404, body: { resourceType: 'OperationOutcome', issue: [] } },
  });
  app = express();
  app.use(
    '/cds-services',
    createCdsHooksRouter({
      config: testConfig({ prefetchTimeoutMs: 1000, hookDeadlineMs: 2000 }),
      logger: capturingLogger,
      services,
      feedbackStore,
    }),
  );
});
afterAll(async () => {
  await fhir.close();
  await feedbackStore.close();
});

const auth = { access_token: TOKEN, token_type: 'Bearer', expires_in: 300, scope: 'patient/*.read', subject: 'vigil' };

function withPatient(patientId: string, extra: Record<string, unknown> = {}) {
  const body = hookBody('patient-view', { fhirServer: fhir.baseUrl, fhirAuthorization: auth, ...extra });
  (body.context as Record<string, unknown>).patientId = patientId;
  return body;
}

describe('discovery', () => {
  it('lists every service with the spec fields only', async () => {
    const res = await request(app).get('/cds-services').expect(200);
    expect(res.headers['content-type']).toMatch(/application\/json/);
    expect(res.body.services).toHaveLength(services.length);
    const vitals = res.body.services.find((s: { id: string }) => s.id === 'vitals');
    expect(vitals).toEqual({
      hook: 'patient-view',
      id: 'vitals',
      title: 'Vitals',
      description: 'Needs the patient, would like heart rates',
      prefetch: { patient: 'Patient/{{context.patientId}}', heartRates: 'Observation?patient={{context.patientId}}&code=8867-4' },
      usageRequirements: 'Patient and Observation read access',
    });
    expect(vitals).not.toHaveProperty('requiredPrefetch');
    const thrower = res.body.services.find((s: { id: string }) => s.id === 'thrower');
    expect(Object.keys(thrower).sort()).toEqual(['description', 'hook', 'id']);
  });

  it('refuses two services with one id', () => {
    expect(() =>
      createCdsHooksRouter({ config: testConfig(), logger: silentLogger, services: [services[0]!, services[0]!], feedbackStore }),
    ).toThrow(/share the id/);
  });
});

describe('invocation happy paths', () => {
  it.each(HOOKS)('%s', async (hook) => {
    const res = await request(app).post(`/cds-services/echo-${hook}`).send(hookBody(hook)).expect(200);
    expect(res.body.cards).toHaveLength(1);
    expect(res.body.cards[0]).toMatchObject({ summary: hook, indicator: 'info', source: { label: 'Vigil test' } });
    expect(res.body.cards[0].uuid).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('accepts application/fhir+json and a charset', async () => {
    await request(app)
      .post('/cds-services/echo-patient-view')
      .set('Content-Type', 'application/fhir+json; charset=utf-8')
      .send(JSON.stringify(hookBody('patient-view')))
      .expect(200);
  });

  it('accepts a selection given by draftOrders fullUrl', async () => {
    const body = hookBody('order-select');
    const ctx = body.context as Record<string, unknown>;
    const bundle = draftOrders('MedicationRequest/m1');
    bundle.entry![0]!.fullUrl = 'urn:uuid:9b3c3ab4-0c0e-4a5e-9a58-4b0b1c2a0f11';
    ctx.draftOrders = bundle;
    ctx.selections = ['MedicationRequest/m1'];
    await request(app).post('/cds-services/echo-order-select').send(body).expect(200);
  });

  it('uses the EHR prefetch without calling the FHIR server', async () => {
    const before = fhir.requests.length;
    const body = hookBody('patient-view', {
      prefetch: { patient: { resourceType: 'Patient', id: 'p1' }, heartRates: { resourceType: 'Bundle', type: 'searchset' } },
    });
    const res = await request(app).post('/cds-services/vitals').send(body).expect(200);
    expect(res.body.cards[0].summary).toBe('patient-view patient=Patient heartRates=Bundle');
    expect(fhir.requests.length).toBe(before);
  });

  it('drops malformed prefetch resources before the handler and says so on the card', async () => {
    const good = { resourceType: 'Observation', id: 'hr-1', status: 'final', code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] }, valueQuantity: { value: 80 } };
    const bad = (id: string) => ({ resourceType: 'Observation', id, status: 'final', code: { coding: false } });
    const body = hookBody('patient-view', {
      prefetch: {
        patient: { resourceType: 'Patient', id: 'p1' },
        heartRates: { resourceType: 'Bundle', type: 'searchset', entry: [{ resource: good }, { resource: bad('x1') }, { resource: bad('x2') }] },
      },
    });
    const res = await request(app).post('/cds-services/vitals').send(body).expect(200);
    const detail: string = res.body.cards[0].detail;
    const [seen] = detail.split('\n\n');
    expect(JSON.parse(seen!).heartRates.entry.map((e: { resource: { id: string } }) => e.resource.id)).toEqual(['hr-1']);
    expect(detail.endsWith('_2 resources sent by the EHR for this assessment were malformed (wrong data types) and were not used._')).toBe(true);
    const clean = await request(app)
      .post('/cds-services/vitals')
      .send(hookBody('patient-view', { prefetch: { patient: { resourceType: 'Patient', id: 'p1' }, heartRates: { resourceType: 'Bundle', type: 'searchset', entry: [{ resource: good }] } } }))
      .expect(200);
    expect(clean.body.cards[0].detail).not.toContain('malformed');
  });

  it('fetches missing keys from fhirServer with the EHR token, unchanged', async () => {
    const before = fhir.requests.length;
    const res = await request(app).post('/cds-services/vitals').send(withPatient('p1')).expect(200);
    expect(res.body.cards[0].summary).toBe('patient-view patient=Patient heartRates=Bundle');
    const made = fhir.requests.slice(before);
    expect(made.map((r) => r.url).sort()).toEqual(['Observation?patient=p1&code=8867-4', 'Patient/p1']);
    for (const r of made) expect(r.authorization).toBe(`Bearer ${TOKEN}`);
  });

  it('fetches only the keys the EHR did not send (null counts as not sent)', async () => {
    const before = fhir.requests.length;
    const body = withPatient('p1', { prefetch: { patient: { resourceType: 'Patient', id: 'p1' }, heartRates: null } });
    await request(app).post('/cds-services/vitals').send(body).expect(200);
    expect(fhir.requests.slice(before).map((r) => r.url)).toEqual(['Observation?patient=p1&code=8867-4']);
  });

  it('fetches without a token when the EHR gave fhirServer only', async () => {
    const before = fhir.requests.length;
    const body = hookBody('patient-view', { fhirServer: fhir.baseUrl });
    await request(app).post('/cds-services/vitals').send(body).expect(200);
    const made = fhir.requests.slice(before);
    expect(made).toHaveLength(2);
    for (const r of made) expect(r.authorization).toBeUndefined();
  });

  it('turns a failing optional key into null', async () => {
    const res = await request(app).post('/cds-services/vitals').send(withPatient('popt')).expect(200);
    expect(res.body.cards[0].summary).toBe('patient-view patient=Patient heartRates=null');
  });

  it('passes an explicit null for a required key through when there is no fhirServer', async () => {
    const body = hookBody('patient-view', { prefetch: { patient: null } });
    const res = await request(app).post('/cds-services/vitals').send(body).expect(200);
    expect(res.body.cards[0].summary).toBe('patient-view patient=null heartRates=null');
  });

  it('repairs sloppy output: uuids, summary length, selectionBehavior, bad links; passes systemActions', async () => {
    const res = await request(app).post('/cds-services/sloppy').send(hookBody('order-sign')).expect(200);
    const card = res.body.cards[0];
    expect([...card.summary]).toHaveLength(139);
    expect(card.summary.endsWith('…')).toBe(true);
    expect(card.uuid).toBeTruthy();
    expect(card.suggestions[0].uuid).toBeTruthy();
    expect(card.selectionBehavior).toBe('at-most-one');
    expect(card.links).toEqual([{ label: 'ok', url: 'https://example.org/x', type: 'absolute' }]);
    expect(res.body.systemActions).toEqual([
      { type: 'update', description: 'Annotate', resource: { resourceType: 'MedicationRequest', id: 'm1' } },
    ]);
  });

  it('keeps builder suggestions and their uuids', async () => {
    const res = await request(app).post('/cds-services/suggests').send(hookBody('order-select')).expect(200);
    expect(res.body.cards[0].selectionBehavior).toBe('at-most-one');
    expect(res.body.cards[0].suggestions[0]).toMatchObject({ label: 'Do it', uuid: expect.any(String) });
  });
});

type Case = {
  name: string;
  path?: string;
  method?: 'post' | 'get' | 'put' | 'delete';
  body?: unknown;
  raw?: string;
  contentType?: string;
  status: number;
  field?: string;
};

function mutate(hook: string, fn: (body: Record<string, unknown>, ctx: Record<string, unknown>) => void): Record<string, unknown> {
  const body = hookBody(hook);
  fn(body, body.context as Record<string, unknown>);
  return body;
}

const PV = '/cds-services/echo-patient-view';
const OSEL = '/cds-services/echo-order-select';
const OSIGN = '/cds-services/echo-order-sign';

const cases: Case[] = [
  { name: 'malformed JSON', raw: '{"hook": ', contentType: 'application/json', status: 400, field: 'body' },
  { name: 'JSON array body', body: [1, 2], status: 400, field: 'body' },
  { name: 'empty JSON body', raw: '', contentType: 'application/json', status: 400, field: 'hook' },
  { name: 'text/plain content type', raw: '{}', contentType: 'text/plain', status: 415 },
  { name: 'form content type', raw: 'a=b', contentType: 'application/x-www-form-urlencoded', status: 415 },
  { name: 'no content type', raw: undefined, contentType: undefined, status: 415 },
  { name: 'missing hook', body: mutate('patient-view', (b) => delete b.hook), status: 400, field: 'hook' },
  { name: 'wrong hook for service', body: hookBody('order-sign'), status: 400, field: 'hook' },
  { name: 'missing hookInstance', body: mutate('patient-view', (b) => delete b.hookInstance), status: 400, field: 'hookInstance' },
  { name: 'hookInstance not a UUID', body: mutate('patient-view', (b) => (b.hookInstance = 'abc')), status: 400, field: 'hookInstance' },
  { name: 'relative fhirServer', body: mutate('patient-view', (b) => (b.fhirServer = '/fhir')), status: 400, field: 'fhirServer' },
  { name: 'ftp fhirServer', body: mutate('patient-view', (b) => (b.fhirServer = 'ftp://x/fhir')), status: 400, field: 'fhirServer' },
  { name: 'fhirAuthorization without fhirServer', body: mutate('patient-view', (b) => (b.fhirAuthorization = auth)), status: 400, field: 'fhirServer' },
  ...(['access_token', 'token_type', 'expires_in', 'scope', 'subject'] as const).map((k) => ({
    name: `fhirAuthorization missing ${k}`,
    body: mutate('patient-view', (b) => {
      b.fhirServer = 'https://ehr.example/fhir';
      const a: Record<string, unknown> = { ...auth };
      delete a[k];
      b.fhirAuthorization = a;
    }),
    status: 400,
    field: `fhirAuthorization.${k}`,
  })),
  { name: 'token_type not Bearer', body: mutate('patient-view', (b) => ((b.fhirServer = 'https://e/fhir'), (b.fhirAuthorization = { ...auth, token_type: 'MAC' }))), status: 400, field: 'fhirAuthorization.token_type' },
  { name: 'expires_in not an integer', body: mutate('patient-view', (b) => ((b.fhirServer = 'https://e/fhir'), (b.fhirAuthorization = { ...auth, expires_in: '300' }))), status: 400, field: 'fhirAuthorization.expires_in' },
  { name: 'fhirAuthorization.patient empty', body: mutate('patient-view', (b) => ((b.fhirServer = 'https://e/fhir'), (b.fhirAuthorization = { ...auth, patient: '' }))), status: 400, field: 'fhirAuthorization.patient' },
  { name: 'fhirAuthorization not an object', body: mutate('patient-view', (b) => ((b.fhirServer = 'https://e/fhir'), (b.fhirAuthorization = 'tok'))), status: 400, field: 'fhirAuthorization' },
  { name: 'missing context', body: mutate('patient-view', (b) => delete b.context), status: 400, field: 'context' },
  { name: 'context not an object', body: mutate('patient-view', (b) => (b.context = 'x')), status: 400, field: 'context' },
  { name: 'missing context.userId', body: mutate('patient-view', (_b, c) => delete c.userId), status: 400, field: 'context.userId' },
  { name: 'userId without type', body: mutate('patient-view', (_b, c) => (c.userId = 'u1')), status: 400, field: 'context.userId' },
  { name: 'userId of a wrong type', body: mutate('patient-view', (_b, c) => (c.userId = 'Device/d1')), status: 400, field: 'context.userId' },
  { name: 'missing context.patientId', body: mutate('patient-view', (_b, c) => delete c.patientId), status: 400, field: 'context.patientId' },
  { name: 'patientId not a FHIR id', body: mutate('patient-view', (_b, c) => (c.patientId = 'p 1/..')), status: 400, field: 'context.patientId' },
  { name: 'encounterId a number', body: mutate('patient-view', (_b, c) => (c.encounterId = 12)), status: 400, field: 'context.encounterId' },
  { name: 'order-select missing selections', path: OSEL, body: mutate('order-select', (_b, c) => delete c.selections), status: 400, field: 'context.selections' },
  { name: 'order-select empty selections', path: OSEL, body: mutate('order-select', (_b, c) => (c.selections = [])), status: 400, field: 'context.selections' },
  { name: 'order-select selection not a reference', path: OSEL, body: mutate('order-select', (_b, c) => (c.selections = [42])), status: 400, field: 'context.selections[0]' },
  { name: 'order-select selection not in draftOrders', path: OSEL, body: mutate('order-select', (_b, c) => (c.selections = ['MedicationRequest/m1', 'MedicationRequest/zzz'])), status: 400, field: 'context.selections[1]' },
  { name: 'order-select missing draftOrders', path: OSEL, body: mutate('order-select', (_b, c) => delete c.draftOrders), status: 400, field: 'context.draftOrders' },
  { name: 'order-select draftOrders not a Bundle', path: OSEL, body: mutate('order-select', (_b, c) => (c.draftOrders = { resourceType: 'MedicationRequest' })), status: 400, field: 'context.draftOrders' },
  { name: 'order-sign missing draftOrders', path: OSIGN, body: mutate('order-sign', (_b, c) => delete c.draftOrders), status: 400, field: 'context.draftOrders' },
  { name: 'order-sign draftOrders entry without resource', path: OSIGN, body: mutate('order-sign', (_b, c) => (c.draftOrders = { resourceType: 'Bundle', entry: [{}] })), status: 400, field: 'context.draftOrders.entry[0].resource' },
  { name: 'encounter-start missing encounterId', path: '/cds-services/echo-encounter-start', body: mutate('encounter-start', (_b, c) => delete c.encounterId), status: 400, field: 'context.encounterId' },
  { name: 'encounter-start patient as user', path: '/cds-services/echo-encounter-start', body: mutate('encounter-start', (_b, c) => (c.userId = 'Patient/p1')), status: 400, field: 'context.userId' },
  { name: 'encounter-discharge missing encounterId', path: '/cds-services/echo-encounter-discharge', body: mutate('encounter-discharge', (_b, c) => delete c.encounterId), status: 400, field: 'context.encounterId' },
  { name: 'appointment-book missing appointments', path: '/cds-services/echo-appointment-book', body: mutate('appointment-book', (_b, c) => delete c.appointments), status: 400, field: 'context.appointments' },
  { name: 'prefetch not an object', body: mutate('patient-view', (b) => (b.prefetch = [1])), status: 400, field: 'prefetch' },
  { name: 'prefetch value not a resource', body: mutate('patient-view', (b) => (b.prefetch = { patient: { id: 'p1' } })), status: 400, field: 'prefetch.patient' },
  { name: 'extension not an object', body: mutate('patient-view', (b) => (b.extension = 'x')), status: 400, field: 'extension' },
  { name: 'unknown service', path: '/cds-services/nope', body: hookBody('patient-view'), status: 404 },
  { name: 'unknown service feedback', path: '/cds-services/nope/feedback', body: { feedback: [] }, status: 404 },
  { name: 'unknown route', path: '/cds-services/echo-patient-view/extra/path', body: {}, status: 404 },
  { name: 'GET on a service', method: 'get', path: PV, status: 404 },
  { name: 'PUT on discovery', method: 'put', path: '/cds-services', body: {}, status: 404 },
  { name: 'required prefetch, no fhirServer', path: '/cds-services/vitals', body: hookBody('patient-view'), status: 412, field: 'prefetch.patient' },
  { name: 'required prefetch, fhirServer 401', path: '/cds-services/vitals', body: 'withPatient:p401', status: 412, field: 'prefetch.patient' },
  { name: 'required prefetch, fhirServer 404', path: '/cds-services/vitals', body: 'withPatient:pmissing', status: 412, field: 'prefetch.patient' },
  { name: 'required prefetch, fhirServer time-out', path: '/cds-services/vitals', body: 'withPatient:pslow', status: 412, field: 'prefetch.patient' },
  { name: 'handler signals missing data', path: '/cds-services/needs-data', body: hookBody('patient-view'), status: 412 },
];

describe('every 4xx path', () => {
  it.each(cases)('$name → $status $field', async (c) => {
    const method = c.method ?? 'post';
    let req = request(app)[method](c.path ?? PV);
    if (c.contentType) req = req.set('Content-Type', c.contentType);
    let res;
    if (typeof c.body === 'string' && c.body.startsWith('withPatient:')) res = await req.send(withPatient(c.body.split(':')[1]!));
    else if (c.raw !== undefined) res = await req.send(c.raw);
    else if (c.body !== undefined) res = await req.send(c.body as object);
    else res = await req;
    expect(res.status).toBe(c.status);
    expect(res.headers['content-type']).toMatch(/application\/json/);
    expect(typeof res.body.error).toBe('string');
    expect(typeof res.body.message).toBe('string');
    expect(Array.isArray(res.body.details)).toBe(true);
    if (c.field) expect(res.body.details.map((d: { field: string }) => d.field)).toContain(c.field);
    expect(JSON.stringify(res.body)).not.toContain(TOKEN);
  });

  it('reports every bad field at once', async () => {
    const body = mutate('patient-view', (b, c) => {
      delete b.hookInstance;
      delete c.patientId;
      c.userId = 'x';
    });
    const res = await request(app).post(PV).send(body).expect(400);
    expect(res.body.details.map((d: { field: string }) => d.field).sort()).toEqual(['context.patientId', 'context.userId', 'hookInstance']);
  });

  it('names every unobtainable required key and says why', async () => {
    const res = await request(app).post('/cds-services/vitals').send(withPatient('p401')).expect(412);
    expect(res.body.error).toBe('precondition_failed');
    expect(res.body.details).toEqual([{ field: 'prefetch.patient', message: expect.stringContaining('401') }]);
  });
});

describe('handler failures', () => {
  it('answers 500 without internals when a service throws, logging class and message only', async () => {
    logLines.length = 0;
    const body = withPatient('p1');
    const res = await request(app).post('/cds-services/thrower').send(body).expect(500);
    expect(res.body).toEqual({ error: 'internal_error', message: 'The CDS service failed to process this request', details: [] });
    const logged = logLines.join('\n');
    expect(logged).toContain('TypeError');
    expect(logged).not.toContain(TOKEN);
    expect(logged).not.toContain('"patientId"');
  });

  it('answers 500 when a service returns an invalid card', async () => {
    const res = await request(app).post('/cds-services/bad-output').send(hookBody('patient-view')).expect(500);
    expect(res.body.message).toBe('The CDS service failed to process this request');
  });

  it('answers 200 with one degraded info card when the hook deadline passes (issue 9: never a 5xx)', async () => {
    const started = Date.now();
    const res = await request(app).post('/cds-services/slow').send(hookBody('patient-view')).expect(200);
    expect(res.body.cards).toHaveLength(1);
    expect(res.body.cards[0]).toMatchObject({ indicator: 'info', source: { label: 'Vigil' } });
    expect(res.body.cards[0].detail).toContain('not a low-risk result');
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('never logs the FHIR token or prefetch data', async () => {
    logLines.length = 0;
    await request(app).post('/cds-services/vitals').send(withPatient('p1')).expect(200);
    await request(app).post('/cds-services/vitals').send(withPatient('p401')).expect(412);
    const logged = logLines.join('\n');
    expect(logged).toContain('hook answered');
    expect(logged).not.toContain(TOKEN);
    expect(logged).not.toContain('Patient/p1');
  });
});

describe('CORS', () => {
  it.each([
    ['discovery', '/cds-services'],
    ['service', PV],
    ['feedback', `${PV}/feedback`],
  ])('answers the %s preflight with 204 and the CORS headers', async (_name, path) => {
    const res = await request(app)
      .options(path)
      .set('Origin', 'https://ehr.example')
      .set('Access-Control-Request-Method', 'POST')
      .set('Access-Control-Request-Headers', 'authorization, content-type')
      .expect(204);
    expect(res.headers['access-control-allow-origin']).toBe('https://ehr.example');
    expect(res.headers['access-control-allow-methods']).toBe('GET, POST, OPTIONS');
    expect(res.headers['access-control-allow-headers']).toBe('Authorization, Content-Type, Accept, X-Request-Id');
    expect(res.headers['access-control-expose-headers']).toContain('X-Request-Id');
    expect(res.headers.vary).toMatch(/Origin/);
  });

  it('sets CORS headers on real responses, errors included, and * without Origin', async () => {
    const ok = await request(app).get('/cds-services').set('Origin', 'https://ehr.example').expect(200);
    expect(ok.headers['access-control-allow-origin']).toBe('https://ehr.example');
    const err = await request(app).post('/cds-services/nope').send({}).expect(404);
    expect(err.headers['access-control-allow-origin']).toBe('*');
    const bad = await request(app).post(PV).set('Origin', 'https://ehr.example').send({}).expect(400);
    expect(bad.headers['access-control-allow-origin']).toBe('https://ehr.example');
  });
});

describe('authenticate seam', () => {
  it('runs after CORS and can refuse calls', async () => {
    const { UnauthorizedError } = await import('../../src/errors.js');
    const guarded = express();
    guarded.use(
      '/cds-services',
      createCdsHooksRouter({
        config: testConfig(),
        logger: silentLogger,
        services: services.slice(0, 1),
        feedbackStore,
        authenticate: (req, _res, next) =>
          next(req.get('authorization') === 'Bearer ok' ? undefined : new UnauthorizedError('JWT required')),
      }),
    );
    await request(guarded).options('/cds-services').expect(204);
    const refused = await request(guarded).get('/cds-services').expect(401);
    expect(refused.headers['www-authenticate']).toBe('Bearer');
    await request(guarded).get('/cds-services').set('Authorization', 'Bearer ok').expect(200);
  });
});

describe('body limit', () => {
  it('answers 413 for a body over BODY_LIMIT', async () => {
    const small = express();
    small.use(
      '/cds-services',
      createCdsHooksRouter({ config: testConfig({ bodyLimit: '1kb' }), logger: silentLogger, services: services.slice(0, 1), feedbackStore }),
    );
    const body = hookBody('patient-view', { extension: { pad: 'x'.repeat(2000) } });
    const res = await request(small).post(PV).send(body).expect(413);
    expect(res.body.error).toBe('payload_too_large');
  });
});
