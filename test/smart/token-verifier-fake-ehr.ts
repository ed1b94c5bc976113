/**
 * A tiny fake EHR authorization server for the token-verifier tests, on an ephemeral localhost port:
 * `{fhirBase}/.well-known/smart-configuration`, a JWKS that can rotate, and an RFC 7662 introspection
 * endpoint that checks client_secret_basic or a private_key_jwt assertion and can be taken down.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { SignJWT, jwtVerify, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import type { TestKey } from './helpers.js';

export interface FakeEhr {
  origin: string;
  fhirBase: string;
  /** The authorization server's issuer, as published. */
  issuer: string;
  tokenEndpoint: string;
  /** Public keys served at jwks_uri (replace to rotate). */
  keys: JWK[];
  /** Opaque token → introspection answer (absent = inactive). */
  opaque: Map<string, Record<string, unknown>>;
  /** Client credentials the introspection endpoint accepts. */
  clients: { basic?: { id: string; secret: string }; jwt?: { id: string; publicKey: CryptoKey } };
  /** "down": introspection answers 503; "hang-up": the socket is destroyed. */
  introspection: 'up' | 'down' | 'hang-up';
  counts: { discovery: number; jwks: number; introspection: number };
  /** Bodies received by the introspection endpoint (to check what was sent). */
  introspectionRequests: Array<{ authorization?: string; form: Record<string, string> }>;
  /** For SMART launches: the key that signs issued access tokens, and the patient the EHR puts in context. */
  launch: { key?: TestKey; patient: string; scope: string };
  /** Signs an access token as this EHR would (RFC 9068 shape with SMART context), overridable. */
  mint(key: TestKey, claims?: Record<string, unknown>, header?: Record<string, unknown>): Promise<string>;
  close(): Promise<void>;
}

export async function startFakeEhr(): Promise<FakeEhr> {
  const app = express();
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const ehr: FakeEhr = {
    origin,
    fhirBase: `${origin}/fhir`,
    issuer: `${origin}/oauth`,
    tokenEndpoint: `${origin}/oauth/token`,
    keys: [],
    opaque: new Map(),
    clients: {},
    introspection: 'up',
    counts: { discovery: 0, jwks: 0, introspection: 0 },
    introspectionRequests: [],
    launch: { patient: 'pat-a', scope: 'launch openid fhirUser patient/RiskAssessment.rs patient/Observation.rs' },
    async mint(key, claims = {}, header = {}) {
      const now = Math.floor(Date.now() / 1000);
      const payload = Object.fromEntries(
        Object.entries({ iss: ehr.issuer, aud: ehr.fhirBase, sub: 'dr-1', client_id: 'vigil-explain', scope: 'launch openid fhirUser patient/RiskAssessment.rs', iat: now, exp: now + 300, ...claims }).filter(([, v]) => v !== null),
      );
      return new SignJWT(payload as JWTPayload).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt', ...header } as { alg: string }).sign(key.privateKey);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };

  app.get('/fhir/.well-known/smart-configuration', (_req, res) => {
    ehr.counts.discovery += 1;
    res.json({
      issuer: ehr.issuer,
      jwks_uri: `${origin}/oauth/jwks`,
      authorization_endpoint: `${origin}/oauth/authorize`,
      token_endpoint: ehr.tokenEndpoint,
      introspection_endpoint: `${origin}/oauth/introspect`,
      capabilities: ['launch-ehr', 'client-public', 'context-ehr-patient'],
      code_challenge_methods_supported: ['S256'],
    });
  });
  // A FHIR base whose discovery redirects elsewhere: never followed.
  app.get('/moved/.well-known/smart-configuration', (_req, res) => res.redirect(302, `${origin}/fhir/.well-known/smart-configuration`));
  app.get('/oauth/jwks', (_req, res) => {
    ehr.counts.jwks += 1;
    res.json({ keys: ehr.keys });
  });
  app.post('/oauth/introspect', express.urlencoded({ extended: false }), async (req, res) => {
    ehr.counts.introspection += 1;
    if (ehr.introspection === 'hang-up') {
      req.socket.destroy();
      return;
    }
    if (ehr.introspection === 'down') {
      res.status(503).json({ error: 'temporarily_unavailable' });
      return;
    }
    const form = req.body as Record<string, string>;
    ehr.introspectionRequests.push({ ...(req.get('authorization') ? { authorization: req.get('authorization')! } : {}), form });
    if (!(await clientAuthenticated(ehr, req.get('authorization'), form))) {
      res.status(401).json({ error: 'invalid_client' });
      return;
    }
    res.json(ehr.opaque.get(form.token ?? '') ?? { active: false });
  });
  // A minimal EHR launch: the clinician is signed in already, so authorize answers with a code at once;
  // the token endpoint checks PKCE S256 and issues a JWT access token with the launch's patient.
  const codes = new Map<string, { challenge: string; redirectUri: string }>();
  app.get('/oauth/authorize', (req, res) => {
    const q = req.query as Record<string, string>;
    const code = randomUUID();
    codes.set(code, { challenge: q.code_challenge ?? '', redirectUri: q.redirect_uri ?? '' });
    const to = new URL(q.redirect_uri ?? '');
    to.searchParams.set('code', code);
    to.searchParams.set('state', q.state ?? '');
    res.redirect(303, to.toString());
  });
  app.post('/oauth/token', express.urlencoded({ extended: false }), async (req, res) => {
    const form = req.body as Record<string, string>;
    const pending = codes.get(form.code ?? '');
    codes.delete(form.code ?? '');
    const challenge = createHash('sha256').update(form.code_verifier ?? '').digest('base64url');
    if (!pending || !ehr.launch.key || pending.challenge !== challenge || pending.redirectUri !== form.redirect_uri) {
      res.status(400).json({ error: 'invalid_grant' });
      return;
    }
    const accessToken = await ehr.mint(ehr.launch.key, { patient: ehr.launch.patient, scope: ehr.launch.scope, fhirUser: 'Practitioner/dr-1' });
    res.json({ access_token: accessToken, token_type: 'Bearer', expires_in: 300, scope: ehr.launch.scope, patient: ehr.launch.patient, need_patient_banner: true });
  });
  return ehr;
}

async function clientAuthenticated(ehr: FakeEhr, authorization: string | undefined, form: Record<string, string>): Promise<boolean> {
  const basic = ehr.clients.basic;
  if (basic && authorization?.startsWith('Basic ')) {
    const [id, secret] = Buffer.from(authorization.slice(6), 'base64').toString('utf8').split(':').map((s) => decodeURIComponent(s.replace(/\+/g, ' ')));
    return id === basic.id && secret === basic.secret;
  }
  const jwtClient = ehr.clients.jwt;
  if (jwtClient && form.client_assertion_type === 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer' && form.client_assertion) {
    try {
      const { payload } = await jwtVerify(form.client_assertion, jwtClient.publicKey, { issuer: jwtClient.id, subject: jwtClient.id, audience: ehr.tokenEndpoint, requiredClaims: ['jti', 'exp'] });
      return payload.iss === jwtClient.id;
    } catch {
      return false;
    }
  }
  return false;
}
