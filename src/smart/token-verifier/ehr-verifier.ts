/**
 * The production verifier: access tokens issued by the authorization servers of trusted EHRs
 * (SMART_ALLOWED_ISSUERS, the same FHIR bases the explanation view may be launched from), for Vigil's own
 * patient-data endpoints (requireAccess).
 *
 * Per token:
 * 1. JWT-shaped with an `iss` → the trusted FHIR base whose smart-configuration publishes that `issuer`
 *    (SMART App Launch v2.2 §Conformance); verified locally against its `jwks_uri` (jwt.ts). An issuer
 *    without `jwks_uri` but with an `introspection_endpoint` gets its JWTs introspected instead.
 * 2. Opaque → RFC 7662 introspection (introspection.ts) at the first trusted FHIR base, in configuration
 *    order, that publishes an `introspection_endpoint`. Deviation on purpose: an opaque token does not say
 *    who issued it, and sending it to every trusted server would hand one EHR another's tokens.
 * Anything else is not recognised (compose.ts then answers 401). Reasons are logged; tokens never.
 */
import type { Request } from 'express';
import type { Logger } from '../../logger.js';
import type { RemoteJwksCache } from '../jwks-cache.js';
import type { ResourceServerConfig, ResourceServerDiscovery } from './discovery.js';
import { IntrospectionUnavailableError, grantFromIntrospection, introspectToken, type IntrospectionCache, type IntrospectionClientAuth } from './introspection.js';
import { looksLikeJwt, unverifiedIssuer, verifyJwtAccessToken } from './jwt.js';
import type { FetchLike } from './discovery.js';
import { InvalidAccessTokenError, type EhrAccessGrant, type TokenVerifier } from './types.js';

export interface EhrIntrospectionOptions {
  auth: IntrospectionClientAuth;
  cache: IntrospectionCache;
  fetch?: FetchLike;
  timeoutMs?: number;
}

export interface EhrTokenVerifierOptions {
  /** Trusted FHIR bases (SMART `iss`), normalised without trailing slashes. */
  fhirBases: readonly string[];
  /**
   * Accepted `aud` values. Default: the FHIR base of the issuing EHR (what a SMART app asks for with
   * `aud=<iss>`); set to our resource identifier when the EHR issues tokens for Vigil itself.
   */
  audience?: readonly string[];
  discovery: ResourceServerDiscovery;
  jwks: RemoteJwksCache;
  /** Absent: opaque tokens are not accepted. */
  introspection?: EhrIntrospectionOptions;
  clockSkewSeconds: number;
  /** Lifetime assumed for an active introspection answer without `exp`. Default 300 s. */
  defaultLifetimeSeconds?: number;
  logger?: Logger;
  /** Clock in milliseconds (tests). */
  now?: () => number;
}

interface Target {
  fhirBase: string;
  config: ResourceServerConfig;
  jwt: boolean;
}

export interface EhrTokenVerifier extends TokenVerifier {
  verify(token: string, req?: Request): Promise<EhrAccessGrant>;
}

export function createEhrTokenVerifier(options: EhrTokenVerifierOptions): EhrTokenVerifier {
  const now = options.now ?? Date.now;
  const log = options.logger;

  async function configOf(fhirBase: string): Promise<ResourceServerConfig | undefined> {
    try {
      return await options.discovery.get(fhirBase);
    } catch (err) {
      log?.warn({ fhirBase, reason: 'discovery_unavailable', errMessage: (err as Error).message }, 'ehr token verifier: smart-configuration unavailable');
      return undefined;
    }
  }

  /** Which trusted EHR must judge this token, or undefined when none is its authority. */
  async function targetOf(token: string): Promise<Target | undefined> {
    const iss = unverifiedIssuer(token);
    if (iss !== undefined) {
      for (const fhirBase of options.fhirBases) {
        const config = await configOf(fhirBase);
        if (config?.issuer === iss) return { fhirBase, config, jwt: true };
      }
      return undefined;
    }
    // A JWT without `iss` names no issuer: it is neither ours to introspect nor to verify.
    if (looksLikeJwt(token) || !options.introspection) return undefined;
    for (const fhirBase of options.fhirBases) {
      const config = await configOf(fhirBase);
      if (config?.introspection_endpoint) return { fhirBase, config, jwt: false };
    }
    return undefined;
  }

  async function introspect(token: string, target: Target, introspection: EhrIntrospectionOptions): Promise<EhrAccessGrant> {
    const nowS = Math.floor(now() / 1000);
    const cached = introspection.cache.get(token, nowS);
    if (cached) return cached;
    let answer;
    try {
      answer = await introspectToken(token, {
        endpoint: target.config.introspection_endpoint!,
        auth: introspection.auth,
        ...(target.config.token_endpoint ? { assertionAudience: target.config.token_endpoint } : {}),
        ...(introspection.fetch ? { fetch: introspection.fetch } : {}),
        ...(introspection.timeoutMs ? { timeoutMs: introspection.timeoutMs } : {}),
        now,
      });
    } catch (err) {
      if (!(err instanceof IntrospectionUnavailableError)) throw err;
      log?.warn(
        { fhirBase: target.fhirBase, reason: 'introspection_unavailable', errMessage: err.message },
        'ehr token verifier: token introspection failed, token refused (fail closed)',
      );
      throw new InvalidAccessTokenError('introspection_unavailable');
    }
    const grant = grantFromIntrospection(answer, {
      issuer: target.config.issuer,
      fhirBase: target.fhirBase,
      audience: [...(options.audience ?? [target.fhirBase])],
      clockSkewSeconds: options.clockSkewSeconds,
      nowSeconds: nowS,
      defaultLifetimeSeconds: options.defaultLifetimeSeconds ?? 300,
    });
    introspection.cache.set(token, grant, nowS);
    return grant;
  }

  async function judge(token: string, target: Target): Promise<EhrAccessGrant> {
    const { config } = target;
    if (target.jwt && config.jwks_uri) {
      const jwksUri = config.jwks_uri;
      return verifyJwtAccessToken(token, {
        issuer: config.issuer!,
        audience: [...(options.audience ?? [target.fhirBase])],
        fhirBase: target.fhirBase,
        keyFor: (header) => options.jwks.keyFor(jwksUri, header),
        clockSkewSeconds: options.clockSkewSeconds,
        now: new Date(now()),
      });
    }
    if (options.introspection && config.introspection_endpoint) return introspect(token, target, options.introspection);
    throw new InvalidAccessTokenError('unsupported');
  }

  return {
    name: 'ehr',
    async recognises(token) {
      return (await targetOf(token)) !== undefined;
    },
    async verify(token) {
      const target = await targetOf(token);
      if (!target) {
        log?.info({ reason: 'unknown_issuer' }, 'ehr access token refused');
        throw new InvalidAccessTokenError('unknown_issuer');
      }
      try {
        return await judge(token, target);
      } catch (err) {
        const reason = err instanceof InvalidAccessTokenError ? err.reason : 'claims';
        if (reason !== 'introspection_unavailable') log?.info({ fhirBase: target.fhirBase, reason }, 'ehr access token refused');
        throw err instanceof InvalidAccessTokenError ? err : new InvalidAccessTokenError(reason);
      }
    },
  };
}
