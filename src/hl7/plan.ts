/**
 * What a message means for the FHIR store, as a pure plan: the Patient it concerns (matched later by
 * PID-3 identifier), the Encounter (ADT) and the Observations (OBX, in ORU and ADT). Resource ids are
 * derived from the message (sender + MSH-10 + position, or the PV1-19 visit number), so applying the
 * same message twice — replay after a crash — writes the same resources, never duplicates.
 *
 * Supported: ADT^A01, ADT^A03, ADT^A04, ADT^A08, ORU^R01, HL7 v2.3 – v2.8.x.
 */
import { createHash } from 'node:crypto';
import type { Encounter, Identifier, Observation, Patient, Resource } from 'fhir/r4';
import { Hl7UnsupportedError } from './errors.js';
import type { Hl7Message } from './message.js';
import type { LocalCodes } from './local-codes.js';
import { mergePatient, patientFromPid } from './patient.js';
import { encounterFromPv1 } from './encounter.js';
import { observationFromObx } from './observation.js';
import { hl7ToFhirDateTime } from './datetime.js';

export const SUPPORTED_EVENTS: ReadonlySet<string> = new Set(['ADT^A01', 'ADT^A03', 'ADT^A04', 'ADT^A08', 'ORU^R01']);

export interface PlanOptions {
  local: LocalCodes;
  /** Offset for v2 timestamps without one (default UTC). */
  assumeOffset?: string;
}

export interface IngestPlan {
  /** Sender + MSH-10: the duplicate-detection key. */
  messageKey: string;
  /** e.g. "ADT^A01". */
  event: string;
  patient: Patient;
  identifiers: Identifier[];
  /** ADT demographics update the stored Patient; ORU only creates a Patient that is not known yet. */
  patientMode: 'upsert' | 'create-if-missing';
  encounter?: Encounter;
  /** A08 keeps the stored encounter's status. */
  keepStoredEncounterStatus: boolean;
  observations: Observation[];
  /** OBX with value types that are not stored (ED, RP…). */
  skippedObx: number;
}

/** FHIR ids: [A-Za-z0-9-.]{1,64}; a hash keeps them short and free of patient data. */
export function derivedId(prefix: string, key: string): string {
  return `${prefix}-${createHash('sha256').update(key).digest('hex').slice(0, 40)}`;
}

export function messageKeyOf(msg: Hl7Message): string {
  const h = msg.header;
  return `${h.sendingApplication}|${h.sendingFacility}|${h.controlId}`;
}

/** 2.3 – 2.8 with optional minor revision (2.3.1, 2.5.1…). */
const VERSION = /^2\.[3-8](\.\d+)?$/;

/** The supported "CODE^EVENT" of a message, or throws Hl7UnsupportedError naming MSH-9 / MSH-12. */
export function eventOf(msg: Hl7Message): string {
  const h = msg.header;
  if (!VERSION.test(h.version.trim())) {
    throw new Hl7UnsupportedError(`HL7 version "${h.version.slice(0, 10)}" is not supported (2.3 to 2.8)`, 203, { segment: 'MSH', sequence: 1, field: 12 });
  }
  const trigger = h.triggerEvent || msg.value(msg.segment('EVN'), 1);
  const event = `${h.messageCode}^${trigger}`;
  if (SUPPORTED_EVENTS.has(event)) return event;
  const known = [...SUPPORTED_EVENTS].some((e) => e.startsWith(`${h.messageCode}^`));
  throw known
    ? new Hl7UnsupportedError(`Trigger event ${event.slice(0, 12)} is not supported`, 201, { segment: 'MSH', sequence: 1, field: 9, component: 2 })
    : new Hl7UnsupportedError(`Message type ${h.messageCode.slice(0, 5)} is not supported`, 200, { segment: 'MSH', sequence: 1, field: 9, component: 1 });
}

/**
 * Validates and maps a parsed message. Throws Hl7UnsupportedError / Hl7ContentError (→ AE) with the
 * offending field; called before the message is queued, so a bad message is refused, not ACKed.
 */
export function planMessage(msg: Hl7Message, options: PlanOptions): IngestPlan {
  const event = eventOf(msg);
  const messageKey = messageKeyOf(msg);
  const { local, assumeOffset } = options;
  const { patient, identifiers } = patientFromPid(msg, msg.segment('PID'), local);
  const msh = msg.segment('MSH');
  const messageTime = hl7ToFhirDateTime(msg.value(msh, 7), assumeOffset);
  const trigger = event.split('^')[1]!;

  let encounter: Encounter | undefined;
  if (event.startsWith('ADT^')) {
    const evn = msg.segment('EVN');
    const fallbackEnd = hl7ToFhirDateTime(msg.value(evn, 6), assumeOffset) ?? hl7ToFhirDateTime(msg.value(evn, 2), assumeOffset) ?? messageTime;
    const mapped = encounterFromPv1(msg, msg.segment('PV1'), trigger, local, { assumeOffset, fallbackEnd });
    const primary = identifiers[0]!;
    const key = mapped.visitKey ?? (mapped.encounter.period?.start ? `${primary.system}|${primary.value}|${mapped.encounter.period.start}` : messageKey);
    encounter = { ...mapped.encounter, id: derivedId('hl7enc', key) };
  }

  const observations: Observation[] = [];
  let skippedObx = 0;
  let obrTime: string | undefined;
  msg.segments.forEach((seg, index) => {
    if (seg.name === 'OBR') obrTime = hl7ToFhirDateTime(msg.value(seg, 7), assumeOffset) ?? undefined;
    if (seg.name !== 'OBX') return;
    const obs = observationFromObx(msg, seg, { local, fallbackTime: obrTime ?? messageTime, assumeOffset });
    if (obs === 'skip') {
      skippedObx++;
      return;
    }
    observations.push({ ...obs, id: derivedId('hl7obs', `${messageKey}|${index}`) });
  });

  return {
    messageKey,
    event,
    patient,
    identifiers,
    patientMode: event.startsWith('ADT^') ? 'upsert' : 'create-if-missing',
    ...(encounter ? { encounter } : {}),
    keepStoredEncounterStatus: trigger === 'A08',
    observations,
    skippedObx,
  };
}

/** Id for a Patient the store does not know yet: derived from its first PID-3 identifier. */
export function newPatientId(plan: IngestPlan): string {
  const first = plan.identifiers[0]!;
  return derivedId('hl7pat', `${first.system}|${first.value}`);
}

/**
 * The resources to write once the patient is resolved: `stored` is the matching Patient (if any) and
 * the stored Encounter with the plan's id (if any). Pure.
 */
export function bindPlan(plan: IngestPlan, stored: { patient?: Patient; encounter?: Encounter }): { patientId: string; resources: Resource[] } {
  const patientId = stored.patient?.id ?? newPatientId(plan);
  const resources: Resource[] = [];
  if (!stored.patient) resources.push({ ...plan.patient, id: patientId });
  else if (plan.patientMode === 'upsert') resources.push(mergePatient(stored.patient, { ...plan.patient, id: patientId }));

  const subject = { reference: `Patient/${patientId}` };
  let encounterRef: { reference: string } | undefined;
  if (plan.encounter) {
    const status = plan.keepStoredEncounterStatus && stored.encounter ? stored.encounter.status : plan.encounter.status;
    const encounter: Encounter = { ...plan.encounter, status, subject };
    resources.push(encounter);
    encounterRef = { reference: `Encounter/${plan.encounter.id}` };
  }
  for (const obs of plan.observations) {
    const bound: Observation = { ...obs, subject, ...(encounterRef ? { encounter: encounterRef } : {}) };
    resources.push(bound);
  }
  return { patientId, resources };
}
