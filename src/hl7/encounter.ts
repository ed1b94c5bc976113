/**
 * PV1 (HL7 v2.5.1 §3.4.3) → FHIR R4 Encounter: PV1-2 patient class (table 0004) → Encounter.class
 * (v3 ActCode; the v2 code is kept under v2-0004 when there is no v3 equivalent), PV1-3 assigned
 * location, PV1-19 visit number, PV1-44/45 admit and discharge times. Status follows the trigger event.
 */
import type { Coding, Encounter } from 'fhir/r4';
import { Hl7ContentError } from './errors.js';
import { at, type Hl7Message, type Hl7Segment } from './message.js';
import { hl7ToFhirDateTime } from './datetime.js';
import { identifierOf } from './patient.js';
import type { LocalCodes } from './local-codes.js';

const ACT_CODE = 'http://terminology.hl7.org/CodeSystem/v3-ActCode';
const V2_0004 = 'http://terminology.hl7.org/CodeSystem/v2-0004';

const CLASS: Record<string, Coding> = {
  E: { system: ACT_CODE, code: 'EMER', display: 'emergency' },
  I: { system: ACT_CODE, code: 'IMP', display: 'inpatient encounter' },
  B: { system: ACT_CODE, code: 'IMP', display: 'inpatient encounter' },
  O: { system: ACT_CODE, code: 'AMB', display: 'ambulatory' },
  R: { system: ACT_CODE, code: 'AMB', display: 'ambulatory' },
  P: { system: ACT_CODE, code: 'PRENC', display: 'pre-admission' },
};

/** Status an ADT trigger puts the encounter in; A08 (update) keeps the stored one (see bindPlan). */
export const STATUS_BY_EVENT: Record<string, Encounter['status'] | undefined> = {
  A01: 'in-progress',
  A04: 'arrived',
  A03: 'finished',
  A08: undefined,
};

export interface EncounterFromPv1 {
  encounter: Encounter;
  /** PV1-19 visit number, when sent: the key that ties A01, A08 and A03 of one visit together. */
  visitKey?: string;
}

function time(msg: Hl7Message, seg: Hl7Segment, field: number, assumeOffset: string | undefined): string | undefined {
  const raw = msg.value(seg, field);
  if (raw === '') return undefined;
  const value = hl7ToFhirDateTime(raw, assumeOffset);
  if (value === undefined) throw new Hl7ContentError(`${seg.name}-${field} is not a valid date/time`, 102, at(seg, field));
  return value;
}

/**
 * Maps PV1 for an ADT event. `fallbackEnd` (EVN-6, EVN-2 or MSH-7) closes the period on A03 when
 * PV1-45 is empty. Throws Hl7ContentError for a missing PV1, an empty PV1-2 or a bad time.
 */
export function encounterFromPv1(
  msg: Hl7Message,
  pv1: Hl7Segment | undefined,
  event: string,
  local: LocalCodes,
  options: { assumeOffset?: string; fallbackEnd?: string } = {},
): EncounterFromPv1 {
  if (!pv1) throw new Hl7ContentError('PV1 segment is required for ADT messages', 100, { segment: 'PV1', sequence: 1 });
  const patientClass = msg.value(pv1, 2).trim().toUpperCase();
  if (patientClass === '') throw new Hl7ContentError('PV1-2 patient class is empty', 101, at(pv1, 2));
  const cls: Coding = CLASS[patientClass] ?? { system: V2_0004, code: patientClass.slice(0, 10) };

  const locRep = msg.repetitions(pv1, 3)[0];
  const locationText = locRep
    ? [msg.component(locRep, 1, 1), msg.component(locRep, 2, 1), msg.component(locRep, 3, 1)].map((s) => s.trim()).filter(Boolean).join(' ')
    : '';
  const visit = msg.repetitions(pv1, 19)[0];
  const visitIdentifier = visit ? identifierOf(msg, visit, local) : undefined;

  const start = time(msg, pv1, 44, options.assumeOffset);
  let end = time(msg, pv1, 45, options.assumeOffset);
  if (event === 'A03' && end === undefined) end = options.fallbackEnd;
  const status: Encounter['status'] = STATUS_BY_EVENT[event] ?? (end ? 'finished' : 'in-progress');

  const encounter: Encounter = {
    resourceType: 'Encounter',
    status,
    class: cls,
    ...(visitIdentifier ? { identifier: [visitIdentifier] } : {}),
    ...(start || end ? { period: { ...(start ? { start } : {}), ...(end ? { end } : {}) } } : {}),
    ...(locationText ? { location: [{ location: { display: locationText }, status: status === 'finished' ? 'completed' : 'active' }] } : {}),
  };
  return { encounter, ...(visitIdentifier ? { visitKey: `${visitIdentifier.system}|${visitIdentifier.value}` } : {}) };
}
