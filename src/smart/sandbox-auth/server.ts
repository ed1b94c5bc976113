/**
 * The sandbox EHR's SMART authorization server, mounted at /sandbox/auth — SMART App Launch v2.2
 * (https://hl7.org/fhir/smart-app-launch/app-launch.html) over OAuth 2.0 (RFC 6749), hand-written on jose.
 *
 *   GET  /authorize     §Obtain authorization code: response_type=code, client_id, redirect_uri, scope,
 *                       state (REQUIRED by SMART), aud (= the FHIR base URL), code_challenge + S256 (REQUIRED),
 *                       launch (EHR launch). Then practitioner sign-in (GET/POST /login) and, when
 *                       `launch/patient` is asked without EHR context, the patient picker (GET/POST /pick).
 *   POST /token         authorization_code (PKCE verified, code single-use, 60 s), refresh_token (rotated;
 *                       a reused refresh token revokes its family), client_credentials (SMART Backend
 *                       Services, private_key_jwt client assertion only).
 *   GET  /jwks.json     public keys of access and ID tokens.
 *   POST /launch        the sandbox EHR opens a launch context (patient, encounter) → opaque `launch` id.
 * Discovery (`.well-known/smart-configuration`) is served by the FHIR endpoint; see smartConfiguration().
 *
 * Deliberate limits: sandbox only (SANDBOX=on). State is in memory; users are the sandbox clinicians and sign
 * in without a password; tokens are JWTs our own FHIR server checks (tokens.ts).
 */
import { randomBytes } from 'node:crypto';
import express, { type Request, type Response, type Router } from 'express';
import { decodeJwt, jwtVerify, createLocalJWKSet, type JSONWebKeySet } from 'jose';
import { baseUrlOf } from '../../http/base-url.js';
import type { Logger } from '../../logger.js';
import { isValidCodeChallenge, verifierMatches } from '../pkce.js';
import { replayKey, type ReplayCache } from '../replay-cache.js';
import { parseClinicalScope, splitScopes } from '../scopes.js';
import { errorPage, loginPage, patientPickerPage } from './pages.js';
import { createTokenSigner, type AccessGrant, type TokenSigner, type VerifiedAccessToken } from './tokens.js';

export interface SmartClientRegistration {
  clientId: string;
  /** Exact redirect URIs; a value starting with "/" means that path on the authorization request's own origin. */
  redirectUris: string[];
  /** Public keys for `private_key_jwt` (confidential asymmetric client). Absent: a public client (PKCE only). */
  jwks?: JSONWebKeySet;
}

export interface SandboxUser {
  /** FHIR reference, e.g. "Practitioner/sandbox-clinician". */
  reference: string;
  name: string;
}

export interface SandboxAuthOptions {
  publicBaseUrl: string | undefined;
  logger: Logger;
  patients: () => ReadonlyArray<{ id: string; name: string; birthDate?: string }>;
  users: readonly SandboxUser[];
  clients?: SmartClientRegistration[];
  /** Remembers client-assertion jti (Backend Services replay protection). */
  replayCache: ReplayCache;
  /** Access token lifetime for apps. Default 3600 s. */
  accessTokenLifetimeSeconds?: number;
  now?: () => Date;
}

/** SMART App Launch v2.2 §Conformance — /.well-known/smart-configuration (REQUIRED fields marked). */
export interface SmartConfiguration {
  issuer: string;
  jwks_uri: string;
  /** REQUIRED */
  authorization_endpoint: string;
  /** REQUIRED */
  token_endpoint: string;
  /** REQUIRED */
  grant_types_supported: string[];
  token_endpoint_auth_methods_supported: string[];
  token_endpoint_auth_signing_alg_values_supported: string[];
  scopes_supported: string[];
  response_types_supported: string[];
  /** REQUIRED */
  capabilities: string[];
  /** REQUIRED */
  code_challenge_methods_supported: string[];
  /** OPTIONAL endpoints; this server has none of them yet (CapabilityStatement oauth-uris follows these). */
  registration_endpoint?: string;
  management_endpoint?: string;
  introspection_endpoint?: string;
  revocation_endpoint?: string;
}

export interface SandboxAuthServer {
  router: Router;
  smartConfiguration(baseUrl: string): SmartConfiguration;
  registerClient(client: SmartClientRegistration): void;
  /** Opens an EHR launch context; the id goes into the app's launch URL. */
  /**
   * Opens an EHR launch context; the id goes into the app's launch URL. `appContext` (CDS Hooks 2.0.1 §Link)
   * is handed to the app in the token response.
   */
  createLaunch(context: { patient: string; encounter?: string; user?: string; appContext?: string }): string;
  /** Issues an access token directly (the sandbox EHR's fhirAuthorization for hook calls). */
  issueAccessToken(grant: AccessGrant, opts: { baseUrl: string; lifetimeSeconds: number; now?: Date }): Promise<{ token: string; expiresIn: number }>;
  /** Verifies a token we issued for the FHIR server at `baseUrl`; refuses revoked ones. */
  verifyAccessToken(token: string, opts: { baseUrl: string; now?: Date }): Promise<VerifiedAccessToken>;
}

export function sandboxAuthUrls(baseUrl: string) {
  const base = baseUrl.replace(/\/+$/, '');
  const issuer = `${base}/sandbox/auth`;
  return {
    issuer,
    fhirBase: `${base}/sandbox/fhir`,
    authorize: `${issuer}/authorize`,
    token: `${issuer}/token`,
    jwks: `${issuer}/jwks.json`,
    login: `${issuer}/login`,
    pick: `${issuer}/pick`,
  };
}

/** Scopes outside the clinical grammar that this server understands. */
const NON_CLINICAL_SCOPES = new Set(['launch', 'launch/patient', 'launch/encounter', 'openid', 'fhirUser', 'profile', 'offline_access', 'online_access']);
const CODE_TTL_MS = 60_000;
const TX_TTL_MS = 10 * 60_000;
const REFRESH_TTL_MS = 24 * 3600_000;
const ID_TOKEN_LIFETIME_S = 3600;
const MAX_ENTRIES = 10_000;
const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const TX_COOKIE = 'sbx_auth_tx';

interface AuthRequest {
  clientId: string;
  redirectUri: string;
  scopes: string[];
  state: string;
  codeChallenge: string;
  nonce?: string;
  patient?: string;
  encounter?: string;
  user?: string;
  /** CDS Hooks 2.0.1 §Link appContext from the EHR launch, returned with the token. */
  appContext?: string;
}

interface Transaction extends AuthRequest {
  secret: string;
  expiresAt: number;
  needsPatient: boolean;
}

interface CodeRecord extends AuthRequest {
  expiresAt: number;
  used: boolean;
  /** Access-token jti issued from this code, revoked if the code is replayed (RFC 6749 §4.1.2). */
  issued: string[];
  baseUrl: string;
}

interface RefreshRecord {
  clientId: string;
  scopes: string[];
  patient?: string;
  encounter?: string;
  user?: string;
  expiresAt: number;
  family: string;
  used: boolean;
}

/** An OAuth error answered by the token endpoint (RFC 6749 §5.2). */
class OAuthError extends Error {
  constructor(
    readonly error: 'invalid_request' | 'invalid_client' | 'invalid_grant' | 'unauthorized_client' | 'unsupported_grant_type' | 'invalid_scope',
    readonly description: string,
  ) {
    super(description);
  }
}

function random(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

/** Keeps maps bounded: drops expired entries, then the oldest, past MAX_ENTRIES. */
function prune<T extends { expiresAt: number }>(map: Map<string, T>, now: number): void {
  if (map.size < MAX_ENTRIES) return;
  for (const [k, v] of map) if (v.expiresAt <= now) map.delete(k);
  for (const k of map.keys()) {
    if (map.size < MAX_ENTRIES) break;
    map.delete(k);
  }
}

function isSupportedScope(scope: string): boolean {
  if (NON_CLINICAL_SCOPES.has(scope)) return true;
  const parsed = parseClinicalScope(scope);
  return parsed !== undefined && parsed.context !== 'system' && parsed.query === undefined;
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

export async function createSandboxAuthServer(options: SandboxAuthOptions): Promise<SandboxAuthServer> {
  const signer: TokenSigner = await createTokenSigner();
  const now = options.now ?? (() => new Date());
  const appTokenLifetime = options.accessTokenLifetimeSeconds ?? 3600;
  const clients = new Map<string, SmartClientRegistration>();
  for (const c of options.clients ?? []) clients.set(c.clientId, c);
  const transactions = new Map<string, Transaction>();
  const codes = new Map<string, CodeRecord>();
  const refreshTokens = new Map<string, RefreshRecord>();
  const launches = new Map<string, { patient: string; encounter?: string; user?: string; appContext?: string; expiresAt: number }>();
  const revoked = new Map<string, number>();
  const revokedFamilies = new Set<string>();
  const { logger } = options;

  const baseOf = (req: Request) => baseUrlOf(req, options.publicBaseUrl);

  const redirectAllowed = (client: SmartClientRegistration, redirectUri: string, baseUrl: string): boolean =>
    client.redirectUris.some((r) => (r.startsWith('/') ? `${baseUrl}${r}` : r) === redirectUri);

  const redirectWith = (res: Response, redirectUri: string, params: Record<string, string | undefined>): void => {
    const url = new URL(redirectUri);
    for (const [k, v] of Object.entries(params)) if (v !== undefined) url.searchParams.set(k, v);
    res.setHeader('Cache-Control', 'no-store');
    res.redirect(303, url.toString());
  };

  const pageHeaders = (res: Response, redirectOrigin?: string): void => {
    const formAction = ["'self'", ...(redirectOrigin ? [redirectOrigin] : [])].join(' ');
    res.setHeader(
      'Content-Security-Policy',
      `default-src 'none'; form-action ${formAction}; frame-ancestors 'none'; base-uri 'none'`,
    );
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
  };

  const txFromForm = (req: Request): Transaction | undefined => {
    const id = str((req.body as Record<string, unknown> | undefined)?.tx);
    const tx = id ? transactions.get(id) : undefined;
    if (!tx || tx.expiresAt <= now().getTime()) return undefined;
    // The transaction is bound to the browser that started it (login CSRF).
    const cookie = (req.get('cookie') ?? '').split(';').map((c) => c.trim()).find((c) => c.startsWith(`${TX_COOKIE}=`));
    return cookie?.slice(TX_COOKIE.length + 1) === tx.secret ? tx : undefined;
  };

  const issueCode = (res: Response, txId: string, tx: Transaction, baseUrl: string): void => {
    transactions.delete(txId);
    const code = random();
    const t = now().getTime();
    prune(codes, t);
    const { secret: _s, expiresAt: _e, needsPatient: _n, ...request } = tx;
    codes.set(code, { ...request, expiresAt: t + CODE_TTL_MS, used: false, issued: [], baseUrl });
    res.clearCookie(TX_COOKIE, { path: '/sandbox/auth' });
    redirectWith(res, tx.redirectUri, { code, state: tx.state });
  };

  const tokenResponse = async (
    baseUrl: string,
    grant: { clientId: string; scopes: string[]; patient?: string; encounter?: string; user?: string; nonce?: string; appContext?: string },
    family?: string,
  ) => {
    const urls = sandboxAuthUrls(baseUrl);
    const scope = grant.scopes.join(' ');
    const accessGrant: AccessGrant = { clientId: grant.clientId, scope };
    if (grant.patient) accessGrant.patient = grant.patient;
    if (grant.encounter) accessGrant.encounter = grant.encounter;
    if (grant.user) accessGrant.user = grant.user;
    const { token, jti } = await signer.accessToken(accessGrant, { issuer: urls.issuer, audience: urls.fhirBase, lifetimeSeconds: appTokenLifetime, now: now() });
    const body: Record<string, unknown> = { access_token: token, token_type: 'Bearer', expires_in: appTokenLifetime, scope };
    if (grant.patient) {
      body.patient = grant.patient;
      body.need_patient_banner = true;
      body.smart_style_url = `${baseUrl}/sandbox/smart-style.json`;
    }
    if (grant.encounter) body.encounter = grant.encounter;
    if (grant.appContext) body.appContext = grant.appContext;
    if (grant.scopes.includes('openid') && grant.scopes.includes('fhirUser') && grant.user) {
      body.id_token = await signer.idToken({
        issuer: urls.issuer,
        clientId: grant.clientId,
        subject: grant.user,
        fhirUser: `${urls.fhirBase}/${grant.user}`,
        ...(grant.nonce ? { nonce: grant.nonce } : {}),
        lifetimeSeconds: ID_TOKEN_LIFETIME_S,
        now: now(),
      });
    }
    if (grant.scopes.includes('offline_access') || grant.scopes.includes('online_access')) {
      const refresh = random();
      const t = now().getTime();
      prune(refreshTokens, t);
      const record: RefreshRecord = { clientId: grant.clientId, scopes: grant.scopes, expiresAt: t + REFRESH_TTL_MS, family: family ?? random(16), used: false };
      if (grant.patient) record.patient = grant.patient;
      if (grant.encounter) record.encounter = grant.encounter;
      if (grant.user) record.user = grant.user;
      refreshTokens.set(refresh, record);
      body.refresh_token = refresh;
    }
    return { body, jti };
  };

  /** RFC 7523 §3 client assertion for private_key_jwt (SMART Backend Services §Authenticating to the token endpoint). */
  const authenticateClient = async (form: Record<string, unknown>, baseUrl: string): Promise<SmartClientRegistration> => {
    const assertion = str(form.client_assertion);
    if (assertion !== undefined || form.client_assertion_type !== undefined) {
      if (form.client_assertion_type !== ASSERTION_TYPE || !assertion) throw new OAuthError('invalid_client', 'Unsupported client assertion');
      let iss: string | undefined;
      try {
        iss = str(decodeJwt(assertion).iss);
      } catch {
        throw new OAuthError('invalid_client', 'Malformed client assertion');
      }
      const client = iss ? clients.get(iss) : undefined;
      if (!client?.jwks) throw new OAuthError('invalid_client', 'Unknown client');
      if (form.client_id !== undefined && form.client_id !== client.clientId) throw new OAuthError('invalid_client', 'client_id does not match the assertion');
      try {
        const { payload } = await jwtVerify(assertion, createLocalJWKSet(client.jwks), {
          algorithms: ['RS384', 'ES384', 'RS256', 'ES256'],
          issuer: client.clientId,
          subject: client.clientId,
          audience: sandboxAuthUrls(baseUrl).token,
          requiredClaims: ['exp', 'jti'],
          currentDate: now(),
          clockTolerance: 30,
        });
        const nowS = Math.floor(now().getTime() / 1000);
        // Backend Services: exp no more than five minutes in the future.
        if (payload.exp! > nowS + 300 + 30) throw new Error('assertion lives too long');
        if (!(await options.replayCache.firstUse(replayKey(`assertion:${client.clientId}`, String(payload.jti)), payload.exp! + 30, nowS))) {
          throw new Error('assertion replayed');
        }
      } catch {
        throw new OAuthError('invalid_client', 'Client assertion not accepted');
      }
      return client;
    }
    const clientId = str(form.client_id);
    const client = clientId ? clients.get(clientId) : undefined;
    if (!client) throw new OAuthError('invalid_client', 'Unknown client');
    // A confidential client must prove itself; it may not fall back to acting as a public one.
    if (client.jwks) throw new OAuthError('invalid_client', 'This client must authenticate with private_key_jwt');
    return client;
  };

  const router = express.Router();
  router.use(express.urlencoded({ extended: false, limit: '64kb' }));

  router.get('/jwks.json', (_req, res) => {
    res.setHeader('Cache-Control', 'public, max-age=60');
    res.json(signer.jwks);
  });

  router.post('/launch', express.json({ limit: '8kb' }), (req, res) => {
    const body = req.body as Record<string, unknown>;
    const patient = str(body.patientId);
    if (!patient || !options.patients().some((p) => p.id === patient)) {
      res.status(400).json({ error: 'invalid_request', error_description: 'Unknown patient' });
      return;
    }
    const encounter = str(body.encounterId);
    // The sandbox EHR's clinician is the one signed in when the EHR opens an app.
    const user = options.users[0]?.reference;
    // CDS Hooks 2.0.1 §Link appContext: opaque to the EHR, bounded so a launch cannot carry a payload.
    const appContext = str(body.appContext);
    if (appContext !== undefined && appContext.length > 2048) {
      res.status(400).json({ error: 'invalid_request', error_description: 'appContext too long' });
      return;
    }
    const launch = server.createLaunch({ patient, ...(encounter ? { encounter } : {}), ...(user ? { user } : {}), ...(appContext ? { appContext } : {}) });
    res.setHeader('Cache-Control', 'no-store');
    res.json({ launch, iss: sandboxAuthUrls(baseOf(req)).fhirBase });
  });

  router.get('/authorize', (req, res) => {
    const q = req.query as Record<string, unknown>;
    const baseUrl = baseOf(req);
    const urls = sandboxAuthUrls(baseUrl);
    const clientId = str(q.client_id);
    const redirectUri = str(q.redirect_uri);
    const client = clientId ? clients.get(clientId) : undefined;
    // RFC 6749 §4.1.2.1: with a bad client or redirect URI, tell the user; never redirect.
    if (!client || !redirectUri || !redirectAllowed(client, redirectUri, baseUrl)) {
      pageHeaders(res);
      res.status(400).type('html').send(errorPage('Unknown application or redirect address.'));
      return;
    }
    const state = str(q.state);
    const fail = (error: string, description: string) => redirectWith(res, redirectUri, { error, error_description: description, state });
    if (q.response_type !== 'code') return fail('unsupported_response_type', 'response_type must be code');
    if (!state) return fail('invalid_request', 'state is required');
    if (q.code_challenge_method !== 'S256' || !isValidCodeChallenge(q.code_challenge)) {
      return fail('invalid_request', 'PKCE with code_challenge_method=S256 is required');
    }
    if (q.aud !== urls.fhirBase) return fail('invalid_request', 'aud must be this FHIR server');
    const scopes = splitScopes(str(q.scope)).filter(isSupportedScope);
    if (!scopes.length) return fail('invalid_scope', 'No supported scope requested');

    const request: AuthRequest = { clientId: client.clientId, redirectUri, scopes, state, codeChallenge: q.code_challenge };
    const nonce = str(q.nonce);
    if (nonce) request.nonce = nonce;
    const launchId = str(q.launch);
    if (launchId !== undefined || scopes.includes('launch')) {
      const launch = launchId ? launches.get(launchId) : undefined;
      if (!launch || launch.expiresAt <= now().getTime() || !scopes.includes('launch')) return fail('invalid_request', 'Unknown or expired launch');
      launches.delete(launchId!);
      request.patient = launch.patient;
      if (launch.encounter) request.encounter = launch.encounter;
      if (launch.user) request.user = launch.user;
      if (launch.appContext) request.appContext = launch.appContext;
    }
    const hasPatientScopes = scopes.some((s) => parseClinicalScope(s)?.context === 'patient');
    const needsPatient = request.patient === undefined && (scopes.includes('launch/patient') || hasPatientScopes);

    const txId = random();
    const secret = random();
    const t = now().getTime();
    prune(transactions, t);
    transactions.set(txId, { ...request, secret, expiresAt: t + TX_TTL_MS, needsPatient });
    res.cookie(TX_COOKIE, secret, { httpOnly: true, sameSite: 'lax', secure: req.secure, path: '/sandbox/auth', maxAge: TX_TTL_MS });
    // EHR launch: the clinician is already signed in to the EHR.
    if (request.user && !needsPatient) return issueCode(res, txId, transactions.get(txId)!, baseUrl);
    pageHeaders(res);
    res.type('html').send(loginPage({ tx: txId, clientId: client.clientId, scopes, users: [...options.users], action: urls.login }));
  });

  router.post('/login', (req, res) => {
    const tx = txFromForm(req);
    const baseUrl = baseOf(req);
    const urls = sandboxAuthUrls(baseUrl);
    if (!tx) {
      pageHeaders(res);
      res.status(400).type('html').send(errorPage('This sign-in has expired. Start again from the application.'));
      return;
    }
    const txId = String((req.body as Record<string, unknown>).tx);
    const body = req.body as Record<string, unknown>;
    if (body.decision !== 'allow') {
      transactions.delete(txId);
      return redirectWith(res, tx.redirectUri, { error: 'access_denied', error_description: 'The user denied access', state: tx.state });
    }
    const user = options.users.find((u) => u.reference === body.user);
    if (!user) {
      pageHeaders(res, new URL(tx.redirectUri).origin);
      res.status(400).type('html').send(errorPage('Unknown user.'));
      return;
    }
    tx.user = user.reference;
    if (!tx.needsPatient) return issueCode(res, txId, tx, baseUrl);
    pageHeaders(res, new URL(tx.redirectUri).origin);
    res.type('html').send(patientPickerPage({ tx: txId, patients: [...options.patients()], action: urls.pick }));
  });

  router.post('/pick', (req, res) => {
    const tx = txFromForm(req);
    const patient = str((req.body as Record<string, unknown>).patient);
    if (!tx || !tx.user || !patient || !options.patients().some((p) => p.id === patient)) {
      pageHeaders(res);
      res.status(400).type('html').send(errorPage('This patient choice cannot be used. Start again from the application.'));
      return;
    }
    tx.patient = patient;
    issueCode(res, String((req.body as Record<string, unknown>).tx), tx, baseOf(req));
  });

  router.post('/token', async (req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Pragma', 'no-cache');
    const form = (req.body ?? {}) as Record<string, unknown>;
    const baseUrl = baseOf(req);
    try {
      const client = await authenticateClient(form, baseUrl);
      switch (form.grant_type) {
        case 'authorization_code': {
          const code = str(form.code);
          const record = code ? codes.get(code) : undefined;
          if (!record || record.clientId !== client.clientId) throw new OAuthError('invalid_grant', 'Unknown authorization code');
          if (record.used) {
            // Replay of a used code: revoke what it produced (RFC 6749 §4.1.2, "SHOULD revoke").
            for (const jti of record.issued) revoked.set(jti, Date.now() + 24 * 3600_000);
            codes.delete(code!);
            logger.warn({ clientId: client.clientId }, 'sandbox auth: authorization code reused; tokens revoked');
            throw new OAuthError('invalid_grant', 'Authorization code already used');
          }
          record.used = true;
          if (record.expiresAt <= now().getTime()) throw new OAuthError('invalid_grant', 'Authorization code expired');
          if (form.redirect_uri !== record.redirectUri) throw new OAuthError('invalid_grant', 'redirect_uri does not match');
          if (!verifierMatches(form.code_verifier, record.codeChallenge)) throw new OAuthError('invalid_grant', 'PKCE verification failed');
          const { body, jti } = await tokenResponse(record.baseUrl, record);
          record.issued.push(jti);
          res.json(body);
          return;
        }
        case 'refresh_token': {
          const token = str(form.refresh_token);
          const record = token ? refreshTokens.get(token) : undefined;
          if (!record || record.clientId !== client.clientId || revokedFamilies.has(record.family)) throw new OAuthError('invalid_grant', 'Unknown refresh token');
          if (record.used) {
            // A rotated-out refresh token came back: someone holds a copy. Kill the whole family.
            revokedFamilies.add(record.family);
            throw new OAuthError('invalid_grant', 'Refresh token already used');
          }
          if (record.expiresAt <= now().getTime()) throw new OAuthError('invalid_grant', 'Refresh token expired');
          record.used = true;
          // RFC 6749 §6: a narrower scope may be asked for; never a wider one.
          const asked = str(form.scope) ? splitScopes(str(form.scope)) : record.scopes;
          if (asked.some((s) => !record.scopes.includes(s))) throw new OAuthError('invalid_scope', 'Scope wider than originally granted');
          const { body } = await tokenResponse(baseUrl, { ...record, scopes: asked }, record.family);
          res.json(body);
          return;
        }
        case 'client_credentials': {
          if (!client.jwks) throw new OAuthError('unauthorized_client', 'client_credentials needs private_key_jwt');
          const scopes = splitScopes(str(form.scope)).filter((s) => {
            const parsed = parseClinicalScope(s);
            return parsed?.context === 'system' && parsed.query === undefined;
          });
          if (!scopes.length) throw new OAuthError('invalid_scope', 'Backend Services grant system/ scopes only');
          const urls = sandboxAuthUrls(baseUrl);
          const scope = scopes.join(' ');
          const { token } = await signer.accessToken({ clientId: client.clientId, scope }, { issuer: urls.issuer, audience: urls.fhirBase, lifetimeSeconds: 300, now: now() });
          res.json({ access_token: token, token_type: 'Bearer', expires_in: 300, scope });
          return;
        }
        default:
          throw new OAuthError('unsupported_grant_type', 'Unsupported grant_type');
      }
    } catch (err) {
      if (!(err instanceof OAuthError)) throw err;
      if (err.error === 'invalid_client') res.setHeader('WWW-Authenticate', 'Bearer realm="sandbox-auth"');
      res.status(err.error === 'invalid_client' ? 401 : 400).json({ error: err.error, error_description: err.description });
    }
  });

  const server: SandboxAuthServer = {
    router,
    smartConfiguration(baseUrl) {
      const urls = sandboxAuthUrls(baseUrl);
      return {
        issuer: urls.issuer,
        jwks_uri: urls.jwks,
        authorization_endpoint: urls.authorize,
        token_endpoint: urls.token,
        grant_types_supported: ['authorization_code', 'refresh_token', 'client_credentials'],
        token_endpoint_auth_methods_supported: ['private_key_jwt', 'none'],
        token_endpoint_auth_signing_alg_values_supported: ['RS384', 'ES384'],
        scopes_supported: [
          'openid',
          'fhirUser',
          'launch',
          'launch/patient',
          'offline_access',
          'online_access',
          'patient/*.rs',
          'patient/Observation.rs',
          'patient/Patient.r',
          'user/*.rs',
          'system/*.rs',
          // Backend Services writing results back (npm run score-population: RiskAssessment conditional creates).
          'system/RiskAssessment.cs',
        ],
        response_types_supported: ['code'],
        capabilities: [
          'launch-ehr',
          'launch-standalone',
          'client-public',
          'client-confidential-asymmetric',
          'context-ehr-patient',
          'context-ehr-encounter',
          'context-standalone-patient',
          'context-banner',
          'context-style',
          'sso-openid-connect',
          'permission-offline',
          'permission-online',
          'permission-patient',
          'permission-user',
          'permission-v1',
          'permission-v2',
        ],
        code_challenge_methods_supported: ['S256'],
      };
    },
    registerClient(client) {
      clients.set(client.clientId, client);
    },
    createLaunch(context) {
      const id = random(16);
      const t = now().getTime();
      prune(launches, t);
      launches.set(id, { ...context, expiresAt: t + TX_TTL_MS });
      return id;
    },
    async issueAccessToken(grant, { baseUrl, lifetimeSeconds, now: at }) {
      const urls = sandboxAuthUrls(baseUrl);
      const { token } = await signer.accessToken(grant, { issuer: urls.issuer, audience: urls.fhirBase, lifetimeSeconds, now: at ?? now() });
      return { token, expiresIn: lifetimeSeconds };
    },
    async verifyAccessToken(token, { baseUrl, now: at }) {
      const urls = sandboxAuthUrls(baseUrl);
      const verified = await signer.verifyAccessToken(token, { audience: urls.fhirBase, now: at ?? now() });
      if (verified.issuer !== urls.issuer) throw new Error('issuer mismatch');
      if (revoked.has(verified.jti)) throw new Error('revoked');
      return verified;
    },
  };
  return server;
}
