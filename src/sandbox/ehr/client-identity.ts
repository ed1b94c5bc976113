/**
 * The sandbox EHR's identity as a CDS client: an ES384 key pair made at start-up, its public JWK Set,
 * and the two tokens an EHR hands out on every hook call.
 *
 * - Client JWT: CDS Hooks 2.0.1 §Trusting CDS Clients (https://cds-hooks.hl7.org/2.0/#trusting-cds-clients).
 *   Header alg, kid, typ "JWT" and jku (OPTIONAL); claims iss, aud, exp, iat, jti (REQUIRED).
 * - Access token for fhirAuthorization: CDS Hooks 2.0.1 §Passing the Access Token to the CDS Service.
 *   The sandbox FHIR server does not check it yet; it is a signed JWT so that it can later.
 */
import { randomUUID } from 'node:crypto';
import { SignJWT, calculateJwkThumbprint, exportJWK, generateKeyPair, type JSONWebKeySet, type CryptoKey } from 'jose';

/** ES384 is one of the two algorithms CDS Hooks 2.0 requires services to support (with RS384). */
export const SANDBOX_CLIENT_ALG = 'ES384';

/** Client JWTs live 5 minutes: long enough for clock skew, short enough to limit replay. */
export const CLIENT_JWT_LIFETIME_S = 300;

/** fhirAuthorization access tokens live 5 minutes, as a real EHR's short-lived CDS tokens do. */
export const ACCESS_TOKEN_LIFETIME_S = 300;

export interface ClientJwtOptions {
  /** iss — the EHR's identifier, `<base>/sandbox`. */
  issuer: string;
  /** aud — the exact CDS Service endpoint being called. */
  audience: string;
  /** jku header — where the service can fetch our JWK Set. */
  jwksUrl: string;
  now?: Date;
}

export interface AccessTokenOptions {
  issuer: string;
  /** The FHIR server the token is for. */
  audience: string;
  /** OAuth client id of the CDS service as registered with this EHR. */
  subject: string;
  scope: string;
  patient?: string;
  now?: Date;
}

export interface SandboxClientIdentity {
  readonly alg: typeof SANDBOX_CLIENT_ALG;
  readonly kid: string;
  /** Public keys only; safe to publish. */
  readonly jwks: JSONWebKeySet;
  signClientJwt(options: ClientJwtOptions): Promise<string>;
  issueAccessToken(options: AccessTokenOptions): Promise<{ token: string; expiresIn: number }>;
}

function epochSeconds(now: Date): number {
  return Math.floor(now.getTime() / 1000);
}

/** Generates a fresh key pair. Keys live only in memory: a restart rotates them and republishes the JWKS. */
export async function createSandboxClientIdentity(): Promise<SandboxClientIdentity> {
  const { publicKey, privateKey } = await generateKeyPair(SANDBOX_CLIENT_ALG, { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  const jwks: JSONWebKeySet = { keys: [{ ...publicJwk, kid, alg: SANDBOX_CLIENT_ALG, use: 'sig' }] };
  const key: CryptoKey = privateKey;

  return {
    alg: SANDBOX_CLIENT_ALG,
    kid,
    jwks,
    async signClientJwt({ issuer, audience, jwksUrl, now = new Date() }) {
      const iat = epochSeconds(now);
      return new SignJWT({})
        .setProtectedHeader({ alg: SANDBOX_CLIENT_ALG, kid, typ: 'JWT', jku: jwksUrl })
        .setIssuer(issuer)
        .setAudience(audience)
        .setIssuedAt(iat)
        .setExpirationTime(iat + CLIENT_JWT_LIFETIME_S)
        .setJti(randomUUID())
        .sign(key);
    },
    async issueAccessToken({ issuer, audience, subject, scope, patient, now = new Date() }) {
      const iat = epochSeconds(now);
      const token = await new SignJWT({ scope, ...(patient ? { patient } : {}) })
        .setProtectedHeader({ alg: SANDBOX_CLIENT_ALG, kid, typ: 'at+jwt' })
        .setIssuer(issuer)
        .setAudience(audience)
        .setSubject(subject)
        .setIssuedAt(iat)
        .setExpirationTime(iat + ACCESS_TOKEN_LIFETIME_S)
        .setJti(randomUUID())
        .sign(key);
      return { token, expiresIn: ACCESS_TOKEN_LIFETIME_S };
    },
  };
}
