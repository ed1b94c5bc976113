/**
 * GET /patients/{id}/explanations/latest over real HTTP with real SMART access tokens (the sandbox
 * authorization server's signer): 401 / 403 / 200, another patient refused, one AuditEvent per access,
 * the newest record of each model summarised (ECG records with their rhythm).
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { LatestExplanations } from '../../src/explanations/router.js';
import { dataHash, type ExplanationRecord } from '../../src/explanations/record.js';
import type { AuditStore } from '../../src/storage/audit-store.js';
import { createTokenSigner } from '../../src/smart/sandbox-auth/tokens.js';
import { createExplanationsApi, FHIR_BASE, ISSUER, type ExplanationsApi } from './helpers.js';

function record(id: string, patientId: string, modelId: string, created: string, probability: number): ExplanationRecord {
  return {
    id,
    patientId,
    serviceId: `vigil-${modelId}`,
    cardUuid: `card-${id}`,
    model: { id: modelId, version: '1.0.0' },
    created,
    asOf: created,
    dataHash: dataHash({ id }),
    prediction: { probability, band: probability >= 0.05 ? 'high' : 'low', indicator: 'info', thresholds: { moderate: 0.01, high: 0.05 }, outcome: 'sepsis', horizonHours: 6 },
    factors: [],
    notUsed: [],
  };
}

let api: ExplanationsApi;
let audit: AuditStore;
let server: Server;
let origin: string;

beforeAll(async () => {
  const ecg = {
    ...record('a0000000-0000-4000-8000-000000000004', 'pat-a', 'ecg-rhythm', '2026-01-01T09:00:00.000Z', 0.81),
    ecg: { rhythm: 'A', classes: [{ code: 'N', name: 'normal sinus rhythm', probability: 0.1 }, { code: 'A', name: 'atrial fibrillation', probability: 0.81 }] },
  };
  api = await createExplanationsApi('vigil-latest-', [
    record('a0000000-0000-4000-8000-000000000001', 'pat-a', 'deterioration', '2026-01-01T10:00:00.000Z', 0.02),
    record('a0000000-0000-4000-8000-000000000002', 'pat-a', 'deterioration', '2026-01-01T12:00:00.000Z', 0.07),
    record('a0000000-0000-4000-8000-000000000003', 'pat-a', 'heart-disease', '2026-01-01T11:00:00.000Z', 0.4),
    ecg,
    record('b0000000-0000-4000-8000-000000000001', 'pat-b', 'deterioration', '2026-01-01T12:00:00.000Z', 0.01),
  ]);
  audit = api.audit;
  server = api.app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await api.close();
});

const token = (scope: string, patient?: string): Promise<string> => api.token(scope, patient);

const latest = (patient: string, bearer?: string) => fetch(`${origin}/patients/${patient}/explanations/latest`, bearer ? { headers: { Authorization: `Bearer ${bearer}` } } : {});

describe('GET /patients/{id}/explanations/latest', () => {
  it('401 without a token or with one signed by another key, and no audit entry for those', async () => {
    const none = await latest('pat-a');
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer realm="vigil"/);
    const other = await createTokenSigner();
    const forged = (await other.accessToken({ clientId: 'x', scope: 'patient/RiskAssessment.rs', patient: 'pat-a' }, { issuer: ISSUER, audience: FHIR_BASE, lifetimeSeconds: 300 })).token;
    expect((await latest('pat-a', forged)).status).toBe(401);
    expect(await audit.list({ patientId: 'pat-a' })).toHaveLength(0);
  });

  it("200: the token's patient's newest record of each model, summarised, ordered by model id", async () => {
    const res = await latest('pat-a', await token('launch patient/RiskAssessment.rs', 'pat-a'));
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = (await res.json()) as LatestExplanations;
    expect(body.patientId).toBe('pat-a');
    expect(body.explanations.map((e) => [e.model.id, e.id])).toEqual([
      ['deterioration', 'a0000000-0000-4000-8000-000000000002'],
      ['ecg-rhythm', 'a0000000-0000-4000-8000-000000000004'],
      ['heart-disease', 'a0000000-0000-4000-8000-000000000003'],
    ]);
    expect(body.explanations[0]).toEqual({
      id: 'a0000000-0000-4000-8000-000000000002',
      model: { id: 'deterioration', version: '1.0.0' },
      serviceId: 'vigil-deterioration',
      probability: 0.07,
      band: 'high',
      outcome: 'sepsis',
      thresholds: { moderate: 0.01, high: 0.05 },
      horizonHours: 6,
      created: '2026-01-01T12:00:00.000Z',
      asOf: '2026-01-01T12:00:00.000Z',
    });
    expect(body.explanations[1]!.rhythm).toEqual({ code: 'A', name: 'atrial fibrillation', probability: 0.81 });
    // A summary, not the record: no factors, attributions or tracing.
    expect(Object.keys(body.explanations[1]!)).not.toContain('ecg');
  });

  it("403 for another patient's list and for a token without RiskAssessment read; 400 for a malformed id", async () => {
    const forA = await token('launch patient/RiskAssessment.rs', 'pat-a');
    const other = await latest('pat-b', forA);
    expect(other.status).toBe(403);
    expect(JSON.stringify(await other.json())).not.toContain('b0000000');
    expect((await latest('pat-a', await token('patient/Observation.rs', 'pat-a'))).status).toBe(403);
    expect((await latest('pat%20a', forA)).status).toBe(400);
  });

  it('an empty list for a patient with no records (user-level token)', async () => {
    const res = await latest('pat-c', await token('user/RiskAssessment.rs'));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ patientId: 'pat-c', explanations: [] });
  });

  it('writes one AuditEvent per access with a valid token, refusals included', async () => {
    const forA = await audit.list({ patientId: 'pat-a' });
    expect(forA.map((e) => e.outcome).sort()).toEqual(['0', '4']);
    expect(forA.find((e) => e.outcome === '0')).toMatchObject({ outcomeDesc: 'explanation list read', agent: [{ who: { reference: 'Practitioner/dr-1' } }] });
    expect((await audit.list({ patientId: 'pat-b' })).map((e) => e.outcome)).toEqual(['4']);
    expect((await audit.list({ patientId: 'pat-c' })).map((e) => e.outcome)).toEqual(['0']);
  });
});
