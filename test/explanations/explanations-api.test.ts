/**
 * GET /explanations/{id} and GET /models/{id}/card: real SMART access tokens (signed by the sandbox
 * authorization server's token signer), requireAccess (401 / 403 / 200), one AuditEvent per decision,
 * and the SQLite store surviving a reopen.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Express } from 'express';
import request from 'supertest';
import { dataHash, type ExplanationRecord } from '../../src/explanations/record.js';
import { openSqliteExplanationStore } from '../../src/explanations/sqlite-store.js';
import type { AuditStore } from '../../src/storage/audit-store.js';
import { createTokenSigner } from '../../src/smart/sandbox-auth/tokens.js';
import { createExplanationsApi, FHIR_BASE, ISSUER, sepsisRecord, type ExplanationsApi } from './helpers.js';

const record = (id: string, patientId: string): ExplanationRecord => sepsisRecord(id, patientId, [[1, NaN]]);

let api: ExplanationsApi;
let dir: string;
let audit: AuditStore;
let app: Express;

beforeAll(async () => {
  api = await createExplanationsApi('vigil-explanations-', [record('11111111-1111-4111-8111-111111111111', 'pat-a'), record('22222222-2222-4222-8222-222222222222', 'pat-b')]);
  ({ dir, audit, app } = api);
});
afterAll(async () => {
  await api.close();
});

const token = (scope: string, patient?: string): Promise<string> => api.token(scope, patient);

const get = (id: string, bearer?: string) => {
  const req = request(app).get(`/explanations/${id}`);
  return bearer ? req.set('Authorization', `Bearer ${bearer}`) : req;
};

describe('GET /explanations/{id}', () => {
  const A = '11111111-1111-4111-8111-111111111111';
  const B = '22222222-2222-4222-8222-222222222222';

  it('401 without a token or with one signed by someone else', async () => {
    const none = await get(A);
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toMatch(/^Bearer realm="vigil"/);
    const other = await createTokenSigner();
    const forged = (await other.accessToken({ clientId: 'x', scope: 'patient/RiskAssessment.rs', patient: 'pat-a' }, { issuer: ISSUER, audience: FHIR_BASE, lifetimeSeconds: 300 })).token;
    expect((await get(A, forged)).status).toBe(401);
  });

  it("200 with the record for the token's own patient, 403 for another patient's, 403 without RiskAssessment scope", async () => {
    const forA = await token('launch patient/RiskAssessment.rs patient/Observation.rs', 'pat-a');
    const ok = await get(A, forA);
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ id: A, patientId: 'pat-a', model: { version: '1.1.0' }, factors: [{ evidence: ['Observation/lac-1'] }] });
    expect(ok.headers['cache-control']).toBe('no-store');
    expect((await get(B, forA)).status).toBe(403);
    expect((await get(A, await token('patient/Observation.rs', 'pat-a'))).status).toBe(403);
  });

  it('404 for an unknown id only to a token that could read it (user-level scope)', async () => {
    const user = await token('user/RiskAssessment.rs');
    expect((await get('33333333-3333-4333-8333-333333333333', user)).status).toBe(404);
    expect((await get('33333333-3333-4333-8333-333333333333')).status).toBe(401);
    // A patient-confined token cannot tell another patient's record from no record: 403 for both.
    expect((await get('33333333-3333-4333-8333-333333333333', await token('patient/RiskAssessment.rs', 'pat-a'))).status).toBe(403);
  });

  it('writes one AuditEvent per decision about a record, refusals included', async () => {
    const forA = await audit.list({ patientId: 'pat-a' });
    const forB = await audit.list({ patientId: 'pat-b' });
    expect(forA.map((e) => e.outcome).sort()).toEqual(['0', '4']);
    expect(forB.map((e) => e.outcome)).toEqual(['4']);
    expect(forA.find((e) => e.outcome === '0')).toMatchObject({ outcomeDesc: 'explanation read', agent: [{ who: { reference: 'Practitioner/dr-1' } }] });
  });
});

describe('GET /models/{id}/card', () => {
  it('serves the public model card with its HTI-1 attributes; 404 for an unknown model', async () => {
    const res = await request(app).get('/models/deterioration/card');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: 'deterioration', version: expect.any(String) });
    expect(res.body.hti1).toBeDefined();
    expect((await request(app).get('/models/nope/card')).status).toBe(404);
    expect((await request(app).get('/models/..%2F..%2Fpackage.json/card')).status).toBe(404);
  });
});

describe('explanation store', () => {
  it('keeps records across a reopen, and hashes data independently of key order and NaN spelling', async () => {
    const reopened = openSqliteExplanationStore(dir);
    expect((await reopened.get('11111111-1111-4111-8111-111111111111'))?.patientId).toBe('pat-a');
    expect(await reopened.get('nope')).toBeUndefined();
    await reopened.close();
    expect(dataHash({ a: 1, b: [NaN, 2] })).toBe(dataHash({ b: [null, 2], a: 1 }));
    expect(dataHash({ a: 1 })).not.toBe(dataHash({ a: 2 }));
    expect(dataHash({ rows: [new Float32Array([1, NaN])] })).toBe(dataHash({ rows: [[1, null]] }));
  });
});
