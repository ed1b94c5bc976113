/**
 * Shared shapes of the access-token verifiers for Vigil's own patient-data endpoints (requireAccess).
 * One interface, one file per back end (sandbox authorization server, trusted EHR authorization servers),
 * chosen in one place (compose.ts, wired in src/app.ts).
 */
import type { Request } from 'express';
import { UnauthorizedError } from '../../errors.js';
import type { VerifiedGrant } from '../require-access.js';

/** RFC 6750 §3.1: the challenge answered with every refused token. */
export const INVALID_TOKEN_CHALLENGE = 'Bearer error="invalid_token"';

/**
 * What a verified EHR access token grants, in the shape requireAccess / decideAccess read (scope, patient,
 * user), plus where it came from and until when it holds.
 */
export interface EhrAccessGrant extends VerifiedGrant {
  /** The authorization server's issuer, as it publishes it. */
  issuer: string;
  /** The trusted FHIR base (SMART `iss`) whose authorization server issued the token. */
  fhirBase: string;
  /** `sub`: the end user or client the token was issued for. */
  subject?: string;
  /** Epoch seconds after which the token is no longer valid. */
  expiresAt: number;
  /** How the token was verified: locally against the JWKS, or by RFC 7662 introspection. */
  method: 'jwt' | 'introspection';
}

/** One back end able to judge some access tokens. */
export interface TokenVerifier {
  /** Short name for logs ("sandbox", "ehr"). */
  readonly name: string;
  /**
   * Whether this verifier is the authority for `token` (by its issuer, read without checking the signature).
   * Never throws: an issuer it cannot judge is simply not recognised.
   */
  recognises(token: string, req: Request): Promise<boolean>;
  /** Verifies the token; throws (InvalidAccessTokenError or another error) when it is not valid. */
  verify(token: string, req: Request): Promise<VerifiedGrant>;
}

/** Why a token was refused; logged (never the token), not shown to the caller. */
export type InvalidTokenReason =
  | 'unknown_issuer'
  | 'malformed'
  | 'algorithm'
  | 'signature'
  | 'unknown_key'
  | 'issuer'
  | 'audience'
  | 'expired'
  | 'not_yet_valid'
  | 'claims'
  | 'inactive'
  | 'introspection_unavailable'
  | 'discovery_unavailable'
  | 'jwks_unavailable'
  | 'unsupported';

/** A refused access token: 401 with `WWW-Authenticate: Bearer error="invalid_token"`, the same body for every reason. */
export class InvalidAccessTokenError extends UnauthorizedError {
  constructor(readonly reason: InvalidTokenReason) {
    super('The access token is not valid', INVALID_TOKEN_CHALLENGE);
  }
}
