/**
 * Audit of patient-data access as FHIR R4 AuditEvent resources (https://hl7.org/fhir/R4/auditevent.html),
 * one per access: who (agent, requestor), which patient (entity, role 1 "Patient"), what (type/subtype,
 * action), outcome (0 success, 4 refused, 8 failed) and purpose of use (v3 ActReason, TREAT by default).
 *
 * The events hold patient references, so they live in the audit store (src/storage/audit-store.ts), which
 * only an admin token can read; they are never logged.
 */
import { randomUUID } from 'node:crypto';
import type { AuditEvent } from 'fhir/r4';
import type { RequestHandler } from 'express';
import type { Logger } from '../logger.js';

export interface AuditRecordInput {
  /** Who: a FHIR reference ("Practitioner/1") or an OAuth client / CDS client identifier. */
  agent: { reference?: string; clientId?: string; display?: string };
  patientId: string;
  /** What was done, in words a reviewer reads ("cds-hook vigil-news2", "explanation read"). */
  description: string;
  /** FHIR restful interaction or operation code (http://hl7.org/fhir/restful-interaction), e.g. "read", "operation". */
  interaction: 'read' | 'search-type' | 'create' | 'update' | 'operation';
  /** HTTP status of the answer: 2xx → 0, 401/403 → 4, other → 8. */
  status: number;
  /** v3 ActReason code; default TREAT. */
  purposeOfUse?: string;
  recorded?: Date;
}

export interface AuditSink {
  record(event: AuditEvent): void;
}

const ACTION: Record<AuditRecordInput['interaction'], AuditEvent['action']> = {
  read: 'R',
  'search-type': 'E',
  create: 'C',
  update: 'U',
  operation: 'E',
};

function outcomeOf(status: number): AuditEvent['outcome'] {
  if (status >= 200 && status < 300) return '0';
  if (status === 401 || status === 403) return '4';
  return '8';
}

/** Builds one AuditEvent. Pure apart from the id. */
export function buildAuditEvent(input: AuditRecordInput): AuditEvent {
  const who = input.agent.reference
    ? { reference: input.agent.reference, ...(input.agent.display ? { display: input.agent.display } : {}) }
    : { identifier: { system: 'urn:ietf:rfc:6749:client_id', value: input.agent.clientId ?? 'unknown' }, ...(input.agent.display ? { display: input.agent.display } : {}) };
  return {
    resourceType: 'AuditEvent',
    id: randomUUID(),
    type: { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest', display: 'RESTful Operation' },
    subtype: [{ system: 'http://hl7.org/fhir/restful-interaction', code: input.interaction }],
    action: ACTION[input.interaction],
    recorded: (input.recorded ?? new Date()).toISOString(),
    outcome: outcomeOf(input.status),
    outcomeDesc: input.description,
    purposeOfEvent: [
      { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', code: input.purposeOfUse ?? 'TREAT' }] },
    ],
    agent: [{ who, requestor: true }],
    source: { observer: { display: 'Vigil' }, type: [{ system: 'http://terminology.hl7.org/CodeSystem/security-source-type', code: '4', display: 'Application Server' }] },
    entity: [
      {
        what: { reference: `Patient/${input.patientId}` },
        type: { system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type', code: '1', display: 'Person' },
        role: { system: 'http://terminology.hl7.org/CodeSystem/object-role', code: '1', display: 'Patient' },
      },
    ],
  };
}

/** The patient id in a CDS Hooks request body (context.patientId, which every patient hook carries). */
export function hookPatientId(body: unknown): string | undefined {
  const context = (body as { context?: { patientId?: unknown } } | undefined)?.context;
  return typeof context?.patientId === 'string' && context.patientId !== '' ? context.patientId : undefined;
}

/**
 * Records one AuditEvent per CDS hook call that passed client authentication and names a patient,
 * once the answer is sent (so the outcome is known). Feedback posts carry no patient and are not audited.
 * Runs after cdsClientAuthentication (it reads res.locals.cdsClient).
 */
export function auditCdsHookCalls(opts: { sink: AuditSink; logger: Logger }): RequestHandler {
  return (req, res, next) => {
    if (req.method === 'POST' && !req.path.endsWith('/feedback')) {
      res.on('finish', () => {
        const client = res.locals.cdsClient as { issuer?: string } | undefined;
        const patientId = hookPatientId(req.body);
        if (!client?.issuer || !patientId) return;
        try {
          opts.sink.record(
            buildAuditEvent({
              agent: { clientId: client.issuer, display: 'CDS client' },
              patientId,
              description: `cds-hook ${req.path.replace(/^\//, '')}`,
              interaction: 'operation',
              status: res.statusCode,
            }),
          );
        } catch (err) {
          // The answer has gone; losing an audit record is an incident to see in the logs (without PHI).
          opts.logger.error({ reqId: req.id, errName: (err as Error).name }, 'audit record failed');
        }
      });
    }
    next();
  };
}
