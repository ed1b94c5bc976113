/**
 * Local verification of JWT access tokens from a trusted EHR authorization server: RFC 9068 (JWT Profile
 * for OAuth 2.0 Access Tokens) as SMART App Launch v2.2 servers issue them, with the SMART launch-context
 * claims (`scope`, `patient`, `fhirUser`).
 *
 * Deviation on purpose: RFC 9068 §2.1 asks for `typ: at+jwt`, but deployed EHRs also send `JWT` or no `typ`;
 * those are accepted, and the `aud` check (an ID token's audience is a client id, never a FHIR base or our
 * resource identifier) is what keeps ID tokens out. A JWT access token cannot be revoked before it expires
 * here; issuers that need revocation should issue opaque tokens (introspection).
 */
import { decodeJwt, decodeProtectedHeader, errors as joseErrors, jwtVerify, type CryptoKey, type JWSHeaderParameters, type JWTPayload } from 'jose';
import { InvalidAccessTokenError, type EhrAccessGrant, type InvalidTokenReason } from './types.js';

/** JWS algorithms accepted on EHR access tokens: asymmetric only, never `none` or HMAC. */
export const EHR_TOKEN_ALGORITHMS = ['RS256', 'RS384', 'ES256', 'ES384'] as const;

const ACCEPTED_TYP = new Set(['at+jwt', 'application/at+jwt', 'jwt']);
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** The unverified `iss` of a token that has the shape of a JWT, else undefined (an opaque token). */
export function unverifiedIssuer(token: string): string | undefined {
  if (!COMPACT_JWS.test(token)) return undefined;
  try {
    decodeProtectedHeader(token);
    const iss = decodeJwt(token).iss;
    return typeof iss === 'string' && iss !== '' ? iss : undefined;
  } catch {
    return undefined;
  }
}

/** True when the token is a compact JWS whose header and payload decode (signature not checked). */
export function looksLikeJwt(token: string): boolean {
  if (!COMPACT_JWS.test(token)) return false;
  try {
    decodeProtectedHeader(token);
    decodeJwt(token);
    return true;
  } catch {
    return false;
  }
}

export interface JwtAccessTokenOptions {
  /** The authorization server's issuer, exactly as its smart-configuration publishes it. */
  issuer: string;
  /** Accepted audiences (our resource identifier or the FHIR base). */
  audience: string | string[];
  /** The FHIR base of this issuer (carried into the grant). */
  fhirBase: string;
  /** Resolves the verification key for the token's header (the issuer's JWKS). */
  keyFor(header: JWSHeaderParameters): Promise<CryptoKey>;
  clockSkewSeconds: number;
  now?: Date;
}

function reasonOf(err: unknown): InvalidTokenReason {
  if (err instanceof InvalidAccessTokenError) return err.reason;
  if (err instanceof joseErrors.JWTExpired) return 'expired';
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    if (err.claim === 'iss') return 'issuer';
    if (err.claim === 'aud') return 'audience';
    if (err.claim === 'nbf' || err.claim === 'iat') return 'not_yet_valid';
    return 'claims';
  }
  if (err instanceof joseErrors.JOSEAlgNotAllowed || err instanceof joseErrors.JOSENotSupported) return 'algorithm';
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return 'signature';
  if (err instanceof joseErrors.JWTInvalid || err instanceof joseErrors.JWSInvalid) return 'malformed';
  const name = (err as { name?: unknown } | undefined)?.name;
  if (name === 'UnknownKeyError') return 'unknown_key';
  if (name === 'JwksUnavailableError') return 'jwks_unavailable';
  return 'signature';
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** SMART puts granted scopes in `scope` (space-separated); some servers use an `scp` array. */
function scopeOf(payload: JWTPayload): string | undefined {
  if (typeof payload.scope === 'string') return payload.scope;
  if (Array.isArray(payload.scp) && payload.scp.every((s) => typeof s === 'string')) return payload.scp.join(' ');
  return undefined;
}

/**
 * Verifies a JWT access token: signature under the issuer's JWKS with an allowed algorithm, `iss`, `aud`,
 * `exp` (required) and `nbf` with the configured skew, and a `scope`. Returns the grant requireAccess reads.
 * @throws InvalidAccessTokenError with the reason.
 */
export async function verifyJwtAccessToken(token: string, opts: JwtAccessTokenOptions): Promise<EhrAccessGrant> {
  let payload: JWTPayload;
  try {
    const header = decodeProtectedHeader(token);
    // Checked before any key lookup, so a forged `alg` never costs a JWKS fetch.
    if (typeof header.alg !== 'string' || !(EHR_TOKEN_ALGORITHMS as readonly string[]).includes(header.alg)) {
      throw new InvalidAccessTokenError('algorithm');
    }
    if (header.typ !== undefined && !ACCEPTED_TYP.has(String(header.typ).toLowerCase())) throw new InvalidAccessTokenError('claims');
    ({ payload } = await jwtVerify(token, (h) => opts.keyFor(h), {
      algorithms: [...EHR_TOKEN_ALGORITHMS],
      issuer: opts.issuer,
      audience: opts.audience,
      requiredClaims: ['exp'],
      clockTolerance: opts.clockSkewSeconds,
      ...(opts.now ? { currentDate: opts.now } : {}),
    }));
  } catch (err) {
    throw new InvalidAccessTokenError(reasonOf(err));
  }
  const scope = scopeOf(payload);
  if (scope === undefined) throw new InvalidAccessTokenError('claims');
  const grant: EhrAccessGrant = {
    clientId: str(payload.client_id) ?? str(payload.azp) ?? str(payload.sub) ?? 'unknown',
    scope,
    issuer: opts.issuer,
    fhirBase: opts.fhirBase,
    expiresAt: payload.exp!,
    method: 'jwt',
  };
  const patient = str(payload.patient);
  const user = str(payload.fhirUser);
  const subject = str(payload.sub);
  if (patient) grant.patient = patient;
  if (user) grant.user = user;
  if (subject) grant.subject = subject;
  return grant;
}
