import { describe, expect, it, beforeAll } from '@jest/globals';
import type { Bundle, FhirResource, Patient, Resource } from 'fhir/r4';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { BadRequestError, NotFoundError, UnprocessableEntityError } from '../../../src/errors.js';
import { fillPrefetchTemplate } from '../../../src/cds-hooks/prefetch-template.js';
import type { CdsServiceDefinition } from '../../../src/cds-hooks/types.js';
import { createSandboxClientIdentity, type SandboxClientIdentity } from '../../../src/sandbox/ehr/client-identity.js';
import {
  buildFeedbackCall,
  buildHookCall,
  buildHookContext,
  fillPrefetch,
  parseHookRequestInput,
  SANDBOX_CDS_SERVICE_CLIENT_ID,
  SANDBOX_USER_ID,
  type FhirResourceSource,
} from '../../../src/sandbox/ehr/hook-request.js';

const NOW = new Date('2026-03-01T12:00:00Z');
const BASE = 'http://ehr.test:8080';

/** A stand-in for the FhirStore: answers exact relative URLs, NotFound otherwise. */
function mapSource(entries: Record<string, Resource>): FhirResourceSource & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    get(url) {
      calls.push(url);
      const hit = entries[url];
      if (!hit) throw new NotFoundError(`no ${url}`);
      return hit;
    },
  };
}

const patient: Patient = { resourceType: 'Patient', id: 'p1', gender: 'female', birthDate: '1950-01-01' };
const obsBundle: Bundle = { resourceType: 'Bundle', type: 'searchset', total: 0, entry: [] };

const service: CdsServiceDefinition = {
  id: 'news2',
  hook: 'patient-view',
  description: 'NEWS2',
  prefetch: {
    patient: 'Patient/{{context.patientId}}',
    vitals: 'Observation?patient={{context.patientId}}&category=vital-signs',
    encounter: 'Encounter/{{context.encounterId}}',
    user: 'Practitioner/{{userPractitionerId}}',
  },
};

let identity: SandboxClientIdentity;
beforeAll(async () => {
  identity = await createSandboxClientIdentity();
});

describe('parseHookRequestInput', () => {
  it('accepts a minimal patient-view request', () => {
    expect(parseHookRequestInput({ serviceId: 's', hook: 'patient-view', patientId: 'p1' })).toEqual({
      serviceId: 's',
      hook: 'patient-view',
      patientId: 'p1',
    });
  });

  it.each([
    [{ hook: 'patient-view', patientId: 'p1' }, 'serviceId'],
    [{ serviceId: 's', hook: 'encounter-start', patientId: 'p1' }, 'hook'],
    [{ serviceId: 's', hook: 'patient-view', patientId: '../etc' }, 'patientId'],
    [{ serviceId: 's', hook: 'patient-view', patientId: 'p1', userId: 'Device/1' }, 'userId'],
    [{ serviceId: 's', hook: 'order-sign', patientId: 'p1', draftOrders: ['pizza'] }, 'draftOrders'],
    [{ serviceId: 's', hook: 'patient-view', patientId: 'p1', prefetch: 'some' }, 'prefetch'],
  ])('rejects %j naming field %s', (body, field) => {
    try {
      parseHookRequestInput(body);
      throw new Error('expected a BadRequestError');
    } catch (err) {
      expect(err).toBeInstanceOf(BadRequestError);
      expect((err as BadRequestError).details.map((d) => d.field)).toContain(field);
    }
  });
});

describe('buildHookContext', () => {
  it('patient-view: userId, patientId and optional encounterId only', () => {
    expect(buildHookContext({ serviceId: 's', hook: 'patient-view', patientId: 'p1' }, NOW)).toEqual({
      userId: SANDBOX_USER_ID,
      patientId: 'p1',
    });
    expect(
      buildHookContext({ serviceId: 's', hook: 'patient-view', patientId: 'p1', encounterId: 'e1', userId: 'Practitioner/9' }, NOW),
    ).toEqual({ userId: 'Practitioner/9', patientId: 'p1', encounterId: 'e1' });
  });

  it('order-sign: a draftOrders Bundle of draft resources for the patient, no selections', () => {
    const ctx = buildHookContext({ serviceId: 's', hook: 'order-sign', patientId: 'p1', encounterId: 'e1', draftOrders: ['ecg', 'aspirin'] }, NOW);
    expect(ctx).not.toHaveProperty('selections');
    const bundle = ctx.draftOrders as Bundle<FhirResource>;
    expect(bundle.resourceType).toBe('Bundle');
    const resources = bundle.entry!.map((e) => e.resource!);
    expect(resources.map((r) => `${r.resourceType}/${r.id}`)).toEqual(['ServiceRequest/draft-ecg', 'MedicationRequest/draft-aspirin']);
    for (const r of resources) {
      const order = r as { status: string; subject: { reference: string }; encounter?: { reference: string }; authoredOn: string };
      expect(order.status).toBe('draft');
      expect(order.subject.reference).toBe('Patient/p1');
      expect(order.encounter?.reference).toBe('Encounter/e1');
      expect(order.authoredOn).toBe(NOW.toISOString());
    }
  });

  it('order-select: selections default to the last draft order and must be among the drafts', () => {
    const ctx = buildHookContext({ serviceId: 's', hook: 'order-select', patientId: 'p1', draftOrders: ['stress-test', 'ecg'] }, NOW);
    expect(ctx.selections).toEqual(['ServiceRequest/draft-ecg']);
    const chosen = buildHookContext(
      { serviceId: 's', hook: 'order-select', patientId: 'p1', draftOrders: ['stress-test', 'ecg'], selections: ['ServiceRequest/draft-stress-test'] },
      NOW,
    );
    expect(chosen.selections).toEqual(['ServiceRequest/draft-stress-test']);
    expect(() =>
      buildHookContext({ serviceId: 's', hook: 'order-select', patientId: 'p1', draftOrders: ['ecg'], selections: ['ServiceRequest/other'] }, NOW),
    ).toThrow(BadRequestError);
  });

  it('order hooks default to the cardiac stress test when no order was picked', () => {
    const ctx = buildHookContext({ serviceId: 's', hook: 'order-sign', patientId: 'p1' }, NOW);
    expect((ctx.draftOrders as Bundle).entry).toHaveLength(1);
    expect((ctx.draftOrders as Bundle).entry![0]!.resource!.id).toBe('draft-stress-test');
  });
});

describe('fillPrefetch', () => {
  const context = { userId: 'Practitioner/doc', patientId: 'p1' };

  it('reads each filled template; missing resource → null; unfillable template → key omitted', async () => {
    const source = mapSource({ 'Patient/p1': patient, 'Observation?patient=p1&category=vital-signs': obsBundle });
    const prefetch = await fillPrefetch(service.prefetch!, context, { fill: fillPrefetchTemplate, source, fhirServer: `${BASE}/sandbox/fhir` });
    expect(prefetch).toEqual({ patient, vitals: obsBundle, user: null });
    expect(prefetch).not.toHaveProperty('encounter'); // no encounterId in context
    expect(source.calls).toEqual(['Patient/p1', 'Observation?patient=p1&category=vital-signs', 'Practitioner/doc']);
  });

  it('omits a key whose query the FHIR server rejects, but propagates unexpected failures', async () => {
    const rejecting: FhirResourceSource = {
      get(url) {
        if (url.startsWith('Observation')) throw new UnprocessableEntityError('unknown search parameter');
        return patient;
      },
    };
    const prefetch = await fillPrefetch(
      { patient: 'Patient/{{context.patientId}}', vitals: 'Observation?bogus={{context.patientId}}' },
      context,
      { fill: fillPrefetchTemplate, source: rejecting, fhirServer: 'x' },
    );
    expect(prefetch).toEqual({ patient });
    const broken: FhirResourceSource = {
      get() {
        throw new TypeError('bug');
      },
    };
    await expect(fillPrefetch({ p: 'Patient/{{context.patientId}}' }, context, { fill: fillPrefetchTemplate, source: broken, fhirServer: 'x' })).rejects.toThrow(
      TypeError,
    );
  });

  it('passes the FHIR base URL to the source (for Bundle fullUrls)', async () => {
    const seen: string[] = [];
    const source: FhirResourceSource = {
      get(_url, opts) {
        seen.push(opts.baseUrl);
        return patient;
      },
    };
    await fillPrefetch({ p: 'Patient/{{context.patientId}}' }, context, { fill: fillPrefetchTemplate, source, fhirServer: `${BASE}/sandbox/fhir` });
    expect(seen).toEqual([`${BASE}/sandbox/fhir`]);
  });
});

describe('buildHookCall', () => {
  const source = mapSource({ 'Patient/p1': patient, 'Observation?patient=p1&category=vital-signs': obsBundle });
  const input = parseHookRequestInput({ serviceId: 'news2', hook: 'patient-view', patientId: 'p1' });

  it('assembles URL, headers and a complete CDS Hooks request', async () => {
    const call = await buildHookCall(input, { baseUrl: `${BASE}/`, service }, { identity, source, fill: fillPrefetchTemplate, now: new Date() });
    expect(call.url).toBe(`${BASE}/cds-services/news2`);
    expect(call.headers['Content-Type']).toBe('application/json');
    expect(call.headers.Authorization).toMatch(/^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);
    const { body } = call;
    expect(body.hook).toBe('patient-view');
    expect(body.hookInstance).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(body.fhirServer).toBe(`${BASE}/sandbox/fhir`);
    expect(body.context).toEqual({ userId: SANDBOX_USER_ID, patientId: 'p1' });
    expect(body.prefetch).toEqual({ patient, vitals: obsBundle, user: null });
    expect(body.fhirAuthorization).toMatchObject({
      token_type: 'Bearer',
      expires_in: 300,
      scope: 'patient/*.read',
      subject: SANDBOX_CDS_SERVICE_CLIENT_ID,
      patient: 'p1',
    });
  });

  it('uses a fresh hookInstance per call', async () => {
    const a = await buildHookCall(input, { baseUrl: BASE, service }, { identity, source, fill: fillPrefetchTemplate });
    const b = await buildHookCall(input, { baseUrl: BASE, service }, { identity, source, fill: fillPrefetchTemplate });
    expect(a.body.hookInstance).not.toBe(b.body.hookInstance);
  });

  it('signs a client JWT that verifies against the published JWKS (CDS Hooks §Trusting CDS Clients)', async () => {
    const now = new Date();
    const call = await buildHookCall(input, { baseUrl: BASE, service }, { identity, source, fill: fillPrefetchTemplate, now });
    const jwt = call.headers.Authorization.slice('Bearer '.length);
    const header = decodeProtectedHeader(jwt);
    expect(header).toEqual({ alg: 'ES384', kid: identity.kid, typ: 'JWT', jku: `${BASE}/sandbox/.well-known/jwks.json` });
    const { payload } = await jwtVerify(jwt, createLocalJWKSet(identity.jwks), {
      issuer: `${BASE}/sandbox`,
      audience: `${BASE}/cds-services/news2`,
      algorithms: ['ES384'],
      typ: 'JWT',
      requiredClaims: ['iss', 'aud', 'exp', 'iat', 'jti'],
    });
    expect(payload.exp! - payload.iat!).toBe(300);
    expect(payload.iat).toBe(Math.floor(now.getTime() / 1000));
    expect(typeof payload.jti).toBe('string');
    // Audience is the exact service URL: another service must not accept it.
    await expect(jwtVerify(jwt, createLocalJWKSet(identity.jwks), { audience: `${BASE}/cds-services/other` })).rejects.toThrow();
  });

  it('issues a signed access token bound to the FHIR server and patient', async () => {
    const call = await buildHookCall(input, { baseUrl: BASE, service }, { identity, source, fill: fillPrefetchTemplate });
    const { payload } = await jwtVerify(call.body.fhirAuthorization!.access_token, createLocalJWKSet(identity.jwks), {
      issuer: `${BASE}/sandbox`,
      audience: `${BASE}/sandbox/fhir`,
    });
    expect(payload).toMatchObject({ sub: SANDBOX_CDS_SERVICE_CLIENT_ID, scope: 'patient/*.read', patient: 'p1' });
  });

  it('client JWTs from another key pair do not verify against ours', async () => {
    const stranger = await createSandboxClientIdentity();
    const call = await buildHookCall(input, { baseUrl: BASE, service }, { identity: stranger, source, fill: fillPrefetchTemplate });
    await expect(jwtVerify(call.headers.Authorization.slice(7), createLocalJWKSet(identity.jwks))).rejects.toThrow();
  });

  it('prefetch "none" leaves prefetch out so the service must query the FHIR server', async () => {
    const calls = source.calls.length;
    const call = await buildHookCall({ ...input, prefetch: 'none' }, { baseUrl: BASE, service }, { identity, source, fill: fillPrefetchTemplate });
    expect(call.body).not.toHaveProperty('prefetch');
    expect(source.calls.length).toBe(calls);
  });

  it('order-sign prefetch can use the draft order ids', async () => {
    const orderService: CdsServiceDefinition = {
      id: 'orders',
      hook: 'order-sign',
      description: 'x',
      prefetch: { drafts: 'ServiceRequest?_id={{context.draftOrders.ServiceRequest.id}}' },
    };
    const drafts: Bundle = { resourceType: 'Bundle', type: 'searchset', entry: [] };
    const src = mapSource({ 'ServiceRequest?_id=draft-stress-test,draft-ecg': drafts });
    const call = await buildHookCall(
      parseHookRequestInput({ serviceId: 'orders', hook: 'order-sign', patientId: 'p1', draftOrders: ['stress-test', 'ecg', 'aspirin'] }),
      { baseUrl: BASE, service: orderService },
      { identity, source: src, fill: fillPrefetchTemplate },
    );
    expect(call.body.prefetch).toEqual({ drafts });
  });

  it('refuses a service that listens on another hook', async () => {
    await expect(
      buildHookCall({ ...input, hook: 'order-sign' }, { baseUrl: BASE, service }, { identity, source, fill: fillPrefetchTemplate }),
    ).rejects.toThrow(BadRequestError);
  });
});

describe('buildFeedbackCall', () => {
  it('signs for the feedback endpoint and stamps outcomeTimestamp', async () => {
    const now = new Date();
    const call = await buildFeedbackCall(
      { serviceId: 'news2', feedback: [{ card: 'c1', outcome: 'accepted', acceptedSuggestions: [{ id: 's1' }] }] },
      BASE,
      { identity, now },
    );
    expect(call.url).toBe(`${BASE}/cds-services/news2/feedback`);
    expect(call.body.feedback).toEqual([{ card: 'c1', outcome: 'accepted', acceptedSuggestions: [{ id: 's1' }], outcomeTimestamp: now.toISOString() }]);
    const { payload } = await jwtVerify(call.headers.Authorization.slice(7), createLocalJWKSet(identity.jwks), {
      audience: `${BASE}/cds-services/news2/feedback`,
    });
    expect(payload.iss).toBe(`${BASE}/sandbox`);
  });

  it('rejects malformed feedback', async () => {
    await expect(buildFeedbackCall({ serviceId: 'x', feedback: [{ card: 'c', outcome: 'maybe' }] }, BASE, { identity })).rejects.toThrow(BadRequestError);
    await expect(buildFeedbackCall({ serviceId: 'x', feedback: [] }, BASE, { identity })).rejects.toThrow(BadRequestError);
  });
});
