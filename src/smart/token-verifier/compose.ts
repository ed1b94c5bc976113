/**
 * Chooses the verifier for a token: the first back end that recognises the token's issuer decides, alone
 * (a token refused by its own issuer's verifier is not offered to the next one). A token nobody
 * recognises is refused. Wired in src/app.ts: the sandbox authorization server (SANDBOX=on) first, then
 * the trusted EHRs.
 */
import type { Request } from 'express';
import type { Logger } from '../../logger.js';
import type { VerifiedGrant } from '../require-access.js';
import { sandboxAuthUrls } from '../sandbox-auth/server.js';
import { unverifiedIssuer } from './jwt.js';
import { InvalidAccessTokenError, type TokenVerifier } from './types.js';

export type VerifyAccessToken = (token: string, req: Request) => Promise<VerifiedGrant>;

/**
 * `verifiers` may be a function so back ends mounted later (the sandbox is created after the routes that
 * use the verifier) take part without re-wiring.
 */
export function firstRecognising(verifiers: readonly TokenVerifier[] | (() => readonly TokenVerifier[]), logger?: Logger): VerifyAccessToken {
  return async (token, req) => {
    const list = typeof verifiers === 'function' ? verifiers() : verifiers;
    for (const verifier of list) {
      if (await verifier.recognises(token, req).catch(() => false)) return verifier.verify(token, req);
    }
    logger?.info({ reqId: req.id, reason: 'unknown_issuer' }, 'access token from no trusted issuer');
    throw new InvalidAccessTokenError('unknown_issuer');
  };
}

export interface SandboxTokenVerifierOptions {
  /** The sandbox authorization server's own check (signature, audience = sandbox FHIR base, revocation). */
  verify(token: string, opts: { baseUrl: string }): Promise<VerifiedGrant>;
  /** This request's public base URL (PUBLIC_BASE_URL or derived from Host), which the sandbox's URLs follow. */
  baseUrlOf(req: Request): string;
}

/** The sandbox authorization server as a TokenVerifier: it recognises tokens whose `iss` is `<base>/sandbox/auth`. */
export function sandboxTokenVerifier(options: SandboxTokenVerifierOptions): TokenVerifier {
  return {
    name: 'sandbox',
    async recognises(token, req) {
      return unverifiedIssuer(token) === sandboxAuthUrls(options.baseUrlOf(req)).issuer;
    },
    verify(token, req) {
      return options.verify(token, { baseUrl: options.baseUrlOf(req) });
    },
  };
}
