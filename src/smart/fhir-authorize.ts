/**
 * Token enforcement for the sandbox FHIR server, plugged into its `authorize` seam
 * (src/sandbox/fhir/router.ts). RFC 6750 bearer tokens issued by the sandbox authorization server; the
 * decision itself is decideAccess (scope covers type + interaction; patient compartment matches).
 * A transaction or batch needs only a valid token here: the router authorises each of its entries as
 * the interaction it performs (authorizeEntries), so the Bundle grants nothing its entries would not.
 */
import type { Request } from 'express';
import { ForbiddenError, UnauthorizedError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { AuthorizeFhirRequest, FhirInteraction } from '../sandbox/fhir/router.js';
import { decideAccess } from './access-decision.js';
import { bearerToken } from './cds-client-auth.js';
import type { FhirAccess } from './scopes.js';
import type { VerifiedAccessToken } from './sandbox-auth/tokens.js';

const REALM = 'realm="sandbox-fhir"';

function accessOf(interaction: FhirInteraction): FhirAccess | undefined {
  switch (interaction) {
    case 'read':
      return 'read';
    case 'vread':
      return 'vread';
    case 'search-type':
      return 'search';
    case 'create':
      return 'create';
    case 'update':
      return 'update';
    default:
      return undefined;
  }
}

export interface FhirAuthorizerOptions {
  /** Verifies a token for the FHIR server this request reached; throws when it is not valid. */
  verify(token: string, req: Request): Promise<VerifiedAccessToken>;
  logger: Logger;
}

export function smartFhirAuthorizer(opts: FhirAuthorizerOptions): AuthorizeFhirRequest {
  return async (req, interaction, resourceType, patientId) => {
    if (interaction === 'capabilities') return;
    const token = bearerToken(req.get('authorization'));
    if (!token) throw new UnauthorizedError('An access token is required', `Bearer ${REALM}`);
    let verified: VerifiedAccessToken;
    try {
      verified = await opts.verify(token, req);
    } catch {
      opts.logger.info({ reqId: req.id, reason: 'invalid_token' }, 'sandbox fhir: token refused');
      throw new UnauthorizedError('The access token is not valid', `Bearer ${REALM}, error="invalid_token"`);
    }
    if (interaction === 'transaction' || interaction === 'batch') return;
    const access = accessOf(interaction);
    const decision =
      access && resourceType
        ? decideAccess(verified, { resourceType, access, ...(patientId !== undefined ? { patientId } : {}) })
        : ({ allowed: false, reason: 'scope' } as const);
    if (!decision.allowed) {
      opts.logger.info({ reqId: req.id, reason: decision.reason, interaction, resourceType }, 'sandbox fhir: access refused');
      throw new ForbiddenError(decision.reason === 'patient' ? 'The token does not cover this patient' : 'The token scope does not cover this request');
    }
  };
}
