/**
 * The explanation view across replicas (issue 9 §State that scales): with DATABASE_URL the view's sessions
 * live in PostgreSQL, sealed under SESSION_KEYS, so a SMART launch completed on replica A is served by
 * replica B — no session affinity. A hosts the sandbox EHR (its SMART authorization server and FHIR server);
 * the launch runs against A over real HTTP, then B's /app/api answers with A's session cookie, calling A's
 * FHIR server with the token A obtained. A replica holding other keys cannot open the session (re-launch).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../../src/config.js';
import { SESSION_COOKIE } from '../../src/smart/app-launch/index.js';
import { PgSessionStore } from '../../src/storage/session-store-pg.js';
import { makeKey, type TestKey } from '../smart/helpers.js';
import { CookieBrowser, ehrLaunchUrl, finishCallback, toCallback } from '../web/helpers.js';
import { createTestSchema, pgAvailable, type TestSchema } from './pg-test-db.js';
import { startReplica, type Replica } from './vigil-instance.js';

const available = await pgAvailable();
const SESSION_KEYS = `${randomBytes(32).toString('base64')},${randomBytes(32).toString('base64')}`;

(available ? describe : describe.skip)('explanation-view sessions shared by two replicas through PostgreSQL', () => {
  let schema: TestSchema;
  let key: TestKey;
  let a: Replica;
  let b: Replica;
  let patients: Array<{ id: string }>;

  beforeAll(async () => {
    schema = await createTestSchema();
    key = await makeKey('ES256', 'replicas-app-1');
    // No PUBLIC_BASE_URL: the sandbox's issuer is A's own origin, which the test reaches.
    const env = { PUBLIC_BASE_URL: '', SESSION_KEYS };
    [a, b] = await Promise.all([
      startReplica({ key, pool: schema.pool(), env: { ...env, SANDBOX: 'on' } }),
      startReplica({ key, pool: schema.pool(), env }),
    ]);
    patients = ((await (await fetch(`${a.origin}/sandbox/api/patients`)).json()) as { patients: Array<{ id: string }> }).patients;
    expect(patients.length).toBeGreaterThanOrEqual(2);
  }, 60_000);

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await schema?.drop();
  });

  const api = (browser: CookieBrowser, replica: Replica, ctx: string, rel: string) => browser.get(`${replica.origin}/app/api/${rel}`, { 'X-Vigil-Context': ctx });

  it('serves on B the launch completed on A, with the token A obtained, confined to the patient', async () => {
    const patient = patients[0]!;
    const browser = new CookieBrowser();
    const ctx = await finishCallback(browser, await toCallback(browser, await ehrLaunchUrl(a.origin, patient.id, 'expl-shared')));
    expect(browser.cookies.get(SESSION_COOKIE)).toBeTruthy();

    const context = await api(browser, b, ctx, 'context');
    expect(context.status).toBe(200);
    const body = (await context.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ patient: patient.id, appContext: 'expl-shared', fhirBase: `${a.origin}/sandbox/fhir` });
    expect(JSON.stringify(body)).not.toMatch(/eyJ|access_token|refresh/);

    // B's FHIR proxy uses the session's token against the EHR (A's sandbox), for this patient only.
    const own = await api(browser, b, ctx, `fhir/Patient/${patient.id}`);
    expect(own.status).toBe(200);
    expect(((await own.json()) as { id: string }).id).toBe(patient.id);
    expect((await api(browser, b, ctx, `fhir/Patient/${patients[1]!.id}`)).status).toBe(403);
    // And A still serves it: both read the one row.
    expect((await api(browser, a, ctx, 'context')).status).toBe(200);
  });

  it('keeps a second launch made on A (same browser) visible on B beside the first', async () => {
    const browser = new CookieBrowser();
    const ctx1 = await finishCallback(browser, await toCallback(browser, await ehrLaunchUrl(a.origin, patients[0]!.id)));
    const ctx2 = await finishCallback(browser, await toCallback(browser, await ehrLaunchUrl(a.origin, patients[1]!.id)));
    expect(((await (await api(browser, b, ctx1, 'context')).json()) as { patient: string }).patient).toBe(patients[0]!.id);
    expect(((await (await api(browser, b, ctx2, 'context')).json()) as { patient: string }).patient).toBe(patients[1]!.id);
  });

  it('refreshes a due token once across replicas: simultaneous calls on A and B all succeed (refresh tokens are single-use)', async () => {
    const patient = patients[0]!;
    const browser = new CookieBrowser();
    const ctx = await finishCallback(browser, await toCallback(browser, await ehrLaunchUrl(a.origin, patient.id)));
    const sid = browser.cookies.get(SESSION_COOKIE)!;
    // The test holds the keys, so it can age the grant the way time would.
    const store = new PgSessionStore(schema.pool({ max: 1 }), { keys: loadConfig({ SESSION_KEYS }).sessionKeys, sweepIntervalMs: 0 });
    const age = async () => {
      const session = (await store.get(sid))!;
      session.contexts[ctx]!.accessTokenExpiresAt = Date.now() - 1000;
      await store.save(session, 600);
      return session.contexts[ctx]!;
    };
    try {
      const before = await age();
      const statuses = await Promise.all([a, b, a, b, a, b].map((r) => api(browser, r, ctx, `fhir/Patient/${patient.id}`).then((res) => res.status)));
      expect(statuses).toEqual([200, 200, 200, 200, 200, 200]);
      const after = (await store.get(sid))!.contexts[ctx]!;
      expect(after.accessToken).not.toBe(before.accessToken);
      expect(after.refreshToken).not.toBe(before.refreshToken);
      // The sandbox revokes a refresh token's whole family when a rotated-out one is reused; it was not.
      await age();
      expect((await api(browser, b, ctx, `fhir/Patient/${patient.id}`)).status).toBe(200);
    } finally {
      store.close();
    }
  });

  it('asks for a re-launch on B without the cookie, and on a replica whose SESSION_KEYS cannot open the session', async () => {
    const browser = new CookieBrowser();
    const ctx = await finishCallback(browser, await toCallback(browser, await ehrLaunchUrl(a.origin, patients[0]!.id)));
    const anonymous = new CookieBrowser();
    expect((await api(anonymous, b, ctx, 'context')).status).toBe(401);

    const stranger = await startReplica({ key, pool: schema.pool({ max: 2 }), env: { PUBLIC_BASE_URL: '', SESSION_KEYS: randomBytes(32).toString('base64') } });
    try {
      expect((await api(browser, stranger, ctx, 'context')).status).toBe(401);
    } finally {
      await stranger.stop();
    }
    // The row was not spoiled for the replicas that hold the key.
    expect((await api(browser, b, ctx, 'context')).status).toBe(200);
  });
});
