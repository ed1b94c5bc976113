/**
 * Pieces of the SMART App Launch client on their own: the issuer allow-list, discovery validation (S256
 * required, no redirects followed), the authorization URL, the grant rules (banner default, refresh keeps
 * the patient), the cookie's Secure rule, and the in-memory session store's expiry and bound.
 */
import express from 'express';
import request from 'supertest';
import { describe, expect, it } from '@jest/globals';
import { buildAuthorizeUrl, scopesFor } from '../../src/smart/app-launch/authorize.js';
import { isLocalhost, sessionIdFrom, setSessionCookie, SESSION_COOKIE } from '../../src/smart/app-launch/cookies.js';
import { assertAllowedIssuer, discoverSmartConfiguration, type FetchLike } from '../../src/smart/app-launch/discovery.js';
import { grantAfterRefresh, grantFromTokenResponse, needsRefresh } from '../../src/smart/app-launch/grant.js';
import { MemorySessionStore } from '../../src/smart/app-launch/session-store.js';

const ISS = 'https://ehr.example/fhir';

describe('assertAllowedIssuer', () => {
  it('accepts exact matches (trailing slash ignored) and refuses everything else', () => {
    expect(assertAllowedIssuer(`${ISS}/`, [ISS])).toBe(ISS);
    for (const bad of [undefined, 'https://ehr.example/fhir2', 'https://ehr.example.evil/fhir', 'https://user@ehr.example/fhir', `${ISS}?x=1`, `${ISS}#f`, 'ftp://ehr.example/fhir', 'not a url']) {
      expect(() => assertAllowedIssuer(bad, [ISS])).toThrow();
    }
  });
});

describe('discoverSmartConfiguration', () => {
  const doc = { authorization_endpoint: `${ISS}/auth`, token_endpoint: `${ISS}/token`, capabilities: ['launch-ehr'], code_challenge_methods_supported: ['S256'] };
  const serve = (status: number, body: unknown, seen: RequestInit[] = []): FetchLike => async (_url, init) => {
    seen.push(init ?? {});
    return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
  };
  it('reads the document without following redirects', async () => {
    const seen: RequestInit[] = [];
    await expect(discoverSmartConfiguration(ISS, { fetch: serve(200, doc, seen) })).resolves.toMatchObject({ token_endpoint: `${ISS}/token` });
    expect(seen[0]!.redirect).toBe('manual');
  });
  it('refuses a server without PKCE S256, a malformed document, a redirect', async () => {
    await expect(discoverSmartConfiguration(ISS, { fetch: serve(200, { ...doc, code_challenge_methods_supported: ['plain'] }) })).rejects.toThrow('PKCE');
    await expect(discoverSmartConfiguration(ISS, { fetch: serve(200, { ...doc, token_endpoint: 'javascript:x' }) })).rejects.toThrow('unusable');
    await expect(discoverSmartConfiguration(ISS, { fetch: serve(302, {}) })).rejects.toThrow('302');
  });
});

describe('authorization request', () => {
  it('carries every parameter SMART requires, launch only for an EHR launch', () => {
    const url = new URL(buildAuthorizeUrl({ authorizationEndpoint: `${ISS}/auth?x=1`, clientId: 'c', redirectUri: 'https://app/cb', scopes: scopesFor('ehr'), state: 's', aud: ISS, codeChallenge: 'ch', launch: 'L' }));
    expect(Object.fromEntries(url.searchParams)).toEqual({
      x: '1',
      response_type: 'code',
      client_id: 'c',
      redirect_uri: 'https://app/cb',
      scope: 'launch openid fhirUser online_access patient/Patient.r patient/Observation.rs patient/RiskAssessment.rs',
      state: 's',
      aud: ISS,
      code_challenge: 'ch',
      code_challenge_method: 'S256',
      launch: 'L',
    });
    expect(scopesFor('standalone')).toContain('launch/patient');
    expect(scopesFor('standalone')).not.toContain('launch');
  });
});

describe('grant', () => {
  const pending = { iss: ISS, tokenEndpoint: `${ISS}/token`, clientId: 'c' };
  it('needs a banner unless the server says need_patient_banner: false; refreshes 30 s early', () => {
    const g = grantFromTokenResponse({ access_token: 'a', token_type: 'bearer', expires_in: 60, patient: 'p' }, pending, 0);
    expect(g.needPatientBanner).toBe(true);
    expect(grantFromTokenResponse({ access_token: 'a', token_type: 'Bearer', need_patient_banner: false }, pending, 0).needPatientBanner).toBe(false);
    expect(needsRefresh(g, 29_000)).toBe(false);
    expect(needsRefresh(g, 30_000)).toBe(true);
  });
  it('a refresh keeps the launch context and refuses to move to another patient', () => {
    const g = grantFromTokenResponse({ access_token: 'a', token_type: 'Bearer', refresh_token: 'r1', patient: 'p', appContext: { explanationId: 'e' } }, pending, 0);
    expect(g.appContext).toBe('{"explanationId":"e"}');
    const next = grantAfterRefresh(g, { access_token: 'b', token_type: 'Bearer', refresh_token: 'r2', expires_in: 100 }, 1000);
    expect(next).toMatchObject({ accessToken: 'b', refreshToken: 'r2', patient: 'p', appContext: '{"explanationId":"e"}', accessTokenExpiresAt: 101_000 });
    expect(() => grantAfterRefresh(g, { access_token: 'b', token_type: 'Bearer', patient: 'other' }, 0)).toThrow();
  });
});

describe('session cookie', () => {
  const app = express();
  app.get('/set', (req, res) => {
    setSessionCookie(res, 'x'.repeat(43), { baseUrl: String(req.query.base), maxAgeSeconds: 60 });
    res.end();
  });
  it('is Secure everywhere but on localhost, always httpOnly + SameSite=Lax + Path=/app', async () => {
    const remote = (await request(app).get('/set').query({ base: 'http://vigil.hospital.example' })).headers['set-cookie']![0]!;
    expect(remote).toMatch(/Secure/);
    const https = (await request(app).get('/set').query({ base: 'https://localhost:8443' })).headers['set-cookie']![0]!;
    expect(https).toMatch(/Secure/);
    const local = (await request(app).get('/set').query({ base: 'http://localhost:8080' })).headers['set-cookie']![0]!;
    expect(local).not.toMatch(/Secure/);
    for (const c of [remote, local]) expect(c).toMatch(/HttpOnly; SameSite=Lax|SameSite=Lax.*HttpOnly|HttpOnly.*SameSite=Lax/);
    expect(isLocalhost('[::1]')).toBe(true);
    expect(isLocalhost('localhost.evil.com')).toBe(false);
  });
  it('reads only a well-formed session id', () => {
    expect(sessionIdFrom(`a=b; ${SESSION_COOKIE}=${'y'.repeat(43)}`)).toBe('y'.repeat(43));
    expect(sessionIdFrom(`${SESSION_COOKIE}=short`)).toBeUndefined();
    expect(sessionIdFrom(undefined)).toBeUndefined();
  });
});

describe('MemorySessionStore', () => {
  it('expires sessions, returns copies, and drops the oldest past its bound', async () => {
    let now = 0;
    const store = new MemorySessionStore({ now: () => now, maxSessions: 2 });
    const s = (id: string) => ({ id, pending: {}, contexts: {}, order: [] });
    await store.save(s('a'), 10);
    const copy = (await store.get('a'))!;
    copy.order.push('mutated');
    expect((await store.get('a'))!.order).toEqual([]);
    now = 10_000;
    expect(await store.get('a')).toBeUndefined();
    await store.save(s('b'), 10);
    await store.save(s('c'), 10);
    await store.save(s('d'), 10);
    expect(await store.get('b')).toBeUndefined();
    expect(store.size).toBe(2);
  });
});
