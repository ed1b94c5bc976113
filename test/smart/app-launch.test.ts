/**
 * The explanation view's SMART App Launch client (src/smart/app-launch) end to end over real HTTP against the
 * sandbox authorization server: EHR and standalone launch, and each refusal the client or the server must
 * make — state mismatch, PKCE verifier mismatch, reused code, issuer not allowed, expired session — plus token
 * refresh and the patient confinement of the token-holding proxy.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { MemorySessionStore, SESSION_COOKIE, type AppSession } from '../../src/smart/app-launch/index.js';
import { CookieBrowser, ehrLaunchUrl, finishCallback, locationOf, toCallback } from '../web/helpers.js';
import { startSandboxVigil, type SandboxPatient, type SandboxVigil } from './helpers.js';

let rig: SandboxVigil | undefined;
let origin: string;
let fhirBase: string;
let patients: SandboxPatient[];
/** Added to the session store's clock, to age sessions without waiting. */
let clockSkewMs = 0;
const sessions = new MemorySessionStore({ now: () => Date.now() + clockSkewMs });

beforeAll(async () => {
  rig = await startSandboxVigil('vigil-app-launch-', { APP_SESSION_TTL_S: '600' }, (tmp) => ({ appSessions: sessions, webDir: path.join(tmp, 'no-web') }));
  ({ origin, fhirBase, patients } = rig);
  expect(patients.length).toBeGreaterThanOrEqual(2);
}, 60_000);

afterAll(async () => {
  await rig?.close();
});

function api(browser: CookieBrowser, ctx: string, rel: string): Promise<Response> {
  return browser.get(`${origin}/app/api/${rel}`, { 'X-Vigil-Context': ctx });
}

async function sessionOf(browser: CookieBrowser): Promise<AppSession> {
  const id = browser.cookies.get(SESSION_COOKIE);
  const session = id ? await sessions.get(id) : undefined;
  if (!session) throw new Error('no session');
  return session;
}

describe('EHR launch', () => {
  it('discovers, authorizes with PKCE and state, exchanges the code and serves the launch context without tokens', async () => {
    const patient = patients[0]!;
    const browser = new CookieBrowser();
    const launched = await browser.get(await ehrLaunchUrl(origin, patient.id, 'expl-abc'));
    expect(launched.status).toBe(302);
    // The session cookie: httpOnly, SameSite=Lax, Path=/app; not Secure on loopback http.
    const setCookie = launched.headers.getSetCookie().find((c) => c.startsWith(`${SESSION_COOKIE}=`))!;
    expect(setCookie).toMatch(/HttpOnly/i);
    expect(setCookie).toMatch(/SameSite=Lax/i);
    expect(setCookie).toMatch(/Path=\/app/);
    expect(setCookie).not.toMatch(/Secure/i);

    const authorize = locationOf(launched);
    expect(`${authorize.origin}${authorize.pathname}`).toBe(`${origin}/sandbox/auth/authorize`);
    const q = authorize.searchParams;
    expect(q.get('response_type')).toBe('code');
    expect(q.get('client_id')).toBe('vigil-explain');
    expect(q.get('redirect_uri')).toBe(`${origin}/app/callback`);
    expect(q.get('aud')).toBe(fhirBase);
    expect(q.get('code_challenge_method')).toBe('S256');
    expect(q.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(q.get('state')!.length).toBeGreaterThanOrEqual(43);
    expect(q.get('launch')).toBeTruthy();
    expect(q.get('scope')!.split(' ')).toEqual(
      expect.arrayContaining(['launch', 'openid', 'fhirUser', 'patient/Patient.r', 'patient/Observation.rs', 'patient/RiskAssessment.rs']),
    );
    expect(q.get('scope')!.split(' ')).not.toContain('launch/patient');

    // The sandbox signs the EHR's clinician in already: the authorization server answers with the code.
    const authorized = await browser.get(authorize.toString());
    expect(authorized.status).toBe(303);
    const callback = locationOf(authorized);
    expect(callback.searchParams.get('state')).toBe(q.get('state'));
    const ctx = await finishCallback(browser, callback);

    const context = await api(browser, ctx, 'context');
    expect(context.status).toBe(200);
    const body = (await context.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ patient: patient.id, needPatientBanner: true, appContext: 'expl-abc', fhirBase, hasStyle: true });
    expect(JSON.stringify(body)).not.toMatch(/eyJ|access_token|refresh/);

    // Tokens stay on the server: the grant holds a refresh token (online_access) for later.
    const grant = (await sessionOf(browser)).contexts[ctx]!;
    expect(grant.refreshToken).toBeTruthy();
    expect(grant.scope).toContain('patient/Observation.rs');

    // The FHIR proxy reads this patient with the launch's token, and nobody else.
    const own = await api(browser, ctx, `fhir/Patient/${patient.id}`);
    expect(own.status).toBe(200);
    expect(((await own.json()) as { id: string }).id).toBe(patient.id);
    const obs = await api(browser, ctx, `fhir/Observation?patient=${patient.id}&_count=5`);
    expect(obs.status).toBe(200);
    expect(((await api(browser, ctx, `fhir/Patient/${patients[1]!.id}`)).status)).toBe(403);
    expect(((await api(browser, ctx, 'fhir/Patient/x/$everything')).status)).toBe(400);
  });

  it('keeps two launches in one browser apart (one context per launch)', async () => {
    const browser = new CookieBrowser();
    const ctxA = await finishCallback(browser, await toCallback(browser, await ehrLaunchUrl(origin, patients[0]!.id)));
    const ctxB = await finishCallback(browser, await toCallback(browser, await ehrLaunchUrl(origin, patients[1]!.id)));
    expect(ctxA).not.toBe(ctxB);
    expect(((await (await api(browser, ctxA, 'context')).json()) as { patient: string }).patient).toBe(patients[0]!.id);
    expect(((await (await api(browser, ctxB, 'context')).json()) as { patient: string }).patient).toBe(patients[1]!.id);
    // A context id is useless without the browser's session cookie.
    expect((await api(new CookieBrowser(), ctxA, 'context')).status).toBe(401);
  });
});

describe('standalone launch', () => {
  it('asks launch/patient, signs in, picks the patient and lands in the view', async () => {
    const patient = patients[1]!;
    const browser = new CookieBrowser();
    const launched = await browser.get(`${origin}/app/launch?iss=${encodeURIComponent(fhirBase)}`);
    expect(launched.status).toBe(302);
    const q = locationOf(launched).searchParams;
    expect(q.get('launch')).toBeNull();
    expect(q.get('aud')).toBe(fhirBase);
    expect(q.get('scope')!.split(' ')).toContain('launch/patient');
    expect(q.get('scope')!.split(' ')).not.toContain('launch');
    const ctx = await finishCallback(browser, await toCallback(browser, `${origin}/app/launch?iss=${encodeURIComponent(fhirBase)}`, patient.id));
    const body = (await (await api(browser, ctx, 'context')).json()) as Record<string, unknown>;
    expect(body.patient).toBe(patient.id);
    expect(body.appContext).toBeUndefined();
    expect((await api(browser, ctx, `fhir/Patient/${patient.id}`)).status).toBe(200);
  });
});

describe('refusals', () => {
  it('refuses a callback whose state this browser did not start (state mismatch)', async () => {
    const browser = new CookieBrowser();
    const callback = await toCallback(browser, await ehrLaunchUrl(origin, patients[0]!.id));
    const forged = new URL(callback);
    forged.searchParams.set('state', 'not-the-state-we-sent');
    const res = await browser.get(forged.toString());
    expect(res.status).toBe(403);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    expect(await res.text()).toContain('does not belong to a sign-in started from this browser');
    // The same answer delivered to another browser (no session cookie) is refused too.
    const stranger = await new CookieBrowser().get(callback.toString());
    expect(stranger.status).toBe(401);
    expect(await stranger.text()).toContain('open Vigil again from the patient&#39;s chart');
  });

  it('a PKCE verifier that does not match is refused by the authorization server', async () => {
    const browser = new CookieBrowser();
    const callback = await toCallback(browser, await ehrLaunchUrl(origin, patients[0]!.id));
    // Swap the verifier the server-side session holds, as if the code had been stolen into another client.
    const session = await sessionOf(browser);
    const state = callback.searchParams.get('state')!;
    session.pending[state]!.codeVerifier = 'A'.repeat(43);
    await sessions.save(session, 600);
    const res = await browser.get(callback.toString());
    expect(res.status).toBe(401);
    const page = await res.text();
    expect(page).toContain('Sign-in was not completed');
    expect(Object.keys((await sessionOf(browser)).contexts)).toHaveLength(0);
    // And the server spent the code: the right verifier cannot use it afterwards.
    const res2 = await fetch(`${origin}/sandbox/auth/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: callback.searchParams.get('code')!, redirect_uri: `${origin}/app/callback`, client_id: 'vigil-explain', code_verifier: 'B'.repeat(43) }).toString(),
    });
    expect(((await res2.json()) as { error: string }).error).toBe('invalid_grant');
  });

  it('a reused authorization code is refused (replayed callback), and state is single-use', async () => {
    const browser = new CookieBrowser();
    const callback = await toCallback(browser, await ehrLaunchUrl(origin, patients[0]!.id));
    const pending = (await sessionOf(browser)).pending[callback.searchParams.get('state')!]!;
    await finishCallback(browser, callback);
    // Replaying the same callback: its state was consumed, so the client refuses before the server is asked.
    expect((await browser.get(callback.toString())).status).toBe(403);
    // Put the state back (an attacker who also holds it): now the server refuses the spent code.
    const session = await sessionOf(browser);
    session.pending[callback.searchParams.get('state')!] = pending;
    await sessions.save(session, 600);
    const replay = await browser.get(callback.toString());
    expect(replay.status).toBe(401);
    expect(await replay.text()).toContain('may have been used already');
  });

  it('refuses an issuer that is not on the allow-list, without contacting it', async () => {
    const browser = new CookieBrowser();
    for (const iss of ['https://evil.example/fhir', `${fhirBase}.evil.example`, `${origin}/sandbox/fhirx`, 'javascript:alert(1)']) {
      const res = await browser.get(`${origin}/app/launch?iss=${encodeURIComponent(iss)}&launch=x`);
      expect(res.status).toBe(403);
      expect(res.headers.get('location')).toBeNull();
    }
    const res = await browser.get(`${origin}/app/launch?iss=${encodeURIComponent('https://evil.example/fhir')}`);
    expect(await res.text()).toContain('not on the list of systems Vigil trusts');
    expect((await browser.get(`${origin}/app/launch`)).status).toBe(403);
  });

  it('an authorization error (user denied) becomes a page, never a token request', async () => {
    const browser = new CookieBrowser();
    const launched = await browser.get(`${origin}/app/launch?iss=${encodeURIComponent(fhirBase)}`);
    const state = locationOf(launched).searchParams.get('state')!;
    const res = await browser.get(`${origin}/app/callback?error=access_denied&state=${state}`);
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('Access to the patient record was not allowed');
  });
});

describe('session lifetime', () => {
  it('refreshes an expired access token transparently, keeping the patient', async () => {
    const browser = new CookieBrowser();
    const ctx = await finishCallback(browser, await toCallback(browser, await ehrLaunchUrl(origin, patients[0]!.id)));
    const session = await sessionOf(browser);
    const before = session.contexts[ctx]!;
    session.contexts[ctx] = { ...before, accessTokenExpiresAt: Date.now() - 1000 };
    await sessions.save(session, 600);
    expect((await api(browser, ctx, `fhir/Patient/${patients[0]!.id}`)).status).toBe(200);
    const after = (await sessionOf(browser)).contexts[ctx]!;
    expect(after.accessToken).not.toBe(before.accessToken);
    expect(after.refreshToken).not.toBe(before.refreshToken); // the sandbox rotates refresh tokens
    expect(after.patient).toBe(before.patient);
    expect(after.accessTokenExpiresAt).toBeGreaterThan(Date.now());
  });

  it('an expired token that cannot be refreshed, or an expired session, asks the clinician to re-launch', async () => {
    const browser = new CookieBrowser();
    const ctx = await finishCallback(browser, await toCallback(browser, await ehrLaunchUrl(origin, patients[0]!.id)));
    const session = await sessionOf(browser);
    const { refreshToken: _drop, ...grant } = session.contexts[ctx]!;
    session.contexts[ctx] = { ...grant, accessTokenExpiresAt: Date.now() - 1000 };
    await sessions.save(session, 600);
    const res = await api(browser, ctx, `fhir/Patient/${patients[0]!.id}`);
    expect(res.status).toBe(401);
    expect(((await res.json()) as { message: string }).message).toBe("Your Vigil session has ended. Open Vigil again from the patient's chart.");

    const browser2 = new CookieBrowser();
    const ctx2 = await finishCallback(browser2, await toCallback(browser2, await ehrLaunchUrl(origin, patients[0]!.id)));
    expect((await api(browser2, ctx2, 'context')).status).toBe(200);
    clockSkewMs = 601_000; // past APP_SESSION_TTL_S
    try {
      const expired = await api(browser2, ctx2, 'context');
      expect(expired.status).toBe(401);
      expect(((await expired.json()) as { message: string }).message).toContain('Open Vigil again');
    } finally {
      clockSkewMs = 0;
    }
  });
});
