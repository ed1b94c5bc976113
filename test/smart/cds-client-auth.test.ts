/**
 * CDS client JWT verification (CDS Hooks 2.0.1 §Trusting CDS Clients): the tamper suite (each token must
 * be refused, for the stated reason) and the happy paths, through the real CDS Hooks router over HTTP.
 */
import { createPublicKey } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import express from 'express';
import request from 'supertest';
import { SignJWT } from 'jose';
import { CdsClientRegistry, parseCdsClients } from '../../src/cds-hooks/clients.js';
import { createCdsHooksRouter } from '../../src/cds-hooks/router.js';
import type { CdsService } from '../../src/cds-hooks/types.js';
import { loadConfig } from '../../src/config.js';
import { ForbiddenError } from '../../src/errors.js';
import {
  bearerToken,
  cdsClientAuthentication,
  CdsClientAuthError,
  createCdsClientVerifier,
  type CdsClientVerifier,
} from '../../src/smart/cds-client-auth.js';
import { RemoteJwksCache } from '../../src/smart/jwks-cache.js';
import { MemoryReplayCache } from '../../src/smart/replay-cache.js';
import { openFeedbackStore, type FeedbackStore } from '../../src/storage/feedback-store.js';
import { capturingLogger, makeKey, mintClientJwt, unsignedJwt, type TestKey } from './helpers.js';

const BASE = 'https://cds.example.org';
const SERVICE_URL = `${BASE}/cds-services/echo`;
const FEEDBACK_URL = `${SERVICE_URL}/feedback`;
const EHR = 'https://ehr.example.com';
const REMOTE_EHR = 'https://remote-ehr.example.com';
const LIMITED_EHR = 'https://limited-ehr.example.com';
const TENANT_EHR = 'https://tenant-ehr.example.com';

const echo: CdsService = {
  definition: { id: 'echo', hook: 'patient-view', description: 'Answers with no cards' },
  handle: async () => ({ cards: [] }),
};
const other: CdsService = {
  definition: { id: 'other', hook: 'patient-view', description: 'Another service' },
  handle: async () => ({ cards: [] }),
};

let keys: Record<'es384' | 'rs384' | 'es256' | 'rs256' | 'stranger' | 'remote' | 'rotated', TestKey>;
let jwksServer: Server;
let jwksUrl: string;
let publishedKeys: TestKey[];
let feedbackStore: FeedbackStore;

beforeAll(async () => {
  keys = {
    es384: await makeKey('ES384', 'ehr-es384'),
    rs384: await makeKey('RS384', 'ehr-rs384'),
    es256: await makeKey('ES256', 'ehr-es256'),
    rs256: await makeKey('RS256', 'ehr-rs256'),
    // Same kid as es384 but a different key: its signatures must not verify.
    stranger: await makeKey('ES384', 'ehr-es384'),
    remote: await makeKey('ES384', 'remote-1'),
    rotated: await makeKey('ES384', 'remote-2'),
  };
  publishedKeys = [keys.remote];
  const jwksApp = express();
  jwksApp.get('/jwks.json', (_req, res) => {
    res.json({ keys: publishedKeys.map((k) => k.jwk) });
  });
  jwksServer = jwksApp.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => jwksServer.once('listening', () => resolve()));
  jwksUrl = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks.json`;
  feedbackStore = openFeedbackStore(':memory:');
});

afterAll(async () => {
  await feedbackStore.close();
  await new Promise<void>((resolve) => jwksServer.close(() => resolve()));
});

interface Harness {
  app: express.Express;
  verifier: CdsClientVerifier;
  lines: string[];
  jwks: RemoteJwksCache;
}

function harness(): Harness {
  const clients = new CdsClientRegistry([
    {
      issuer: EHR,
      jwks: { keys: [keys.es384.jwk, keys.rs384.jwk, keys.es256.jwk, keys.rs256.jwk] },
      jku: `${EHR}/.well-known/jwks.json`,
      services: ['*'],
    },
    { issuer: REMOTE_EHR, jwksUrl, services: ['echo'] },
    { issuer: LIMITED_EHR, jwks: { keys: [keys.es384.jwk] }, services: ['other'] },
    { issuer: TENANT_EHR, jwks: { keys: [keys.es384.jwk] }, services: ['*'], tenant: 'org-1' },
  ]);
  const jwks = new RemoteJwksCache({ cooldownSeconds: 0, maxAgeSeconds: 600 });
  const verifier = createCdsClientVerifier({
    clients,
    remoteJwks: jwks,
    replayCache: new MemoryReplayCache(),
    algorithms: ['ES384', 'RS384', 'ES256', 'RS256'],
    clockSkewSeconds: 60,
    maxAgeSeconds: 300,
  });
  const { logger, lines } = capturingLogger('info');
  const config = { ...loadConfig({}), dataDir: ':memory:', publicBaseUrl: BASE };
  const app = express();
  const authenticate = cdsClientAuthentication({ verifier, publicBaseUrl: BASE, logger });
  app.use('/cds-services', createCdsHooksRouter({ config, logger, services: [echo, other], feedbackStore, authenticate }));
  return { app, verifier, lines, jwks };
}

const hookBody = {
  hook: 'patient-view',
  hookInstance: 'd1577c69-dfbe-44ad-ba6d-3e05e953b2ea',
  context: { userId: 'Practitioner/1', patientId: 'p1' },
};

function postHook(app: express.Express, token: string | undefined, path = '/cds-services/echo') {
  const req = request(app).post(path).set('Content-Type', 'application/json');
  if (token !== undefined) req.set('Authorization', `Bearer ${token}`);
  return req.send(path.endsWith('/feedback') ? { feedback: [{ card: 'c1', outcome: 'accepted', acceptedSuggestions: [{ id: 's1' }], outcomeTimestamp: new Date().toISOString() }] } : hookBody);
}

const now = () => Math.floor(Date.now() / 1000);
const es384 = (overrides: { header?: Record<string, unknown>; claims?: Record<string, unknown>; iss?: string; aud?: string | string[] } = {}) =>
  mintClientJwt({ key: keys.es384, iss: overrides.iss ?? EHR, aud: overrides.aud ?? SERVICE_URL, header: overrides.header, claims: overrides.claims });

/** Each token the tamper suite builds, and the reason it must be refused for. */
const tamperCases: Array<[string, () => Promise<string> | string, string]> = [
  ['alg none (unsigned)', () => unsignedJwt({ typ: 'JWT', kid: 'ehr-es384' }, { iss: EHR, aud: SERVICE_URL, iat: now(), exp: now() + 300, jti: 'n1' }), 'alg_not_allowed'],
  [
    'HS256 signed with the public key as the HMAC secret',
    async () => {
      const pem = createPublicKey({ key: keys.rs256.jwk as never, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
      return new SignJWT({ jti: 'h1' })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT', kid: 'ehr-rs256' })
        .setIssuer(EHR)
        .setAudience(SERVICE_URL)
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(new TextEncoder().encode(String(pem)));
    },
    'alg_not_allowed',
  ],
  ['wrong aud (another service)', () => es384({ aud: `${BASE}/cds-services/other` }), 'wrong_audience'],
  ['wrong aud (another host)', () => es384({ aud: 'https://evil.example/cds-services/echo' }), 'wrong_audience'],
  ['wrong iss (not a trusted client)', () => es384({ iss: 'https://evil.example' }), 'unknown_issuer'],
  ['expired', () => es384({ claims: { iat: now() - 400, exp: now() - 100 } }), 'expired'],
  ['iat in the future', () => es384({ claims: { iat: now() + 600, exp: now() + 900 } }), 'iat_in_future'],
  ['iat older than the maximum age', () => es384({ claims: { iat: now() - 1000, exp: now() + 300 } }), 'too_old'],
  ['nbf in the future', () => es384({ claims: { nbf: now() + 600 } }), 'not_yet_valid'],
  ['unknown kid', () => es384({ header: { kid: 'no-such-key' } }), 'unknown_kid'],
  ['jku not in the allow-list', () => es384({ header: { jku: 'https://evil.example/jwks.json' } }), 'jku_not_allowed'],
  ['signed by another key under a known kid', () => mintClientJwt({ key: keys.stranger, iss: EHR, aud: SERVICE_URL }), 'bad_signature'],
  ['typ other than JWT', () => es384({ header: { typ: 'at+jwt' } }), 'bad_typ'],
  ['typ missing', () => es384({ header: { typ: null } }), 'bad_typ'],
  ['kid missing', () => es384({ header: { kid: null } }), 'missing_kid'],
  ['jti missing', () => es384({ claims: { jti: null } }), 'missing_claim'],
  ['exp missing', () => es384({ claims: { exp: null } }), 'missing_claim'],
  ['iat missing', () => es384({ claims: { iat: null } }), 'missing_claim'],
  ['tenant other than the configured one', () => es384({ iss: TENANT_EHR, claims: { tenant: 'org-2' } }), 'tenant_mismatch'],
  ['tenant absent when one is configured', () => es384({ iss: TENANT_EHR }), 'tenant_mismatch'],
  ['not a JWT at all', () => 'not-a-token', 'malformed_token'],
  ['RS256 header on an EC key', async () => {
    const token = await es384();
    const [, payload, sig] = token.split('.');
    const header = Buffer.from(JSON.stringify({ alg: 'RS256', typ: 'JWT', kid: 'ehr-es384' })).toString('base64url');
    return `${header}.${payload}.${sig}`;
  }, 'unknown_kid'],
];

describe('tamper suite: every token is refused with 401 and an uninformative challenge', () => {
  let h: Harness;
  beforeEach(() => {
    h = harness();
  });

  it.each(tamperCases)('%s', async (_name, build, reason) => {
    const token = await build();
    await expect(h.verifier.verify(token, { audience: SERVICE_URL, serviceId: 'echo' })).rejects.toMatchObject({ reason });

    const res = await postHook(h.app, token);
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer realm="cds-services", error="invalid_token", error_description="The client JWT was not accepted"');
    // The same body whatever the reason: nothing for a prober to learn.
    expect(res.body).toEqual({ error: 'unauthorized', message: 'Client authentication failed', details: [] });
    // The reason is logged; the token never is.
    expect(h.lines.some((l) => l.includes(`"reason":"${reason}"`))).toBe(true);
    expect(h.lines.join('\n')).not.toContain(token.split('.')[1] ?? token);
  });

  it('a replayed jti is refused the second time', async () => {
    const token = await es384();
    await postHook(h.app, token).expect(200);
    const res = await postHook(h.app, token);
    expect(res.status).toBe(401);
    expect(h.lines.some((l) => l.includes('"reason":"replayed"'))).toBe(true);
  });

  it('a jti replayed by a different request path is still refused (aud differs, so it fails first)', async () => {
    const token = await es384();
    await postHook(h.app, token).expect(200);
    await postHook(h.app, token, '/cds-services/echo/feedback').expect(401);
  });

  it('a client not allowed to call the service gets 403', async () => {
    const token = await mintClientJwt({ key: keys.es384, iss: LIMITED_EHR, aud: SERVICE_URL });
    await expect(h.verifier.verify(token, { audience: SERVICE_URL, serviceId: 'echo' })).rejects.toBeInstanceOf(ForbiddenError);
    const res = await postHook(h.app, await mintClientJwt({ key: keys.es384, iss: LIMITED_EHR, aud: SERVICE_URL }));
    expect(res.status).toBe(403);
    expect(res.body.error).toBe('forbidden');
  });

  it('no Authorization header: 401 with a bare Bearer challenge (RFC 6750 §3.1)', async () => {
    const res = await postHook(h.app, undefined);
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer realm="cds-services"');
  });

  it.each([['Basic dXNlcjpwYXNz'], ['Bearer'], ['Bearer a b']])('Authorization "%s" is refused', async (value) => {
    const res = await request(h.app).post('/cds-services/echo').set('Authorization', value).send(hookBody);
    expect(res.status).toBe(401);
  });

  it('feedback needs a client JWT too, with the feedback URL as aud', async () => {
    await postHook(h.app, undefined, '/cds-services/echo/feedback').expect(401);
    await postHook(h.app, await es384(), '/cds-services/echo/feedback').expect(401);
    await postHook(h.app, await es384({ aud: FEEDBACK_URL }), '/cds-services/echo/feedback').expect(200);
  });

  it('a 401 is not an error the service logs as a failure (no stack, no 5xx)', async () => {
    await postHook(h.app, 'x.y.z');
    expect(h.lines.some((l) => l.includes('"level":50'))).toBe(false);
  });
});

describe('happy paths', () => {
  let h: Harness;
  beforeEach(() => {
    h = harness();
  });

  it.each([['es384'], ['rs384'], ['es256'], ['rs256']] as const)('accepts a %s-signed JWT and answers the hook', async (name) => {
    const token = await mintClientJwt({ key: keys[name], iss: EHR, aud: SERVICE_URL });
    const res = await postHook(h.app, token);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ cards: [] });
  });

  it('accepts sub, nbf, tenant, an aud array and the allow-listed jku, and reports the client', async () => {
    const token = await es384({
      aud: [SERVICE_URL, 'https://other.example'],
      header: { jku: `${EHR}/.well-known/jwks.json` },
      claims: { sub: 'client-id-at-ehr', nbf: now() - 5, tenant: 'anything' },
    });
    const verified = await h.verifier.verify(token, { audience: SERVICE_URL, serviceId: 'echo' });
    expect(verified).toMatchObject({ issuer: EHR, subject: 'client-id-at-ehr', tenant: 'anything', kid: 'ehr-es384', alg: 'ES384' });
  });

  it('accepts the configured tenant', async () => {
    const token = await es384({ iss: TENANT_EHR, claims: { tenant: 'org-1' } });
    await postHook(h.app, token).expect(200);
  });

  it('tolerates clock skew within the configured bound', async () => {
    const token = await es384({ claims: { iat: now() + 30, exp: now() - 30 + 300 } });
    await postHook(h.app, token).expect(200);
    const expiredWithinSkew = await es384({ claims: { iat: now() - 280, exp: now() - 20 } });
    await postHook(h.app, expiredWithinSkew).expect(200);
  });

  it('discovery and CORS preflight stay public', async () => {
    const res = await request(h.app).get('/cds-services').expect(200);
    expect(res.body.services.map((s: { id: string }) => s.id)).toEqual(['echo', 'other']);
    const pre = await request(h.app).options('/cds-services/echo').set('Origin', 'https://ehr.example.com').set('Access-Control-Request-Method', 'POST');
    expect(pre.status).toBeLessThan(300);
  });

  it('fetches a remote JWKS, with jku equal to the configured URL', async () => {
    const token = await mintClientJwt({ key: keys.remote, iss: REMOTE_EHR, aud: SERVICE_URL, header: { jku: jwksUrl } });
    await postHook(h.app, token).expect(200);
    expect(h.jwks.fetchCount.get(jwksUrl)).toBe(1);
    // A jku that differs from the configured URL in any way is refused.
    const other = await mintClientJwt({ key: keys.remote, iss: REMOTE_EHR, aud: SERVICE_URL, header: { jku: `${jwksUrl}?x=1` } });
    await postHook(h.app, other).expect(401);
  });

  it('refetches the remote JWKS when a new kid appears (key rotation)', async () => {
    await postHook(h.app, await mintClientJwt({ key: keys.remote, iss: REMOTE_EHR, aud: SERVICE_URL })).expect(200);
    publishedKeys = [keys.remote, keys.rotated];
    try {
      await postHook(h.app, await mintClientJwt({ key: keys.rotated, iss: REMOTE_EHR, aud: SERVICE_URL })).expect(200);
      expect(h.jwks.fetchCount.get(jwksUrl)).toBe(2);
    } finally {
      publishedKeys = [keys.remote];
    }
  });
});

describe('bearerToken', () => {
  it.each([
    ['Bearer abc.def.ghi', 'abc.def.ghi'],
    ['bearer abc', 'abc'],
    ['Bearer  abc ', 'abc'],
    ['Bearer', undefined],
    ['Basic abc', undefined],
    [undefined, undefined],
  ])('%s → %s', (header, token) => {
    expect(bearerToken(header)).toBe(token);
  });
});

describe('CdsClientAuthError', () => {
  it('never puts the reason in the message or challenge', () => {
    const err = new CdsClientAuthError('wrong_audience');
    expect(err.status).toBe(401);
    expect(err.message).not.toContain('aud');
    expect(err.challenge).not.toContain('aud');
  });
});

describe('trusted-client jku allow-list entry', () => {
  it('is accepted with an inline JWK Set and refused next to a jwksUrl or when not a URL', () => {
    const inline = { issuer: 'https://a.example', jwks: { keys: [{ kty: 'EC' }] }, services: ['*'] };
    expect(parseCdsClients([{ ...inline, jku: 'https://a.example/jwks.json' }])[0]?.jku).toBe('https://a.example/jwks.json');
    expect(() => parseCdsClients([{ ...inline, jku: 'not a url' }])).toThrow(/\[0\]\.jku/);
    expect(() =>
      parseCdsClients([{ issuer: 'https://b.example', jwksUrl: 'https://b.example/jwks.json', jku: 'https://b.example/jwks.json', services: ['*'] }]),
    ).toThrow(/\[0\]\.jku/);
  });
});

describe('CDS_JWT_ALGORITHMS', () => {
  it('defaults to the spec pair plus ES256/RS256 and refuses none or HMAC', () => {
    expect(loadConfig({}).cdsJwtAlgorithms).toEqual(['ES384', 'RS384', 'ES256', 'RS256']);
    expect(loadConfig({ CDS_JWT_ALGORITHMS: 'ES384' }).cdsJwtAlgorithms).toEqual(['ES384']);
    expect(() => loadConfig({ CDS_JWT_ALGORITHMS: 'ES384,HS256' })).toThrow(/HS256/);
    expect(() => loadConfig({ CDS_JWT_ALGORITHMS: 'none' })).toThrow(/none/);
  });
});
