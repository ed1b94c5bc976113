/**
 * The production access-token verifier (src/smart/token-verifier) against a fake EHR authorization server
 * over real HTTP on localhost: JWT access tokens (JWKS, key rotation with cool-down, tamper cases), opaque
 * tokens by RFC 7662 introspection (client_secret_basic and private_key_jwt, cache keyed by a hash, fail
 * closed), discovery safety (https outside loopback, no redirects) and the composition with other verifiers.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Request } from 'express';
import { SignJWT } from 'jose';
import { RemoteJwksCache } from '../../src/smart/jwks-cache.js';
import {
  IntrospectionCache,
  InvalidAccessTokenError,
  ResourceServerDiscovery,
  createEhrTokenVerifier,
  firstRecognising,
  isSecureUrl,
  tokenDigest,
  type EhrTokenVerifierOptions,
  type TokenVerifier,
} from '../../src/smart/token-verifier/index.js';
import { capturingLogger, makeKey, unsignedJwt, type TestKey } from './helpers.js';
import { startFakeEhr, type FakeEhr } from './token-verifier-fake-ehr.js';

let ehr: FakeEhr;
let rsa: TestKey;
let ec: TestKey;
let attacker: TestKey;
const fakeReq = { id: 'req-1' } as Request;

beforeAll(async () => {
  ehr = await startFakeEhr();
  [rsa, ec, attacker] = await Promise.all([makeKey('RS256', 'rsa-1'), makeKey('ES384', 'ec-1'), makeKey('RS256', 'rsa-1')]);
  ehr.keys = [rsa.jwk, ec.jwk];
  ehr.clients.basic = { id: 'vigil-rs', secret: 's3cret:with spaces' };
});
afterAll(async () => {
  await ehr.close();
});

function verifier(overrides: Partial<EhrTokenVerifierOptions> = {}) {
  const { logger, lines } = capturingLogger('debug');
  const v = createEhrTokenVerifier({
    fhirBases: [ehr.fhirBase],
    discovery: new ResourceServerDiscovery({ maxAgeSeconds: 600 }),
    jwks: new RemoteJwksCache({ cooldownSeconds: 30, maxAgeSeconds: 600 }),
    introspection: { auth: { method: 'client_secret_basic', clientId: 'vigil-rs', clientSecret: 's3cret:with spaces' }, cache: new IntrospectionCache({ ttlSeconds: 60 }) },
    clockSkewSeconds: 60,
    logger,
    ...overrides,
  });
  return { v, lines };
}

async function refusal(promise: Promise<unknown>): Promise<string> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(InvalidAccessTokenError);
  expect((err as InvalidAccessTokenError).status).toBe(401);
  expect((err as InvalidAccessTokenError).challenge).toBe('Bearer error="invalid_token"');
  return (err as InvalidAccessTokenError).reason;
}

describe('JWT access tokens (JWKS)', () => {
  it('accepts RS256 and ES384 tokens and returns the SMART grant (scope, patient, fhirUser, subject, expiry)', async () => {
    const { v } = verifier();
    for (const key of [rsa, ec]) {
      const token = await ehr.mint(key, { patient: 'pat-a', fhirUser: 'Practitioner/dr-1' });
      const grant = await v.verify(token, fakeReq);
      expect(grant).toMatchObject({
        clientId: 'vigil-explain',
        scope: 'launch openid fhirUser patient/RiskAssessment.rs',
        patient: 'pat-a',
        user: 'Practitioner/dr-1',
        subject: 'dr-1',
        issuer: ehr.issuer,
        fhirBase: ehr.fhirBase,
        method: 'jwt',
      });
      expect(grant.expiresAt).toBeGreaterThan(Date.now() / 1000);
      expect(await v.recognises(token, fakeReq)).toBe(true);
    }
  });

  it('accepts typ JWT and no typ, an aud array, and tolerates expiry within the skew', async () => {
    const { v } = verifier();
    const now = Math.floor(Date.now() / 1000);
    await expect(v.verify(await ehr.mint(rsa, {}, { typ: 'JWT' }))).resolves.toMatchObject({ method: 'jwt' });
    await expect(v.verify(await ehr.mint(rsa, { aud: ['other', ehr.fhirBase] }))).resolves.toMatchObject({ method: 'jwt' });
    await expect(v.verify(await ehr.mint(rsa, { exp: now - 30 }))).resolves.toMatchObject({ method: 'jwt' });
  });

  const now = () => Math.floor(Date.now() / 1000);
  const tamper: Array<[string, () => Promise<string>, string]> = [
    ['wrong issuer (not a trusted authorization server)', () => ehr.mint(rsa, { iss: 'https://evil.example/oauth' }), 'unknown_issuer'],
    ['the FHIR base as issuer instead of the published issuer', () => ehr.mint(rsa, { iss: ehr.fhirBase }), 'unknown_issuer'],
    ['no iss at all', () => ehr.mint(rsa, { iss: null }), 'unknown_issuer'],
    ['wrong audience', () => ehr.mint(rsa, { aud: 'https://other-fhir.example/fhir' }), 'audience'],
    ['expired beyond the skew', () => ehr.mint(rsa, { iat: now() - 900, exp: now() - 120 }), 'expired'],
    ['exp missing', () => ehr.mint(rsa, { exp: null }), 'claims'],
    ['nbf in the future', () => ehr.mint(rsa, { nbf: now() + 600 }), 'not_yet_valid'],
    ['scope missing', () => ehr.mint(rsa, { scope: null }), 'claims'],
    ['typ of another kind of token', () => ehr.mint(rsa, {}, { typ: 'dpop+jwt' }), 'claims'],
    ['signed by another key under a known kid', () => ehr.mint(attacker), 'signature'],
    ['alg none (unsigned)', async () => unsignedJwt({ kid: 'rsa-1', typ: 'at+jwt' }, { iss: ehr.issuer, aud: ehr.fhirBase, exp: now() + 300, scope: 'patient/*.rs', patient: 'pat-a' }), 'algorithm'],
    [
      'HS256 signed with the public key as the HMAC secret',
      async () =>
        new SignJWT({ iss: ehr.issuer, aud: ehr.fhirBase, exp: now() + 300, scope: 'patient/*.rs', patient: 'pat-a' })
          .setProtectedHeader({ alg: 'HS256', kid: 'rsa-1' })
          .sign(new TextEncoder().encode(JSON.stringify(rsa.jwk))),
      'algorithm',
    ],
    ['RS512 (not on the allow-list)', async () => ehr.mint(await makeKey('RS512', 'rsa-512')), 'algorithm'],
  ];
  it.each(tamper)('refuses: %s', async (_name, make, reason) => {
    const { v, lines } = verifier();
    const token = await make();
    expect(await refusal(v.verify(token, fakeReq))).toBe(reason);
    // The reason is logged; the token never is.
    expect(lines.join('\n')).toContain(reason);
    expect(lines.join('\n')).not.toContain(token.split('.')[1]!);
  });

  it('accepts the configured resource identifier as audience, and then refuses the FHIR base', async () => {
    const { v } = verifier({ audience: ['https://vigil.hospital.example'] });
    await expect(v.verify(await ehr.mint(rsa, { aud: 'https://vigil.hospital.example' }))).resolves.toMatchObject({ method: 'jwt' });
    expect(await refusal(v.verify(await ehr.mint(rsa)))).toBe('audience');
  });

  it('refetches the JWKS when a new kid appears (key rotation), at most once per cool-down', async () => {
    let clock = 1_000_000_000_000;
    const jwks = new RemoteJwksCache({ cooldownSeconds: 30, maxAgeSeconds: 600, now: () => clock });
    const { v } = verifier({ jwks });
    const jwksUri = `${ehr.origin}/oauth/jwks`;
    const before = ehr.counts.jwks;
    await v.verify(await ehr.mint(rsa));
    expect(jwks.fetchCount.get(jwksUri)).toBe(1);

    const rotated = await makeKey('RS384', 'rsa-2');
    ehr.keys = [rsa.jwk, ec.jwk, rotated.jwk];
    try {
      // Within the cool-down, the new kid is not fetched: refused without touching the EHR.
      expect(await refusal(v.verify(await ehr.mint(rotated)))).toBe('unknown_key');
      expect(jwks.fetchCount.get(jwksUri)).toBe(1);
      clock += 31_000;
      await expect(v.verify(await ehr.mint(rotated))).resolves.toMatchObject({ method: 'jwt' });
      expect(jwks.fetchCount.get(jwksUri)).toBe(2);
      // A flood of made-up kids right after costs no further fetch.
      const bogus = await makeKey('RS256', 'made-up');
      for (let i = 0; i < 5; i += 1) expect(await refusal(v.verify(await ehr.mint(bogus)))).toBe('unknown_key');
      expect(jwks.fetchCount.get(jwksUri)).toBe(2);
      expect(ehr.counts.jwks - before).toBe(2);
    } finally {
      ehr.keys = [rsa.jwk, ec.jwk];
    }
  });
});

describe('opaque tokens (RFC 7662 introspection)', () => {
  it('accepts an active token with client_secret_basic, reads scope/patient/fhirUser/exp, and caches by a hash only', async () => {
    const token = 'opaque-active-0123456789';
    const exp = Math.floor(Date.now() / 1000) + 600;
    ehr.opaque.set(token, { active: true, scope: 'patient/RiskAssessment.rs', patient: 'pat-a', fhirUser: 'Practitioner/dr-1', client_id: 'vigil-explain', sub: 'dr-1', exp, iss: ehr.issuer });
    const cache = new IntrospectionCache({ ttlSeconds: 60 });
    const { v } = verifier({ introspection: { auth: { method: 'client_secret_basic', clientId: 'vigil-rs', clientSecret: 's3cret:with spaces' }, cache } });
    const before = ehr.counts.introspection;
    const grant = await v.verify(token, fakeReq);
    expect(grant).toMatchObject({ scope: 'patient/RiskAssessment.rs', patient: 'pat-a', user: 'Practitioner/dr-1', clientId: 'vigil-explain', subject: 'dr-1', expiresAt: exp, method: 'introspection' });
    const sent = ehr.introspectionRequests.at(-1)!;
    expect(sent.form).toMatchObject({ token, token_type_hint: 'access_token' });
    expect(sent.authorization).toMatch(/^Basic /);

    // Second use: from the cache, no call.
    await expect(v.verify(token, fakeReq)).resolves.toMatchObject({ patient: 'pat-a' });
    expect(ehr.counts.introspection - before).toBe(1);
    // The cache holds the SHA-256 of the token, never the token.
    const snapshot = JSON.stringify(cache.snapshot());
    expect(cache.snapshot().map(([k]) => k)).toEqual([tokenDigest(token)]);
    expect(tokenDigest(token)).toMatch(/^[0-9a-f]{64}$/);
    expect(snapshot).not.toContain(token);
  });

  it('authenticates with private_key_jwt (assertion aud = token endpoint)', async () => {
    const key = await makeKey('ES384', 'vigil-rs-key');
    ehr.clients.jwt = { id: 'vigil-rs-jwt', publicKey: key.publicKey };
    ehr.opaque.set('opaque-jwt-client', { active: true, scope: 'user/RiskAssessment.rs', fhirUser: 'Practitioner/dr-2' });
    const { v } = verifier({
      introspection: { auth: { method: 'private_key_jwt', clientId: 'vigil-rs-jwt', privateKey: key.privateKey, alg: 'ES384', kid: key.kid }, cache: new IntrospectionCache({ ttlSeconds: 0 }) },
    });
    await expect(v.verify('opaque-jwt-client')).resolves.toMatchObject({ user: 'Practitioner/dr-2', method: 'introspection' });
    expect(ehr.introspectionRequests.at(-1)!.form.client_assertion_type).toBe('urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
    // Wrong client secret: the EHR answers 401, which is no verdict → refused.
    const { v: wrong } = verifier({ introspection: { auth: { method: 'client_secret_basic', clientId: 'vigil-rs', clientSecret: 'nope' }, cache: new IntrospectionCache({ ttlSeconds: 60 }) } });
    expect(await refusal(wrong.verify('opaque-jwt-client'))).toBe('introspection_unavailable');
  });

  it('refuses an inactive token and does not cache the refusal', async () => {
    const token = 'opaque-soon-active';
    const { v } = verifier();
    expect(await refusal(v.verify(token))).toBe('inactive');
    ehr.opaque.set(token, { active: true, scope: 'patient/RiskAssessment.rs', patient: 'pat-b' });
    await expect(v.verify(token)).resolves.toMatchObject({ patient: 'pat-b' });
  });

  it.each([
    ['expired exp', { exp: 1000 }, 'expired'],
    ['a foreign aud', { aud: 'https://other.example/fhir' }, 'audience'],
    ['a foreign iss', { iss: 'https://other.example/oauth' }, 'issuer'],
    ['no scope', { scope: undefined }, 'claims'],
  ])('refuses an active answer with %s', async (_name, extra, reason) => {
    const token = `opaque-${reason}`;
    ehr.opaque.set(token, { active: true, scope: 'patient/RiskAssessment.rs', patient: 'pat-a', ...extra });
    const { v } = verifier();
    expect(await refusal(v.verify(token))).toBe(reason);
  });

  it.each(['down', 'hang-up'] as const)('fails closed when the introspection endpoint is %s, with a clear log line and no token in it', async (mode) => {
    const token = `opaque-while-${mode}-abcdef`;
    ehr.opaque.set(token, { active: true, scope: 'patient/RiskAssessment.rs', patient: 'pat-a' });
    const { v, lines } = verifier();
    ehr.introspection = mode;
    try {
      expect(await refusal(v.verify(token))).toBe('introspection_unavailable');
    } finally {
      ehr.introspection = 'up';
    }
    const log = lines.join('\n');
    expect(log).toContain('token introspection failed, token refused (fail closed)');
    expect(log).toContain('"level":40');
    expect(log).not.toContain(token);
  });

  it('refuses opaque tokens when no introspection client is configured', async () => {
    ehr.opaque.set('opaque-no-client', { active: true, scope: 'patient/RiskAssessment.rs', patient: 'pat-a' });
    const { v } = verifier({ introspection: undefined });
    expect(await v.recognises('opaque-no-client', fakeReq)).toBe(false);
    expect(await refusal(v.verify('opaque-no-client'))).toBe('unknown_issuer');
  });
});

describe('discovery', () => {
  it.each([
    ['https://ehr.example/fhir', true],
    ['http://localhost:8080/fhir', true],
    ['http://127.0.0.1:9/fhir', true],
    ['http://[::1]:9/fhir', true],
    ['http://ehr.example/fhir', false],
    ['http://127.0.0.1.nip.io/fhir', false],
    ['https://user:pw@ehr.example/fhir', false],
    ['ftp://ehr.example/fhir', false],
    ['not a url', false],
  ])('isSecureUrl(%s) = %s', (url, expected) => {
    expect(isSecureUrl(url)).toBe(expected);
  });

  it('does not follow a redirect from smart-configuration: tokens of that base are not recognised', async () => {
    const { v, lines } = verifier({ fhirBases: [`${ehr.origin}/moved`] });
    const token = await ehr.mint(rsa);
    expect(await refusal(v.verify(token))).toBe('unknown_issuer');
    expect(lines.join('\n')).toContain('smart-configuration unavailable');
  });

  it('refuses a plain-http FHIR base off loopback without contacting it', async () => {
    let fetched = 0;
    const discovery = new ResourceServerDiscovery({ maxAgeSeconds: 600, fetch: async () => { fetched += 1; return new Response('{}'); } });
    await expect(discovery.get('http://ehr.example/fhir')).rejects.toThrow(/https/);
    expect(fetched).toBe(0);
  });

  it('caches the document for its TTL', async () => {
    let clock = 0;
    const discovery = new ResourceServerDiscovery({ maxAgeSeconds: 60, now: () => clock });
    const before = ehr.counts.discovery;
    await discovery.get(ehr.fhirBase);
    await discovery.get(ehr.fhirBase);
    expect(ehr.counts.discovery - before).toBe(1);
    clock += 61_000;
    await discovery.get(ehr.fhirBase);
    expect(ehr.counts.discovery - before).toBe(2);
  });
});

describe('firstRecognising', () => {
  const stub = (name: string, iss: string, log: string[]): TokenVerifier => ({
    name,
    recognises: async (token) => token.startsWith(iss),
    verify: async () => {
      log.push(name);
      if (name === 'refuses') throw new InvalidAccessTokenError('signature');
      return { clientId: name, scope: 'patient/*.rs' };
    },
  });

  it('lets the first verifier that recognises the issuer decide alone; unknown issuer → 401', async () => {
    const calls: string[] = [];
    const verify = firstRecognising([stub('refuses', 'a', calls), stub('accepts', 'a', calls), stub('other', 'b', calls)]);
    expect(await refusal(verify('a-token', fakeReq))).toBe('signature');
    expect(calls).toEqual(['refuses']);
    await expect(verify('b-token', fakeReq)).resolves.toMatchObject({ clientId: 'other' });
    expect(await refusal(verify('c-token', fakeReq))).toBe('unknown_issuer');
  });

  it('reads the list at call time (back ends added later take part)', async () => {
    const list: TokenVerifier[] = [];
    const verify = firstRecognising(list);
    expect(await refusal(verify('a-token', fakeReq))).toBe('unknown_issuer');
    list.push(stub('late', 'a', []));
    await expect(verify('a-token', fakeReq)).resolves.toMatchObject({ clientId: 'late' });
  });
});
