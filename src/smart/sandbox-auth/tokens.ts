/**
 * Access and ID tokens of the sandbox SMART authorization server.
 *
 * Access tokens are JWTs per RFC 9068 (JWT Profile for OAuth 2.0 Access Tokens: `typ: at+jwt`, iss, aud =
 * the FHIR base URL, sub, client_id, scope, exp, iat, jti) plus the SMART launch context claims the
 * resource server needs (`patient`, `fhirUser`). ID tokens follow OpenID Connect Core §2 with the SMART
 * `fhirUser` claim (SMART App Launch v2 §Scopes for requesting identity data).
 * Keys: one ES384 pair made at start-up; a restart rotates it (tokens are short-lived).
 */
import { randomUUID } from 'node:crypto';
import { SignJWT, calculateJwkThumbprint, exportJWK, generateKeyPair, jwtVerify, type CryptoKey, type JSONWebKeySet } from 'jose';

export const AUTH_SIGNING_ALG = 'ES384';

/** What an access token says about its holder. */
export interface AccessGrant {
  /** OAuth client id the token was issued to. */
  clientId: string;
  /** Space-separated granted scopes. */
  scope: string;
  /** Patient id in context (patient-level scopes are confined to this compartment). */
  patient?: string;
  encounter?: string;
  /** The signed-in user, as a FHIR reference ("Practitioner/123"). */
  user?: string;
}

export interface VerifiedAccessToken extends AccessGrant {
  jti: string;
  issuer: string;
  audience: string;
  expiresAt: number;
}

export interface TokenSigner {
  readonly jwks: JSONWebKeySet;
  /** Signs an access token for `audience` (a FHIR base URL) valid for `lifetimeSeconds`. */
  accessToken(grant: AccessGrant, opts: { issuer: string; audience: string; lifetimeSeconds: number; now?: Date }): Promise<{ token: string; jti: string }>;
  idToken(claims: { issuer: string; clientId: string; subject: string; fhirUser: string; nonce?: string; lifetimeSeconds: number; now?: Date }): Promise<string>;
  /**
   * Verifies an access token we issued, for `audience`.
   * @throws Error (jose errors) when the signature, typ, audience or expiry does not hold.
   */
  verifyAccessToken(token: string, opts: { audience: string; clockSkewSeconds?: number; now?: Date }): Promise<VerifiedAccessToken>;
}

function epoch(now: Date): number {
  return Math.floor(now.getTime() / 1000);
}

export async function createTokenSigner(): Promise<TokenSigner> {
  const { publicKey, privateKey } = await generateKeyPair(AUTH_SIGNING_ALG, { extractable: true });
  const jwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(jwk);
  const jwks: JSONWebKeySet = { keys: [{ ...jwk, kid, alg: AUTH_SIGNING_ALG, use: 'sig' }] };
  const signingKey: CryptoKey = privateKey;
  const verifyKey: CryptoKey = publicKey;

  return {
    jwks,
    async accessToken(grant, { issuer, audience, lifetimeSeconds, now = new Date() }) {
      const jti = randomUUID();
      const iat = epoch(now);
      const token = await new SignJWT({
        client_id: grant.clientId,
        scope: grant.scope,
        ...(grant.patient ? { patient: grant.patient } : {}),
        ...(grant.encounter ? { encounter: grant.encounter } : {}),
        ...(grant.user ? { fhirUser: grant.user } : {}),
      })
        .setProtectedHeader({ alg: AUTH_SIGNING_ALG, kid, typ: 'at+jwt' })
        .setIssuer(issuer)
        .setAudience(audience)
        .setSubject(grant.user ?? grant.clientId)
        .setIssuedAt(iat)
        .setExpirationTime(iat + lifetimeSeconds)
        .setJti(jti)
        .sign(signingKey);
      return { token, jti };
    },
    async idToken({ issuer, clientId, subject, fhirUser, nonce, lifetimeSeconds, now = new Date() }) {
      const iat = epoch(now);
      return new SignJWT({ fhirUser, ...(nonce ? { nonce } : {}) })
        .setProtectedHeader({ alg: AUTH_SIGNING_ALG, kid, typ: 'JWT' })
        .setIssuer(issuer)
        .setAudience(clientId)
        .setSubject(subject)
        .setIssuedAt(iat)
        .setExpirationTime(iat + lifetimeSeconds)
        .sign(signingKey);
    },
    async verifyAccessToken(token, { audience, clockSkewSeconds = 30, now = new Date() }) {
      const { payload } = await jwtVerify(token, verifyKey, {
        algorithms: [AUTH_SIGNING_ALG],
        typ: 'at+jwt',
        audience,
        requiredClaims: ['iss', 'exp', 'iat', 'jti', 'scope', 'client_id'],
        clockTolerance: clockSkewSeconds,
        currentDate: now,
      });
      const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
      const verified: VerifiedAccessToken = {
        jti: String(payload.jti),
        issuer: String(payload.iss),
        audience,
        expiresAt: payload.exp!,
        clientId: String(payload.client_id),
        scope: String(payload.scope),
      };
      const patient = str(payload.patient);
      const encounter = str(payload.encounter);
      const user = str(payload.fhirUser);
      if (patient) verified.patient = patient;
      if (encounter) verified.encounter = encounter;
      if (user) verified.user = user;
      return verified;
    },
  };
}
