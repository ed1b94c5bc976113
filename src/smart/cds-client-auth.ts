/**
 * CDS client authentication — CDS Hooks 2.0.1 §Trusting CDS Clients
 * (https://cds-hooks.hl7.org/2.0/#trusting-cds-clients) and §JWT Signing Algorithm.
 *
 * Every POST to /cds-services/… carries `Authorization: Bearer <JWT>` signed by a client in the
 * CdsClientRegistry. Checked, in order:
 * - header: `alg` on the allow-list (never `none` or HMAC), `typ` "JWT", `kid` present (all REQUIRED),
 *   `jku` (OPTIONAL) equal to the client's configured JWKS URL (or its allow-listed jku);
 * - `iss` names a trusted client; the signature verifies with that client's key for `kid`;
 * - claims `aud` = the exact endpoint URL called, `exp`, `iat` (not in the future, not older than the
 *   maximum age), `jti`, all REQUIRED; `tenant` (OPTIONAL) equal to the client's when one is configured;
 *   `sub` and `nbf`, which deployed EHRs add, are accepted (`nbf` is honoured);
 * - the client may call this service (else 403), and the `jti` has not been seen before (replay).
 *
 * Deviation on purpose: the spec asks for a JWT on discovery too; GET /cds-services stays public here
 * because it discloses nothing beyond the service list, and EHR set-up screens fetch it unauthenticated.
 *
 * Every 401 carries the same body and `WWW-Authenticate` whatever went wrong, so a prober learns nothing;
 * the precise reason goes to the log (never the token itself).
 */
import type { RequestHandler } from 'express';
import {
  decodeJwt,
  decodeProtectedHeader,
  errors as joseErrors,
  jwtVerify,
  type CryptoKey,
  type JWSHeaderParameters,
  type JWTPayload,
} from 'jose';
import type { CdsClient, CdsClientRegistry } from '../cds-hooks/clients.js';
import { ForbiddenError, UnauthorizedError } from '../errors.js';
import { baseUrlOf } from '../http/base-url.js';
import type { Logger } from '../logger.js';
import { inlineKeyResolver, JwksUnavailableError, UnknownKeyError, type RemoteJwksCache } from './jwks-cache.js';
import { replayKey, type ReplayCache } from './replay-cache.js';

/** Why a token was refused. Logged, never sent to the caller. */
export type CdsClientAuthFailure =
  | 'missing_token'
  | 'malformed_token'
  | 'alg_not_allowed'
  | 'bad_typ'
  | 'missing_kid'
  | 'unknown_issuer'
  | 'jku_not_allowed'
  | 'unknown_kid'
  | 'jwks_unavailable'
  | 'bad_signature'
  | 'wrong_audience'
  | 'wrong_issuer'
  | 'missing_claim'
  | 'expired'
  | 'too_old'
  | 'iat_in_future'
  | 'not_yet_valid'
  | 'tenant_mismatch'
  | 'replayed';

const REALM = 'realm="cds-services"';

/** A refused client JWT: always the same public message and challenge; `reason` is for logs and tests. */
export class CdsClientAuthError extends UnauthorizedError {
  constructor(readonly reason: CdsClientAuthFailure) {
    super(
      'Client authentication failed',
      reason === 'missing_token'
        ? `Bearer ${REALM}` // RFC 6750 §3.1: no error code when the request carried no credentials.
        : `Bearer ${REALM}, error="invalid_token", error_description="The client JWT was not accepted"`,
    );
  }
}

/** The trusted client behind a verified JWT. */
export interface VerifiedCdsClient {
  issuer: string;
  jti: string;
  kid: string;
  alg: string;
  /** Epoch seconds. */
  expiresAt: number;
  subject?: string;
  tenant?: string;
}

export interface CdsClientVerifierOptions {
  clients: Pick<CdsClientRegistry, 'byIssuer' | 'allows'>;
  /** Keys of clients configured with a JWKS URL. */
  remoteJwks: Pick<RemoteJwksCache, 'keyFor'>;
  replayCache: ReplayCache;
  /** Accepted JWS algorithms (asymmetric only; HMAC and `none` are refused whatever is listed). */
  algorithms: readonly string[];
  clockSkewSeconds: number;
  /** Oldest `iat` accepted, in seconds. */
  maxAgeSeconds: number;
  now?: () => Date;
}

export interface CdsClientVerifier {
  /**
   * Verifies one client JWT for a call to `audience` (the exact URL called) of service `serviceId`.
   * @throws CdsClientAuthError (401) for any token problem; ForbiddenError (403) when the client is
   *   trusted but not allowed to call this service.
   */
  verify(token: string, target: { audience: string; serviceId?: string }): Promise<VerifiedCdsClient>;
}

/** Largest Authorization token considered; client JWTs are well under 2 KB. */
const MAX_TOKEN_LENGTH = 8192;
// The signature part may be empty so that unsigned (`alg: none`) tokens reach the alg check and are named as such.
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

function isSymmetricOrNone(alg: string): boolean {
  return alg === 'none' || /^HS\d+$/i.test(alg) || alg.toLowerCase() === 'dir';
}

/** jose's verification errors → our reasons. */
function reasonFor(err: unknown): CdsClientAuthFailure {
  if (err instanceof joseErrors.JWTExpired) return err.claim === 'iat' ? 'too_old' : 'expired';
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    if (err.reason === 'missing') return 'missing_claim';
    switch (err.claim) {
      case 'aud':
        return 'wrong_audience';
      case 'iss':
        return 'wrong_issuer';
      case 'iat':
        return 'iat_in_future';
      case 'nbf':
        return 'not_yet_valid';
      case 'typ':
        return 'bad_typ';
      default:
        return 'malformed_token';
    }
  }
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return 'bad_signature';
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return 'alg_not_allowed';
  if (err instanceof UnknownKeyError) return 'unknown_kid';
  if (err instanceof JwksUnavailableError) return 'jwks_unavailable';
  // Key type that does not fit the alg, and other import failures.
  if (err instanceof joseErrors.JOSENotSupported || err instanceof TypeError) return 'bad_signature';
  return 'malformed_token';
}

/** Header checks that need no key. @throws CdsClientAuthError */
function checkHeader(header: JWSHeaderParameters, algorithms: readonly string[]): { alg: string; kid: string } {
  const { alg, kid, typ } = header;
  if (typeof alg !== 'string' || isSymmetricOrNone(alg) || !algorithms.includes(alg)) throw new CdsClientAuthError('alg_not_allowed');
  // RFC 7515 §4.1.9: typ is a media type, compared case-insensitively.
  if (typeof typ !== 'string' || typ.toUpperCase() !== 'JWT') throw new CdsClientAuthError('bad_typ');
  if (typeof kid !== 'string' || kid === '') throw new CdsClientAuthError('missing_kid');
  return { alg, kid };
}

/** §Trusting CDS Clients: "maintain an allowlist of the iss and jku fields". */
function checkJku(header: JWSHeaderParameters, client: CdsClient): void {
  if (header.jku === undefined) return;
  const allowed = client.jwksUrl ?? client.jku;
  if (typeof header.jku !== 'string' || allowed === undefined || header.jku !== allowed) throw new CdsClientAuthError('jku_not_allowed');
}

export function createCdsClientVerifier(options: CdsClientVerifierOptions): CdsClientVerifier {
  const algorithms = options.algorithms.filter((a) => !isSymmetricOrNone(a));
  const now = options.now ?? (() => new Date());
  // Inline key sets are parsed once per client object; the registry replaces objects when they change.
  const inlineResolvers = new WeakMap<CdsClient, ReturnType<typeof inlineKeyResolver>>();

  const keyFor = async (client: CdsClient, header: JWSHeaderParameters): Promise<CryptoKey> => {
    if (client.jwksUrl) return options.remoteJwks.keyFor(client.jwksUrl, header);
    let resolve = inlineResolvers.get(client);
    if (!resolve) {
      resolve = inlineKeyResolver({ keys: client.jwks?.keys ?? [] });
      inlineResolvers.set(client, resolve);
    }
    return resolve(header);
  };

  return {
    async verify(token, target) {
      if (!token || token.length > MAX_TOKEN_LENGTH || !COMPACT_JWS.test(token)) throw new CdsClientAuthError('malformed_token');
      let header: JWSHeaderParameters;
      let unverified: JWTPayload;
      try {
        header = decodeProtectedHeader(token) as JWSHeaderParameters;
        unverified = decodeJwt(token);
      } catch {
        throw new CdsClientAuthError('malformed_token');
      }
      const { alg, kid } = checkHeader(header, algorithms);

      // The unverified iss only selects whose key to try; jwtVerify then checks it against that client.
      const client = typeof unverified.iss === 'string' ? options.clients.byIssuer(unverified.iss) : undefined;
      if (!client) throw new CdsClientAuthError('unknown_issuer');
      checkJku(header, client);

      const current = now();
      let payload: JWTPayload;
      try {
        const key = await keyFor(client, header);
        ({ payload } = await jwtVerify(token, key, {
          algorithms: [alg],
          issuer: client.issuer,
          audience: target.audience,
          typ: 'JWT',
          requiredClaims: ['iss', 'aud', 'exp', 'iat', 'jti'],
          clockTolerance: options.clockSkewSeconds,
          maxTokenAge: options.maxAgeSeconds,
          currentDate: current,
        }));
      } catch (err) {
        throw new CdsClientAuthError(reasonFor(err));
      }
      if (typeof payload.jti !== 'string' || payload.jti === '' || payload.jti.length > 256) throw new CdsClientAuthError('missing_claim');
      if (client.tenant !== undefined && payload.tenant !== client.tenant) throw new CdsClientAuthError('tenant_mismatch');

      if (target.serviceId !== undefined && !options.clients.allows(client.issuer, target.serviceId)) {
        throw new ForbiddenError('This client may not call this service');
      }

      // Remember the jti while the token could still pass the exp and age checks, and no longer.
      const exp = payload.exp!;
      const iat = payload.iat!;
      const rememberUntil = Math.min(exp, iat + options.maxAgeSeconds) + options.clockSkewSeconds;
      const nowSeconds = Math.floor(current.getTime() / 1000);
      if (!(await options.replayCache.firstUse(replayKey(client.issuer, payload.jti), rememberUntil, nowSeconds))) {
        throw new CdsClientAuthError('replayed');
      }

      const verified: VerifiedCdsClient = { issuer: client.issuer, jti: payload.jti, kid, alg, expiresAt: exp };
      if (typeof payload.sub === 'string') verified.subject = payload.sub;
      if (typeof payload.tenant === 'string') verified.tenant = payload.tenant;
      return verified;
    },
  };
}

/** The bearer token of an Authorization header (RFC 6750 §2.1), or undefined. */
export function bearerToken(authorization: string | undefined): string | undefined {
  const match = /^Bearer +([^\s]+)\s*$/i.exec(authorization ?? '');
  return match?.[1];
}

export interface CdsClientAuthenticationOptions {
  verifier: CdsClientVerifier;
  /** PUBLIC_BASE_URL; without it the audience is built from the request's own origin. */
  publicBaseUrl: string | undefined;
  logger: Logger;
}

/** Service id of a path under /cds-services: "/{id}" or "/{id}/feedback". */
function serviceIdOf(path: string): string | undefined {
  const match = /^\/([^/]+)(?:\/feedback)?\/?$/.exec(path);
  if (!match) return undefined;
  try {
    return decodeURIComponent(match[1]!);
  } catch {
    return undefined;
  }
}

/**
 * Express middleware for the CDS Hooks router's `authenticate` seam. Leaves discovery (GET /) and CORS
 * preflights alone; everything else needs a valid client JWT whose `aud` is this exact URL. On success
 * `res.locals.cdsClient` holds the VerifiedCdsClient.
 */
export function cdsClientAuthentication(opts: CdsClientAuthenticationOptions): RequestHandler {
  return async (req, res, next) => {
    if (req.method === 'OPTIONS' || ((req.method === 'GET' || req.method === 'HEAD') && (req.path === '/' || req.path === ''))) {
      next();
      return;
    }
    const audience = `${baseUrlOf(req, opts.publicBaseUrl)}${req.originalUrl.split('?')[0]}`;
    const serviceId = serviceIdOf(req.path);
    try {
      const token = bearerToken(req.get('authorization'));
      if (!token) throw new CdsClientAuthError('missing_token');
      res.locals.cdsClient = await opts.verifier.verify(token, { audience, ...(serviceId !== undefined ? { serviceId } : {}) });
      next();
    } catch (err) {
      if (err instanceof CdsClientAuthError) opts.logger.warn({ reqId: req.id, reason: err.reason }, 'cds client refused');
      else if (err instanceof ForbiddenError) opts.logger.warn({ reqId: req.id, reason: 'service_not_allowed', serviceId }, 'cds client refused');
      next(err);
    }
  };
}
