/**
 * The one gate for Vigil's own patient-data endpoints (explanations, scores, feedback analytics):
 * RFC 6750 bearer token → valid (injected verifier) → SMART scope covers the resource type and
 * interaction → the patient asked for is the token's patient (decideAccess). Else 401 (no or bad token)
 * or 403 (scope or patient). Every decision made with a valid token about a known patient is audited as
 * one AuditEvent, refusals included (outcome 4).
 *
 * Usage: `router.get('/explanations/:patientId', requireAccess({ …, resourceType: 'RiskAssessment',
 * access: 'read', patientOf: (req) => req.params.patientId }), handler)`.
 */
import type { Request, RequestHandler } from 'express';
import { ForbiddenError, UnauthorizedError } from '../errors.js';
import type { Logger } from '../logger.js';
import { decideAccess, type AccessGrantView } from './access-decision.js';
import { buildAuditEvent, type AuditSink } from './audit.js';
import { bearerToken } from './cds-client-auth.js';
import type { FhirAccess } from './scopes.js';

export interface VerifiedGrant extends AccessGrantView {
  clientId: string;
}

export interface RequireAccessOptions {
  /** Verifies the bearer token; throws when it is not valid (expired, wrong audience, revoked, …). */
  verify(token: string, req: Request): Promise<VerifiedGrant>;
  /** FHIR resource type the endpoint serves (scopes are checked against it). */
  resourceType: string;
  access: FhirAccess;
  /** The patient this request concerns. */
  patientOf(req: Request): string | undefined;
  audit: AuditSink;
  /** Audit description, e.g. "explanation read". */
  description: string;
  logger: Logger;
  realm?: string;
}

const INTERACTION: Record<FhirAccess, 'read' | 'search-type' | 'create' | 'update'> = {
  read: 'read',
  vread: 'read',
  search: 'search-type',
  create: 'create',
  update: 'update',
  delete: 'update',
};

export function requireAccess(opts: RequireAccessOptions): RequestHandler {
  const realm = `realm="${opts.realm ?? 'vigil'}"`;
  return async (req, res, next) => {
    const token = bearerToken(req.get('authorization'));
    if (!token) {
      next(new UnauthorizedError('An access token is required', `Bearer ${realm}`));
      return;
    }
    let grant: VerifiedGrant;
    try {
      grant = await opts.verify(token, req);
    } catch {
      opts.logger.info({ reqId: req.id, reason: 'invalid_token' }, 'access refused');
      next(new UnauthorizedError('The access token is not valid', `Bearer ${realm}, error="invalid_token"`));
      return;
    }
    const patientId = opts.patientOf(req);
    const decision = decideAccess(grant, { resourceType: opts.resourceType, access: opts.access, ...(patientId ? { patientId } : {}) });
    if (patientId) {
      res.on('finish', () => {
        try {
          opts.audit.record(
            buildAuditEvent({
              agent: grant.user ? { reference: grant.user } : { clientId: grant.clientId },
              patientId,
              description: opts.description,
              interaction: INTERACTION[opts.access],
              status: res.statusCode,
            }),
          );
        } catch (err) {
          opts.logger.error({ reqId: req.id, errName: (err as Error).name }, 'audit record failed');
        }
      });
    }
    if (!decision.allowed) {
      opts.logger.info({ reqId: req.id, reason: decision.reason }, 'access refused');
      next(new ForbiddenError(decision.reason === 'patient' ? 'The token does not cover this patient' : 'The token scope does not cover this request'));
      return;
    }
    res.locals.access = grant;
    next();
  };
}
