/**
 * End to end through createVigil with SANDBOX=off, the production case: GET /explanations/{id} with access
 * tokens from a (fake) trusted EHR named in SMART_ALLOWED_ISSUERS — a JWT verified against its JWKS and an
 * opaque token introspected with a client secret read from a file — over real HTTP on localhost.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createVigil, type Vigil } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import type { ExplanationRecord } from '../../src/explanations/record.js';
import { openSqliteExplanationStore } from '../../src/explanations/sqlite-store.js';
import { sepsisRecord } from '../explanations/helpers.js';
import type { ModelRegistry } from '../../src/models/index.js';
import { CookieBrowser, finishCallback, locationOf } from '../web/helpers.js';
import { capturingLogger, makeKey, type TestKey } from './helpers.js';
import { startFakeEhr, type FakeEhr } from './token-verifier-fake-ehr.js';
import { listenVigil, type ListeningVigil } from '../cds-hooks/helpers.js';

const A = 'aaaaaaaa-1111-4111-8111-111111111111';
const B = 'bbbbbbbb-2222-4222-8222-222222222222';
const ADMIN_TOKEN = 'admin-token-for-this-test-0123456789';

const record = (id: string, patientId: string): ExplanationRecord => sepsisRecord(id, patientId, [[1]]);

let tmp: string;
let ehr: FakeEhr;
let key: TestKey;
let vigil: Vigil;
let listening: ListeningVigil;
let origin: string;
const captured = capturingLogger('debug');
const tokensSeen: string[] = [];

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-token-verifier-'));
  const store = openSqliteExplanationStore(tmp);
  await store.save(record(A, 'pat-a'));
  await store.save(record(B, 'pat-b'));
  await store.close();
  ehr = await startFakeEhr();
  key = await makeKey('RS384', 'ehr-key-1');
  ehr.keys = [key.jwk];
  ehr.launch.key = key;
  ehr.clients.basic = { id: 'vigil-rs', secret: 'introspection-secret' };
  const secretFile = path.join(tmp, 'introspection-secret');
  fs.writeFileSync(secretFile, 'introspection-secret\n');
  const config = loadConfig({
    DATA_DIR: tmp,
    SANDBOX: 'off',
    LOG_LEVEL: 'debug',
    HL7_PORT: 'off',
    ADMIN_TOKEN,
    SMART_ALLOWED_ISSUERS: `${ehr.fhirBase}/`,
    EHR_INTROSPECTION_CLIENT_ID: 'vigil-rs',
    EHR_INTROSPECTION_CLIENT_SECRET_FILE: secretFile,
    // The records above are dated 2026-01-01: keep them past the default retention.
    EXPLANATION_RETENTION_DAYS: '0',
  });
  // No models are needed to read stored explanations.
  const noModels: Promise<ModelRegistry> = Promise.reject(new Error('models not loaded in this test'));
  noModels.catch(() => undefined);
  vigil = await createVigil(config, { logger: captured.logger, modelRegistry: noModels, webDir: path.join(tmp, 'no-web') });
  listening = await listenVigil(vigil);
  origin = listening.origin;
}, 60_000);

afterAll(async () => {
  await listening.close();
  await ehr.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

async function get(id: string, token?: string): Promise<Response> {
  if (token) tokensSeen.push(token);
  return fetch(`${origin}/explanations/${id}`, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
}

describe('GET /explanations/{id} with tokens from a trusted EHR (SANDBOX=off)', () => {
  it('JWT access token: 200 for its own patient, 403 for another patient', async () => {
    const token = await ehr.mint(key, { patient: 'pat-a', fhirUser: 'Practitioner/dr-1' });
    const ok = await get(A, token);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ id: A, patientId: 'pat-a' });
    expect((await get(B, token)).status).toBe(403);
  });

  it('opaque token by introspection (secret from a file): 200 for its own patient, 403 for another patient', async () => {
    const token = 'opaque-e2e-token-for-pat-b';
    ehr.opaque.set(token, { active: true, scope: 'launch patient/RiskAssessment.rs', patient: 'pat-b', client_id: 'vigil-explain', exp: Math.floor(Date.now() / 1000) + 600 });
    expect((await get(B, token)).status).toBe(200);
    expect((await get(A, token)).status).toBe(403);
  });

  it.each([
    ['an unknown issuer', async () => ehr.mint(key, { iss: 'https://unknown.example/oauth', patient: 'pat-a' })],
    ['an expired JWT', async () => ehr.mint(key, { patient: 'pat-a', iat: 1_000, exp: 2_000 })],
    ['a JWT for another audience', async () => ehr.mint(key, { patient: 'pat-a', aud: 'https://elsewhere.example/fhir' })],
    ['an inactive opaque token', async () => 'opaque-never-issued'],
  ])('401 with WWW-Authenticate error="invalid_token" for %s', async (_name, make) => {
    const res = await get(A, await make());
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
  });

  it('401 (fail closed) while the introspection endpoint is down, 200 again once it is back', async () => {
    const token = 'opaque-e2e-during-outage';
    ehr.opaque.set(token, { active: true, scope: 'patient/RiskAssessment.rs', patient: 'pat-a' });
    ehr.introspection = 'down';
    try {
      const res = await get(A, token);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
    } finally {
      ehr.introspection = 'up';
    }
    expect((await get(A, token)).status).toBe(200);
    expect(captured.lines.join('\n')).toContain('fail closed');
  });

  it('the explanation view launched from the EHR reads explanations with the launch token: own patient 200, another 403', async () => {
    const browser = new CookieBrowser();
    const launched = await browser.get(`${origin}/app/launch?iss=${encodeURIComponent(ehr.fhirBase)}&launch=ehr-launch-1`);
    expect(launched.status).toBe(302);
    const authorize = locationOf(launched);
    expect(authorize.origin + authorize.pathname).toBe(`${ehr.origin}/oauth/authorize`);
    expect(authorize.searchParams.get('aud')).toBe(ehr.fhirBase);
    const callback = locationOf(await browser.get(authorize.toString()));
    const ctx = await finishCallback(browser, callback);
    const view = (id: string) => browser.get(`${origin}/app/api/explanations/${id}`, { 'X-Vigil-Context': ctx });
    const own = await view(A);
    expect(own.status).toBe(200);
    expect(await own.json()).toMatchObject({ id: A, patientId: 'pat-a' });
    expect((await view(B)).status).toBe(403);
  });

  it('audits the decisions under the EHR user, and never logs a token', async () => {
    const res = await fetch(`${origin}/admin/audit?patient=pat-a`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(res.status).toBe(200);
    const bundle = (await res.json()) as { entry?: Array<{ resource: { outcome: string; agent: Array<{ who?: { reference?: string } }> } }> };
    const events = (bundle.entry ?? []).map((e) => e.resource);
    expect(events.some((e) => e.outcome === '0' && e.agent.some((a) => a.who?.reference === 'Practitioner/dr-1'))).toBe(true);
    expect(events.some((e) => e.outcome === '4')).toBe(true);
    const log = captured.lines.join('\n');
    expect(tokensSeen.length).toBeGreaterThan(5);
    for (const token of tokensSeen) expect(log).not.toContain(token);
  });
});
