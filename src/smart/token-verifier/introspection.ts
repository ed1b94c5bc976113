/**
 * Opaque access tokens, verified by asking the issuing authorization server: OAuth 2.0 Token Introspection
 * (RFC 7662 §2) as SMART App Launch v2.2 §Token Introspection profiles it (`active`, `scope`, `client_id`,
 * `exp`, and the launch context `patient`, `fhirUser`).
 *
 * Our client authenticates to the introspection endpoint with `client_secret_basic` (RFC 6749 §2.3.1) or
 * `private_key_jwt` (RFC 7523 §2.2, OpenID Connect Core §9). Positive answers are cached briefly, keyed
 * by a SHA-256 of the token: the cache never holds a token, so a memory dump of it grants nothing.
 * Any failure — endpoint down, non-200, unreadable answer — refuses the token (fail closed).
 */
import { createHash, randomUUID } from 'node:crypto';
import { SignJWT, type CryptoKey } from 'jose';
import { z } from 'zod';
import type { FetchLike } from './discovery.js';
import { InvalidAccessTokenError, type EhrAccessGrant } from './types.js';

/** How our client proves who it is to the introspection endpoint. */
export type IntrospectionClientAuth =
  | { method: 'client_secret_basic'; clientId: string; clientSecret: string }
  | { method: 'private_key_jwt'; clientId: string; privateKey: CryptoKey; alg: string; kid?: string };

/** RFC 7662 §2.2 response members read here; only `active` is REQUIRED. */
const introspectionResponseSchema = z.object({
  active: z.boolean(),
  scope: z.string().optional(),
  client_id: z.string().optional(),
  sub: z.string().optional(),
  exp: z.number().optional(),
  nbf: z.number().optional(),
  iss: z.string().optional(),
  aud: z.union([z.string(), z.array(z.string())]).optional(),
  token_type: z.string().optional(),
  /** SMART: the patient in context. */
  patient: z.string().optional(),
  /** SMART: the user, when `openid fhirUser` was granted. */
  fhirUser: z.string().optional(),
});

/** Thrown when the introspection endpoint cannot give a verdict (as opposed to answering "inactive"). */
export class IntrospectionUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'IntrospectionUnavailableError';
  }
}

/** RFC 6749 §2.3.1: id and secret are form-urlencoded before Basic encoding. */
function basicCredentials(clientId: string, secret: string): string {
  const enc = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');
  return Buffer.from(`${enc(clientId)}:${enc(secret)}`).toString('base64');
}

/** A short-lived client assertion (RFC 7523 §3): iss = sub = client id, aud = the authorization server. */
async function clientAssertion(auth: Extract<IntrospectionClientAuth, { method: 'private_key_jwt' }>, audience: string, nowS: number): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: auth.alg, typ: 'JWT', ...(auth.kid ? { kid: auth.kid } : {}) })
    .setIssuer(auth.clientId)
    .setSubject(auth.clientId)
    .setAudience(audience)
    .setIssuedAt(nowS)
    .setExpirationTime(nowS + 300)
    .setJti(randomUUID())
    .sign(auth.privateKey);
}

export interface IntrospectOptions {
  endpoint: string;
  auth: IntrospectionClientAuth;
  /** Audience of a private_key_jwt assertion; SMART servers expect their token endpoint. Default: the endpoint. */
  assertionAudience?: string;
  fetch?: FetchLike;
  timeoutMs?: number;
  now?: () => number;
}

export type IntrospectionResponse = z.infer<typeof introspectionResponseSchema>;

/**
 * POSTs the token to the introspection endpoint (no redirects) and returns its parsed answer.
 * @throws IntrospectionUnavailableError when no verdict could be obtained.
 */
export async function introspectToken(token: string, opts: IntrospectOptions): Promise<IntrospectionResponse> {
  const nowS = Math.floor((opts.now ?? Date.now)() / 1000);
  const form = new URLSearchParams({ token, token_type_hint: 'access_token' });
  const headers: Record<string, string> = { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' };
  if (opts.auth.method === 'client_secret_basic') {
    headers.Authorization = `Basic ${basicCredentials(opts.auth.clientId, opts.auth.clientSecret)}`;
  } else {
    form.set('client_id', opts.auth.clientId);
    form.set('client_assertion_type', 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
    form.set('client_assertion', await clientAssertion(opts.auth, opts.assertionAudience ?? opts.endpoint, nowS));
  }
  let res: Response;
  try {
    res = await (opts.fetch ?? fetch)(opts.endpoint, {
      method: 'POST',
      headers,
      body: form.toString(),
      redirect: 'error',
      signal: AbortSignal.timeout(opts.timeoutMs ?? 5000),
    });
  } catch (err) {
    throw new IntrospectionUnavailableError('introspection endpoint unreachable', { cause: err });
  }
  if (res.status !== 200) throw new IntrospectionUnavailableError(`introspection endpoint answered ${res.status}`);
  const parsed = introspectionResponseSchema.safeParse(await res.json().catch(() => undefined));
  if (!parsed.success) throw new IntrospectionUnavailableError('introspection answer is not an RFC 7662 response');
  return parsed.data;
}

export interface IntrospectionGrantOptions {
  /** The authorization server's issuer, when published: an `iss` in the answer must equal it. */
  issuer: string | undefined;
  fhirBase: string;
  /** Accepted audiences; an `aud` in the answer must name one of them. */
  audience: string[];
  clockSkewSeconds: number;
  nowSeconds: number;
  /** Lifetime assumed for an active answer without `exp`. */
  defaultLifetimeSeconds: number;
}

/**
 * Pure: an introspection answer → the grant, or InvalidAccessTokenError. Inactive, expired, not yet valid,
 * foreign `iss` or `aud`, and answers without a scope are refused.
 */
export function grantFromIntrospection(answer: IntrospectionResponse, opts: IntrospectionGrantOptions): EhrAccessGrant {
  if (answer.active !== true) throw new InvalidAccessTokenError('inactive');
  if (answer.exp !== undefined && answer.exp + opts.clockSkewSeconds <= opts.nowSeconds) throw new InvalidAccessTokenError('expired');
  if (answer.nbf !== undefined && answer.nbf - opts.clockSkewSeconds > opts.nowSeconds) throw new InvalidAccessTokenError('not_yet_valid');
  if (answer.iss !== undefined && opts.issuer !== undefined && answer.iss !== opts.issuer) throw new InvalidAccessTokenError('issuer');
  if (answer.aud !== undefined) {
    const auds = Array.isArray(answer.aud) ? answer.aud : [answer.aud];
    if (!auds.some((a) => opts.audience.includes(a))) throw new InvalidAccessTokenError('audience');
  }
  if (answer.scope === undefined) throw new InvalidAccessTokenError('claims');
  const grant: EhrAccessGrant = {
    clientId: answer.client_id ?? answer.sub ?? 'unknown',
    scope: answer.scope,
    issuer: answer.iss ?? opts.issuer ?? opts.fhirBase,
    fhirBase: opts.fhirBase,
    expiresAt: answer.exp ?? opts.nowSeconds + opts.defaultLifetimeSeconds,
    method: 'introspection',
  };
  if (answer.patient) grant.patient = answer.patient;
  if (answer.fhirUser) grant.user = answer.fhirUser;
  if (answer.sub) grant.subject = answer.sub;
  return grant;
}

/** SHA-256 of the token, hex: the only form in which a token is ever kept. */
export function tokenDigest(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/**
 * Positive introspection verdicts for `ttlSeconds` (never past the token's own expiry), keyed by
 * tokenDigest. Bounded: the oldest entries go first. Negative answers are not cached, so a token the
 * server has just activated is not refused for long — and a revoked one lives here at most ttlSeconds.
 */
export class IntrospectionCache {
  readonly #entries = new Map<string, { grant: EhrAccessGrant; until: number }>();

  constructor(private readonly options: { ttlSeconds: number; maxEntries?: number }) {}

  get(token: string, nowSeconds: number): EhrAccessGrant | undefined {
    const key = tokenDigest(token);
    const hit = this.#entries.get(key);
    if (!hit) return undefined;
    if (hit.until <= nowSeconds) {
      this.#entries.delete(key);
      return undefined;
    }
    return hit.grant;
  }

  set(token: string, grant: EhrAccessGrant, nowSeconds: number): void {
    if (this.options.ttlSeconds <= 0) return;
    const until = Math.min(nowSeconds + this.options.ttlSeconds, grant.expiresAt);
    if (until <= nowSeconds) return;
    this.#entries.set(tokenDigest(token), { grant, until });
    const max = this.options.maxEntries ?? 10_000;
    while (this.#entries.size > max) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#entries.delete(oldest);
    }
  }

  /** Everything the cache holds (keys and verdicts), for audits and tests. */
  snapshot(): Array<[string, EhrAccessGrant]> {
    return [...this.#entries].map(([k, v]) => [k, v.grant]);
  }

  get size(): number {
    return this.#entries.size;
  }
}
