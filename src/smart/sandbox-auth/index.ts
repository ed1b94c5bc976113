/**
 * Everything SMART the sandbox EHR mounts, assembled in one place so src/sandbox/index.ts needs only a few
 * lines: the authorization server (/sandbox/auth), SMART discovery at
 * /sandbox/fhir/.well-known/smart-configuration (SMART App Launch v2.2 §Conformance), the FHIR server's
 * token enforcement (SANDBOX_FHIR_AUTH), and hook `fhirAuthorization` tokens issued by that same server.
 */
import type { Request, RequestHandler } from 'express';
import type { Config } from '../../config.js';
import { baseUrlOf } from '../../http/base-url.js';
import type { Logger } from '../../logger.js';
import type { SmartOAuthUris } from '../../sandbox/fhir/capability.js';
import type { AuthorizeFhirRequest } from '../../sandbox/fhir/router.js';
import type { SandboxClientIdentity } from '../../sandbox/ehr/client-identity.js';
import { smartFhirAuthorizer } from '../fhir-authorize.js';
import { MemoryReplayCache } from '../replay-cache.js';
import { POPULATION_DEMO_CLIENT } from './demo-backend-client.js';
import { createSandboxAuthServer, type SandboxAuthServer, type SandboxUser, type SmartClientRegistration, type SmartConfiguration } from './server.js';

/** The explanation view (src/web), a public SMART client using PKCE; its callback is on our own origin. */
export const EXPLANATION_APP_CLIENT: SmartClientRegistration = { clientId: 'vigil-explain', redirectUris: ['/app/callback'] };

export interface SandboxSecurityOptions {
  config: Pick<Config, 'publicBaseUrl' | 'sandboxFhirAuth'>;
  logger: Logger;
  patients: () => ReadonlyArray<{ id: string; name: string; birthDate?: string }>;
  users: readonly SandboxUser[];
}

export interface SandboxSecurity {
  auth: SandboxAuthServer;
  /** GET handler for the FHIR base's .well-known/smart-configuration. */
  smartConfiguration: RequestHandler;
  /** The same endpoints for the FHIR CapabilityStatement (createFhirRouter({ smartOAuthUris })). */
  oauthUris: (req: Request) => SmartOAuthUris;
  /** For createFhirRouter({ authorize }); undefined when SANDBOX_FHIR_AUTH is off. */
  authorizeFhir: AuthorizeFhirRequest | undefined;
  /** The identity with its access tokens (hook fhirAuthorization) issued by the authorization server. */
  withHookTokens(identity: SandboxClientIdentity): SandboxClientIdentity;
}

/** The oauth-uris sub-extensions (SMART App Launch §Conformance) from a smart-configuration document. */
export function oauthUrisOf(conf: SmartConfiguration): SmartOAuthUris {
  return {
    authorize: conf.authorization_endpoint,
    token: conf.token_endpoint,
    ...(conf.registration_endpoint ? { register: conf.registration_endpoint } : {}),
    ...(conf.management_endpoint ? { manage: conf.management_endpoint } : {}),
    ...(conf.introspection_endpoint ? { introspect: conf.introspection_endpoint } : {}),
    ...(conf.revocation_endpoint ? { revoke: conf.revocation_endpoint } : {}),
  };
}

export async function createSandboxSecurity(options: SandboxSecurityOptions): Promise<SandboxSecurity> {
  const { config, logger } = options;
  const auth = await createSandboxAuthServer({
    publicBaseUrl: config.publicBaseUrl,
    logger,
    patients: options.patients,
    users: options.users,
    // The demo Backend Services client of `npm run score-population` (its private key is committed: sandbox only).
    clients: [EXPLANATION_APP_CLIENT, POPULATION_DEMO_CLIENT],
    replayCache: new MemoryReplayCache(),
  });
  const authorizeFhir = config.sandboxFhirAuth
    ? smartFhirAuthorizer({ logger, verify: (token, req) => auth.verifyAccessToken(token, { baseUrl: baseUrlOf(req, config.publicBaseUrl) }) })
    : undefined;
  return {
    auth,
    authorizeFhir,
    smartConfiguration: (req, res) => {
      res.setHeader('Cache-Control', 'public, max-age=300');
      res.json(auth.smartConfiguration(baseUrlOf(req, config.publicBaseUrl)));
    },
    oauthUris: (req) => oauthUrisOf(auth.smartConfiguration(baseUrlOf(req, config.publicBaseUrl))),
    withHookTokens(identity) {
      return {
        alg: identity.alg,
        kid: identity.kid,
        jwks: identity.jwks,
        signClientJwt: (o) => identity.signClientJwt(o),
        // The token's audience is the FHIR base ("<base>/sandbox/fhir"); the server derives its URLs from <base>.
        issueAccessToken: ({ audience, subject, scope, patient, now }) =>
          auth.issueAccessToken(
            { clientId: subject, scope, ...(patient ? { patient } : {}) },
            { baseUrl: audience.replace(/\/sandbox\/fhir\/?$/, ''), lifetimeSeconds: 300, ...(now ? { now } : {}) },
          ),
      };
    },
  };
}
