/**
 * Access-token verification for Vigil's own patient-data endpoints: the trusted EHRs' authorization
 * servers (JWT via JWKS, or RFC 7662 introspection) and the sandbox's, composed in src/app.ts.
 * docs/security.md §4 lists the claims and their tests.
 */
import { readFileSync } from 'node:fs';
import { importJWK, type CryptoKey, type JWK } from 'jose';
import type { Config } from '../../config.js';
import type { Logger } from '../../logger.js';
import { RemoteJwksCache } from '../jwks-cache.js';
import { ResourceServerDiscovery, type FetchLike } from './discovery.js';
import { createEhrTokenVerifier, type EhrTokenVerifier } from './ehr-verifier.js';
import { IntrospectionCache, type IntrospectionClientAuth } from './introspection.js';
import { EHR_TOKEN_ALGORITHMS } from './jwt.js';

export { firstRecognising, sandboxTokenVerifier, type VerifyAccessToken } from './compose.js';
export { createEhrTokenVerifier, type EhrTokenVerifier, type EhrTokenVerifierOptions } from './ehr-verifier.js';
export { ResourceServerDiscovery, fetchResourceServerConfig, isSecureUrl, DiscoveryError, type ResourceServerConfig } from './discovery.js';
export { IntrospectionCache, introspectToken, grantFromIntrospection, tokenDigest, type IntrospectionClientAuth } from './introspection.js';
export { EHR_TOKEN_ALGORITHMS, verifyJwtAccessToken, unverifiedIssuer } from './jwt.js';
export { InvalidAccessTokenError, INVALID_TOKEN_CHALLENGE, type EhrAccessGrant, type TokenVerifier } from './types.js';

export type EhrVerifierConfig = Pick<
  Config,
  | 'smartAllowedIssuers'
  | 'ehrTokenAudience'
  | 'ehrIntrospectionClientId'
  | 'ehrIntrospectionClientSecret'
  | 'ehrIntrospectionClientSecretFile'
  | 'ehrIntrospectionPrivateKeyFile'
  | 'ehrIntrospectionCacheSeconds'
  | 'cdsJwtClockSkewSeconds'
  | 'jwksCooldownSeconds'
  | 'jwksMaxAgeSeconds'
>;

/**
 * The client credentials for introspection, from configuration: a private JWK (private_key_jwt) wins over a
 * secret (client_secret_basic). Undefined when no client id is configured. Throws at start-up on an
 * unreadable secret or key, rather than refusing every opaque token later.
 */
export async function introspectionAuthFrom(config: EhrVerifierConfig): Promise<IntrospectionClientAuth | undefined> {
  const clientId = config.ehrIntrospectionClientId;
  if (!clientId) return undefined;
  if (config.ehrIntrospectionPrivateKeyFile) {
    const jwk = JSON.parse(readFileSync(config.ehrIntrospectionPrivateKeyFile, 'utf8')) as JWK;
    if (typeof jwk.alg !== 'string' || !(EHR_TOKEN_ALGORITHMS as readonly string[]).includes(jwk.alg) || jwk.d === undefined) {
      throw new Error(`EHR_INTROSPECTION_PRIVATE_KEY_FILE must hold a private JWK with alg one of ${EHR_TOKEN_ALGORITHMS.join(', ')}`);
    }
    const privateKey = (await importJWK(jwk, jwk.alg)) as CryptoKey;
    return { method: 'private_key_jwt', clientId, privateKey, alg: jwk.alg, ...(jwk.kid ? { kid: jwk.kid } : {}) };
  }
  const secret = config.ehrIntrospectionClientSecretFile
    ? readFileSync(config.ehrIntrospectionClientSecretFile, 'utf8').trim()
    : config.ehrIntrospectionClientSecret;
  if (!secret) throw new Error('EHR_INTROSPECTION_CLIENT_ID needs EHR_INTROSPECTION_CLIENT_SECRET(_FILE) or EHR_INTROSPECTION_PRIVATE_KEY_FILE');
  return { method: 'client_secret_basic', clientId, clientSecret: secret };
}

/** The production verifier for the configured issuers; undefined when SMART_ALLOWED_ISSUERS is empty. */
export async function ehrTokenVerifierFromConfig(
  config: EhrVerifierConfig,
  deps: { logger?: Logger; fetch?: FetchLike; now?: () => number } = {},
): Promise<EhrTokenVerifier | undefined> {
  if (!config.smartAllowedIssuers.length) return undefined;
  const auth = await introspectionAuthFrom(config);
  const now = deps.now ? { now: deps.now } : {};
  return createEhrTokenVerifier({
    fhirBases: config.smartAllowedIssuers,
    ...(config.ehrTokenAudience ? { audience: config.ehrTokenAudience } : {}),
    discovery: new ResourceServerDiscovery({ maxAgeSeconds: config.jwksMaxAgeSeconds, ...(deps.fetch ? { fetch: deps.fetch } : {}), ...now }),
    jwks: new RemoteJwksCache({ cooldownSeconds: config.jwksCooldownSeconds, maxAgeSeconds: config.jwksMaxAgeSeconds, ...now }),
    ...(auth
      ? { introspection: { auth, cache: new IntrospectionCache({ ttlSeconds: config.ehrIntrospectionCacheSeconds }), ...(deps.fetch ? { fetch: deps.fetch } : {}) } }
      : {}),
    clockSkewSeconds: config.cdsJwtClockSkewSeconds,
    ...(deps.logger ? { logger: deps.logger } : {}),
    ...now,
  });
}
