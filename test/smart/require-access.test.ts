/**
 * requireAccess: the gate for Vigil's own patient-data endpoints — 401 without or with a bad token, 403
 * for another patient or a scope without the resource type, 200 otherwise — with one AuditEvent per
 * decision about a known patient, stored in the SQLite audit store.
 */
import { afterAll, describe, expect, it } from '@jest/globals';
import express from 'express';
import request from 'supertest';
import { jsonErrorHandler } from '../../src/http/error-handler.js';
import { requireAccess, type VerifiedGrant } from '../../src/smart/require-access.js';
import { createAuditStore } from '../../src/storage/audit-store.js';
import { openSecurityDatabase } from '../../src/storage/replay-cache-sqlite.js';
import { capturingLogger } from './helpers.js';

const db = openSecurityDatabase(':memory:');
afterAll(() => {
  db.close();
});
const audit = createAuditStore(db);
const { logger, lines } = capturingLogger('debug');

const grants: Record<string, VerifiedGrant> = {
  'token-a': { clientId: 'vigil-explain', scope: 'launch/patient patient/RiskAssessment.rs', patient: 'pat-a', user: 'Practitioner/dr-1' },
  'token-obs-only': { clientId: 'vigil-explain', scope: 'patient/Observation.rs', patient: 'pat-a', user: 'Practitioner/dr-1' },
  'token-user': { clientId: 'vigil-explain', scope: 'user/RiskAssessment.rs', user: 'Practitioner/dr-2' },
};

const app = express();
app.get(
  '/explanations/:patientId',
  requireAccess({
    verify: async (token) => {
      const grant = grants[token];
      if (!grant) throw new Error('invalid');
      return grant;
    },
    resourceType: 'RiskAssessment',
    access: 'read',
    patientOf: (req) => String(req.params.patientId),
    audit,
    description: 'explanation read',
    logger,
  }),
  (_req, res) => {
    res.json({ ok: true });
  },
);
app.use(jsonErrorHandler(logger));

const get = (patient: string, token?: string) => {
  const req = request(app).get(`/explanations/${patient}`);
  return token ? req.set('Authorization', `Bearer ${token}`) : req;
};

describe('requireAccess', () => {
  it.each([
    ['no token', 'pat-a', undefined, 401],
    ['an invalid token', 'pat-a', 'forged', 401],
    ["the token's own patient", 'pat-a', 'token-a', 200],
    ["another patient's explanation", 'pat-b', 'token-a', 403],
    ['a scope without the resource type', 'pat-a', 'token-obs-only', 403],
    ['a user-level scope', 'pat-b', 'token-user', 200],
  ] as const)('%s → %i', async (_name, patient, token, status) => {
    const res = await get(patient, token);
    expect(res.status).toBe(status);
    if (status === 401) expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="vigil"/);
  });

  it('audits every decision about a patient made with a valid token, refusals included', async () => {
    const forB = await audit.list({ patientId: 'pat-b' });
    expect(forB.map((e) => e.outcome).sort()).toEqual(['0', '4']);
    const forA = await audit.list({ patientId: 'pat-a' });
    expect(forA.map((e) => e.outcome).sort()).toEqual(['0', '4']);
    const allowed = forA.find((e) => e.outcome === '0')!;
    expect(allowed).toMatchObject({ action: 'R', agent: [{ who: { reference: 'Practitioner/dr-1' }, requestor: true }], outcomeDesc: 'explanation read' });
  });

  it('logs reasons without patient ids or tokens', () => {
    const log = lines.join('\n');
    expect(log).toContain('"reason":"patient"');
    expect(log).not.toContain('pat-a');
    expect(log).not.toContain('pat-b');
    expect(log).not.toContain('token-a');
  });
});
