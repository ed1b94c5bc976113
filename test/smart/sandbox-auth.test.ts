/**
 * The sandbox SMART authorization server and the FHIR server's enforcement, end to end over real HTTP
 * against the assembled app (createVigil, sandbox on): discovery, standalone and EHR launch with PKCE,
 * sign-in and patient picker, token exchange, refresh rotation, Backend Services, and the tamper cases
 * (PKCE mismatch, reused code, patient A reading patient B, scope without the resource type, …).
 */
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SignJWT, decodeJwt, jwtVerify, createRemoteJWKSet } from 'jose';
import type { CapabilityStatement } from 'fhir/r4';
import type { Vigil } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { newPkcePair } from '../../src/smart/pkce.js';
import { createSandbox } from '../../src/sandbox/index.js';
import { makeKey, startSandboxVigil, type SandboxPatient, type SandboxVigil } from './helpers.js';

let rig: SandboxVigil | undefined;
let tmp: string;
let vigil: Vigil;
let origin: string;
let fhirBase: string;
let patients: SandboxPatient[];
const REDIRECT = () => `${origin}/app/callback`;

beforeAll(async () => {
  rig = await startSandboxVigil('vigil-smart-');
  ({ tmp, vigil, origin, fhirBase, patients } = rig);
  expect(patients.length).toBeGreaterThanOrEqual(2);
}, 60_000);

afterAll(async () => {
  await rig?.close();
});

function authorizeUrl(params: Record<string, string | undefined>): string {
  const url = new URL(`${origin}/sandbox/auth/authorize`);
  for (const [k, v] of Object.entries(params)) if (v !== undefined) url.searchParams.set(k, v);
  return url.toString();
}

function hidden(html: string, name: string): string {
  const match = new RegExp(`name="${name}" value="([^"]+)"`).exec(html);
  if (!match) throw new Error(`no ${name} in page`);
  return match[1]!;
}

async function postForm(url: string, form: Record<string, string>, cookie?: string): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...(cookie ? { Cookie: cookie } : {}) },
    body: new URLSearchParams(form).toString(),
  });
}

interface Flow {
  code: string;
  state: string;
  verifier: string;
}

/** Standalone launch through sign-in and (when asked) the patient picker; returns the code. */
async function standaloneLaunch(scope: string, patientId: string, opts: { state?: string } = {}): Promise<Flow> {
  const { verifier, challenge } = newPkcePair();
  const state = opts.state ?? `st-${Math.random()}`;
  const res = await fetch(
    authorizeUrl({
      response_type: 'code',
      client_id: 'vigil-explain',
      redirect_uri: REDIRECT(),
      scope,
      state,
      aud: fhirBase,
      code_challenge: challenge,
      code_challenge_method: 'S256',
    }),
    { redirect: 'manual' },
  );
  expect(res.status).toBe(200);
  const cookie = res.headers.get('set-cookie')!.split(';')[0]!;
  const login = await res.text();
  const tx = hidden(login, 'tx');
  const afterLogin = await postForm(`${origin}/sandbox/auth/login`, { tx, user: 'Practitioner/sandbox-clinician', decision: 'allow' }, cookie);
  let final = afterLogin;
  if (afterLogin.status === 200) {
    const picker = await afterLogin.text();
    expect(picker).toContain('Choose a patient');
    final = await postForm(`${origin}/sandbox/auth/pick`, { tx, patient: patientId }, cookie);
  }
  expect(final.status).toBe(303);
  const location = new URL(final.headers.get('location')!);
  expect(`${location.origin}${location.pathname}`).toBe(REDIRECT());
  expect(location.searchParams.get('state')).toBe(state);
  return { code: location.searchParams.get('code')!, state, verifier };
}

async function token(form: Record<string, string>): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await postForm(`${origin}/sandbox/auth/token`, form);
  expect(res.headers.get('cache-control')).toBe('no-store');
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

function exchange(flow: Flow, overrides: Record<string, string> = {}) {
  return token({ grant_type: 'authorization_code', code: flow.code, redirect_uri: REDIRECT(), client_id: 'vigil-explain', code_verifier: flow.verifier, ...overrides });
}

function fhirGet(rel: string, accessToken?: string): Promise<Response> {
  return fetch(`${fhirBase}/${rel}`, { headers: accessToken ? { Authorization: `Bearer ${accessToken}` } : {} });
}

describe('SMART discovery', () => {
  it('advertises the authorization server at the FHIR base', async () => {
    const res = await fetch(`${fhirBase}/.well-known/smart-configuration`);
    expect(res.status).toBe(200);
    const config = (await res.json()) as Record<string, unknown>;
    expect(config.authorization_endpoint).toBe(`${origin}/sandbox/auth/authorize`);
    expect(config.token_endpoint).toBe(`${origin}/sandbox/auth/token`);
    expect(config.code_challenge_methods_supported).toEqual(['S256']);
    expect(config.capabilities).toEqual(expect.arrayContaining(['launch-ehr', 'launch-standalone', 'permission-v2', 'sso-openid-connect', 'client-confidential-asymmetric']));
    expect(config.grant_types_supported).toEqual(expect.arrayContaining(['authorization_code', 'refresh_token', 'client_credentials']));
  });

  it('declares SMART in the CapabilityStatement with the smart-configuration endpoints', async () => {
    const config = (await (await fetch(`${fhirBase}/.well-known/smart-configuration`)).json()) as Record<string, unknown>;
    const res = await fetch(`${fhirBase}/metadata`);
    expect(res.status).toBe(200);
    const security = ((await res.json()) as CapabilityStatement).rest![0]!.security!;
    expect(security.service).toEqual([
      expect.objectContaining({ coding: [expect.objectContaining({ system: 'http://terminology.hl7.org/CodeSystem/restful-security-service', code: 'SMART-on-FHIR' })] }),
    ]);
    const oauth = security.extension!.filter((e) => e.url === 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris');
    expect(oauth).toHaveLength(1);
    const uris = Object.fromEntries(oauth[0]!.extension!.map((e) => [e.url, e.valueUri]));
    // Exactly the endpoints discovery publishes: this server has no revoke/introspect/manage/register endpoint.
    const expected: Record<string, unknown> = { authorize: config.authorization_endpoint, token: config.token_endpoint };
    for (const [key, field] of [['register', 'registration_endpoint'], ['manage', 'management_endpoint'], ['introspect', 'introspection_endpoint'], ['revoke', 'revocation_endpoint']] as const) {
      if (config[field] !== undefined) expected[key] = config[field];
    }
    expect(uris).toEqual(expected);
    expect(uris.authorize).toBe(`${origin}/sandbox/auth/authorize`);
    expect(uris.token).toBe(`${origin}/sandbox/auth/token`);
    // Both are live endpoints of the running authorization server, not just strings.
    const tokenRes = await fetch(uris.token!, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials' });
    expect(tokenRes.status).toBe(401);
    expect(((await tokenRes.json()) as { error?: string }).error).toBe('invalid_client');
    const { challenge } = newPkcePair();
    const authorize = new URL(uris.authorize!);
    for (const [k, v] of Object.entries({ response_type: 'code', client_id: 'vigil-explain', redirect_uri: REDIRECT(), scope: 'launch/patient patient/*.rs', state: 's', aud: fhirBase, code_challenge: challenge, code_challenge_method: 'S256' })) {
      authorize.searchParams.set(k, v);
    }
    const page = await fetch(authorize, { redirect: 'manual' });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('name="tx"');
  });

  it('the FHIR server refuses requests without a token, but serves metadata', async () => {
    expect((await fhirGet(`Patient/${patients[0]!.id}`)).status).toBe(401);
    expect((await fhirGet('metadata')).status).toBe(200);
    const bad = await fhirGet(`Patient/${patients[0]!.id}`, 'not-a-token');
    expect(bad.status).toBe(401);
    expect(bad.headers.get('www-authenticate')).toContain('error="invalid_token"');
  });
});

describe('standalone launch (authorization code + PKCE S256)', () => {
  it('signs in, picks a patient, exchanges the code and reads only that patient, within scope', async () => {
    const [a, b] = patients;
    const flow = await standaloneLaunch('launch/patient openid fhirUser patient/Patient.r patient/Observation.rs offline_access', a!.id);
    const { status, body } = await exchange(flow);
    expect(status).toBe(200);
    expect(body).toMatchObject({ token_type: 'Bearer', patient: a!.id, need_patient_banner: true });
    expect(typeof body.smart_style_url).toBe('string');
    expect(typeof body.refresh_token).toBe('string');
    const access = String(body.access_token);

    // id_token: signed by the server (JWKS), fhirUser is the practitioner's absolute URL.
    const { payload } = await jwtVerify(String(body.id_token), createRemoteJWKSet(new URL(`${origin}/sandbox/auth/jwks.json`)), {
      issuer: `${origin}/sandbox/auth`,
      audience: 'vigil-explain',
    });
    expect(payload.fhirUser).toBe(`${fhirBase}/Practitioner/sandbox-clinician`);

    expect((await fhirGet(`Patient/${a!.id}`, access)).status).toBe(200);
    expect((await fhirGet(`Observation?patient=${a!.id}`, access)).status).toBe(200);
    // Token for patient A reading patient B.
    expect((await fhirGet(`Patient/${b!.id}`, access)).status).toBe(403);
    expect((await fhirGet(`Observation?patient=${b!.id}`, access)).status).toBe(403);
    // An unconfined search cannot be confined to the token's patient: refused.
    expect((await fhirGet('Observation', access)).status).toBe(403);
    // Scope without the resource type.
    expect((await fhirGet(`Condition?patient=${a!.id}`, access)).status).toBe(403);
    // Scope without the interaction: Patient.r allows read, not search.
    expect((await fhirGet(`Patient?_id=${a!.id}`, access)).status).toBe(403);

    // Refresh: rotated; the old refresh token cannot be used again, and its reuse kills the family.
    const refreshed = await token({ grant_type: 'refresh_token', refresh_token: String(body.refresh_token), client_id: 'vigil-explain' });
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.patient).toBe(a!.id);
    const again = await token({ grant_type: 'refresh_token', refresh_token: String(body.refresh_token), client_id: 'vigil-explain' });
    expect(again).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    const family = await token({ grant_type: 'refresh_token', refresh_token: String(refreshed.body.refresh_token), client_id: 'vigil-explain' });
    expect(family.body.error).toBe('invalid_grant');
    // A refresh may narrow the scope but never widen it.
    const flow2 = await standaloneLaunch('launch/patient patient/Observation.rs offline_access', a!.id);
    const t2 = await exchange(flow2);
    const wider = await token({ grant_type: 'refresh_token', refresh_token: String(t2.body.refresh_token), client_id: 'vigil-explain', scope: 'patient/*.rs' });
    expect(wider.body.error).toBe('invalid_scope');
  });

  it('refuses a PKCE verifier that does not match the challenge', async () => {
    const flow = await standaloneLaunch('launch/patient patient/*.rs', patients[0]!.id);
    const { status, body } = await exchange(flow, { code_verifier: newPkcePair().verifier });
    expect(status).toBe(400);
    expect(body.error).toBe('invalid_grant');
    // The code was consumed by the failed attempt too.
    expect((await exchange(flow)).body.error).toBe('invalid_grant');
  });

  it('refuses a reused authorization code and revokes the token it produced', async () => {
    const flow = await standaloneLaunch('launch/patient patient/*.rs', patients[0]!.id);
    const first = await exchange(flow);
    expect(first.status).toBe(200);
    const access = String(first.body.access_token);
    expect((await fhirGet(`Patient/${patients[0]!.id}`, access)).status).toBe(200);
    const second = await exchange(flow);
    expect(second).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    expect((await fhirGet(`Patient/${patients[0]!.id}`, access)).status).toBe(401);
  });

  it('refuses a code exchanged with another redirect_uri or client', async () => {
    const flow = await standaloneLaunch('launch/patient patient/*.rs', patients[0]!.id);
    expect((await exchange(flow, { redirect_uri: `${origin}/elsewhere` })).body.error).toBe('invalid_grant');
    const flow2 = await standaloneLaunch('launch/patient patient/*.rs', patients[0]!.id);
    expect((await exchange(flow2, { client_id: 'someone-else' })).status).toBe(401);
  });

  it('returns state unchanged so the client can detect a mismatch, and requires it', async () => {
    const flow = await standaloneLaunch('launch/patient patient/*.rs', patients[0]!.id, { state: 'exact-state-value' });
    expect(flow.state).toBe('exact-state-value');
    const { challenge } = newPkcePair();
    const res = await fetch(
      authorizeUrl({ response_type: 'code', client_id: 'vigil-explain', redirect_uri: REDIRECT(), scope: 'patient/*.rs', aud: fhirBase, code_challenge: challenge, code_challenge_method: 'S256' }),
      { redirect: 'manual' },
    );
    expect(res.status).toBe(303);
    expect(new URL(res.headers.get('location')!).searchParams.get('error')).toBe('invalid_request');
  });

  it.each([
    ['no PKCE', { code_challenge: undefined, code_challenge_method: undefined }, 'invalid_request'],
    ['PKCE plain', { code_challenge_method: 'plain' }, 'invalid_request'],
    ['aud of another server', { aud: 'https://evil.example/fhir' }, 'invalid_request'],
    ['response_type token', { response_type: 'token' }, 'unsupported_response_type'],
    ['unknown launch', { scope: 'launch patient/*.rs', launch: 'nope' }, 'invalid_request'],
  ])('authorize with %s → error redirect', async (_name, overrides, error) => {
    const { challenge } = newPkcePair();
    const res = await fetch(
      authorizeUrl({
        response_type: 'code',
        client_id: 'vigil-explain',
        redirect_uri: REDIRECT(),
        scope: 'launch/patient patient/*.rs',
        state: 's1',
        aud: fhirBase,
        code_challenge: challenge,
        code_challenge_method: 'S256',
        ...overrides,
      }),
      { redirect: 'manual' },
    );
    expect(res.status).toBe(303);
    const location = new URL(res.headers.get('location')!);
    expect(location.searchParams.get('error')).toBe(error);
    expect(location.searchParams.get('state')).toBe('s1');
    expect(location.searchParams.get('code')).toBeNull();
  });

  it('never redirects to an unregistered redirect_uri', async () => {
    const { challenge } = newPkcePair();
    const res = await fetch(
      authorizeUrl({ response_type: 'code', client_id: 'vigil-explain', redirect_uri: 'https://evil.example/cb', scope: 'patient/*.rs', state: 's', aud: fhirBase, code_challenge: challenge, code_challenge_method: 'S256' }),
      { redirect: 'manual' },
    );
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
  });

  it('a sign-in form posted without the browser cookie that started it is refused (login CSRF)', async () => {
    const { challenge } = newPkcePair();
    const res = await fetch(
      authorizeUrl({ response_type: 'code', client_id: 'vigil-explain', redirect_uri: REDIRECT(), scope: 'launch/patient patient/*.rs', state: 's', aud: fhirBase, code_challenge: challenge, code_challenge_method: 'S256' }),
    );
    const tx = hidden(await res.text(), 'tx');
    const forged = await postForm(`${origin}/sandbox/auth/login`, { tx, user: 'Practitioner/sandbox-clinician', decision: 'allow' });
    expect(forged.status).toBe(400);
  });

  it('deny sends access_denied back with the state', async () => {
    const { challenge } = newPkcePair();
    const res = await fetch(
      authorizeUrl({ response_type: 'code', client_id: 'vigil-explain', redirect_uri: REDIRECT(), scope: 'patient/*.rs', state: 's9', aud: fhirBase, code_challenge: challenge, code_challenge_method: 'S256' }),
    );
    const cookie = res.headers.get('set-cookie')!.split(';')[0]!;
    const tx = hidden(await res.text(), 'tx');
    const denied = await postForm(`${origin}/sandbox/auth/login`, { tx, user: 'Practitioner/sandbox-clinician', decision: 'deny' }, cookie);
    const location = new URL(denied.headers.get('location')!);
    expect(location.searchParams.get('error')).toBe('access_denied');
    expect(location.searchParams.get('state')).toBe('s9');
  });
});

describe('EHR launch', () => {
  it('carries the EHR patient context without a picker', async () => {
    const b = patients[1]!;
    const opened = await fetch(`${origin}/sandbox/auth/launch`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ patientId: b.id }) });
    const { launch, iss } = (await opened.json()) as { launch: string; iss: string };
    expect(iss).toBe(fhirBase);
    const { verifier, challenge } = newPkcePair();
    const res = await fetch(
      authorizeUrl({ response_type: 'code', client_id: 'vigil-explain', redirect_uri: REDIRECT(), scope: 'launch openid fhirUser patient/*.rs', state: 'e1', aud: iss, launch, code_challenge: challenge, code_challenge_method: 'S256' }),
      { redirect: 'manual' },
    );
    expect(res.status).toBe(303);
    const code = new URL(res.headers.get('location')!).searchParams.get('code')!;
    const { body } = await exchange({ code, state: 'e1', verifier });
    expect(body.patient).toBe(b.id);
    expect((await fhirGet(`Patient/${b.id}`, String(body.access_token))).status).toBe(200);
    // A launch id is single-use.
    const reuse = await fetch(
      authorizeUrl({ response_type: 'code', client_id: 'vigil-explain', redirect_uri: REDIRECT(), scope: 'launch patient/*.rs', state: 'e2', aud: iss, launch, code_challenge: challenge, code_challenge_method: 'S256' }),
      { redirect: 'manual' },
    );
    expect(new URL(reuse.headers.get('location')!).searchParams.get('error')).toBe('invalid_request');
  });
});

describe('hook fhirAuthorization', () => {
  it("is a token from the sandbox authorization server, confined to the hook's patient", async () => {
    const [a, b] = patients;
    const res = await fetch(`${origin}/sandbox/api/hook-request`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ serviceId: 'vigil-news2', hook: 'patient-view', patientId: a!.id }),
    });
    const call = (await res.json()) as { body: { fhirAuthorization: { access_token: string; patient: string } } };
    const access = call.body.fhirAuthorization.access_token;
    expect(decodeJwt(access)).toMatchObject({ iss: `${origin}/sandbox/auth`, aud: fhirBase, patient: a!.id });
    expect((await fhirGet(`Observation?patient=${a!.id}`, access)).status).toBe(200);
    expect((await fhirGet(`Observation?patient=${b!.id}`, access)).status).toBe(403);
  });
});

describe('Backend Services (client_credentials + private_key_jwt)', () => {
  it('issues system-scoped tokens to a registered client and refuses a replayed assertion', async () => {
    // The app's own sandbox is reachable only through createVigil; register on a sandbox built here instead.
    const sandbox = await createSandbox({ config: loadConfig({ DATA_DIR: tmp, LOG_LEVEL: 'silent' }), logger: vigil.logger, services: [] });
    const express = (await import('express')).default;
    const app = express();
    app.use('/sandbox', sandbox.router);
    const srv = app.listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => srv.once('listening', () => resolve()));
    const base = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
    try {
      const key = await makeKey('RS384', 'backend-1');
      sandbox.auth.registerClient({ clientId: 'population-scorer', redirectUris: [], jwks: { keys: [key.jwk] } });
      const assertion = await new SignJWT({})
        .setProtectedHeader({ alg: 'RS384', kid: 'backend-1', typ: 'JWT' })
        .setIssuer('population-scorer')
        .setSubject('population-scorer')
        .setAudience(`${base}/sandbox/auth/token`)
        .setExpirationTime('4m')
        .setJti(`j-${Math.random()}`)
        .sign(key.privateKey);
      const form = {
        grant_type: 'client_credentials',
        scope: 'system/Observation.rs',
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: assertion,
      };
      const ok = await postForm(`${base}/sandbox/auth/token`, form);
      expect(ok.status).toBe(200);
      const body = (await ok.json()) as { access_token: string; scope: string };
      expect(body.scope).toBe('system/Observation.rs');
      const search = await fetch(`${base}/sandbox/fhir/Observation?_count=1`, { headers: { Authorization: `Bearer ${body.access_token}` } });
      expect(search.status).toBe(200);
      const other = await fetch(`${base}/sandbox/fhir/Condition?_count=1`, { headers: { Authorization: `Bearer ${body.access_token}` } });
      expect(other.status).toBe(403);
      expect((await postForm(`${base}/sandbox/auth/token`, form)).status).toBe(401);
      // A confidential client cannot skip its assertion.
      expect((await postForm(`${base}/sandbox/auth/token`, { grant_type: 'client_credentials', client_id: 'population-scorer', scope: 'system/*.rs' })).status).toBe(401);
      // Public clients cannot use client_credentials.
      const pub = await postForm(`${base}/sandbox/auth/token`, { grant_type: 'client_credentials', client_id: 'vigil-explain', scope: 'system/*.rs' });
      expect(((await pub.json()) as { error: string }).error).toBe('unauthorized_client');
    } finally {
      srv.closeAllConnections();
      await new Promise<void>((resolve) => srv.close(() => resolve()));
    }
  });
});
