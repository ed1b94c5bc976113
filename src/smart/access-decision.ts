/**
 * The one access decision for patient data, shared by the sandbox FHIR server and our own endpoints:
 * SMART App Launch v2.2 §Scopes and launch context (https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html).
 *
 * - `patient/` scopes reach only the compartment of the token's `patient`; a request whose patient is
 *   unknown (unconfined search, resource outside any patient compartment) is refused under them.
 * - `user/` scopes reach whatever the signed-in user may see (in the sandbox: everything).
 * - `system/` scopes belong to Backend Services tokens (no user, no patient).
 * Pure: no I/O, so every rule has a table test.
 */
import { scopesPermit, splitScopes, type FhirAccess } from './scopes.js';

export interface AccessGrantView {
  scope: string;
  patient?: string;
  user?: string;
}

export interface AccessRequest {
  resourceType: string;
  access: FhirAccess;
  /** The patient whose data this is, when known. */
  patientId?: string;
}

export type AccessDecision = { allowed: true } | { allowed: false; reason: 'scope' | 'patient' };

export function decideAccess(grant: AccessGrantView, request: AccessRequest): AccessDecision {
  const scopes = splitScopes(grant.scope);
  const { resourceType, access } = request;
  if (scopesPermit(scopes, { resourceType, access, contexts: ['system'] }) && !grant.user && !grant.patient) return { allowed: true };
  if (scopesPermit(scopes, { resourceType, access, contexts: ['user'] }) && grant.user) return { allowed: true };
  if (!scopesPermit(scopes, { resourceType, access, contexts: ['patient'] })) return { allowed: false, reason: 'scope' };
  if (grant.patient === undefined || request.patientId === undefined || request.patientId !== grant.patient) {
    return { allowed: false, reason: 'patient' };
  }
  return { allowed: true };
}
