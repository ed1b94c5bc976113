/**
 * PID (HL7 v2.5.1 §3.4.2) → FHIR R4 Patient demographics: PID-3 identifiers (CX), PID-5 names (XPN),
 * PID-7 birth date, PID-8 administrative sex (table 0001), PID-11 addresses (XAD).
 * Follows the HL7 v2-to-FHIR segment map (https://build.fhir.org/ig/HL7/v2-to-fhir/) where it is simple.
 */
import type { Address, HumanName, Identifier, Patient } from 'fhir/r4';
import { Hl7ContentError } from './errors.js';
import { at, type Hl7Message, type Hl7Repetition, type Hl7Segment } from './message.js';
import type { LocalCodes } from './local-codes.js';
import { hl7ToFhirDate } from './datetime.js';

/** Identifier systems for v2 assigning authorities that the local-code map does not name. */
export const HL7_ASSIGNING_AUTHORITY_BASE = 'http://vigil.example.org/hl7/assigning-authority';

const V2_0203 = 'http://terminology.hl7.org/CodeSystem/v2-0203';

/** CX → Identifier; undefined for a repetition without an id. */
export function identifierOf(msg: Hl7Message, rawRep: Hl7Repetition, local: LocalCodes): Identifier | undefined {
  const value = msg.component(rawRep, 1).trim();
  if (value === '') return undefined;
  const namespace = msg.component(rawRep, 4, 1).trim();
  const universal = msg.component(rawRep, 4, 2).trim();
  const universalType = msg.component(rawRep, 4, 3).trim().toUpperCase();
  const typeCode = msg.component(rawRep, 5).trim();
  const system =
    (namespace && local.identifierSystems.get(namespace)) ||
    (universal && local.identifierSystems.get(universal)) ||
    (universal && universalType === 'ISO' ? `urn:oid:${universal}` : undefined) ||
    (namespace ? `${HL7_ASSIGNING_AUTHORITY_BASE}/${encodeURIComponent(namespace)}` : undefined) ||
    (typeCode && local.identifierSystems.get(typeCode)) ||
    `${HL7_ASSIGNING_AUTHORITY_BASE}/unknown`;
  return {
    ...(typeCode ? { type: { coding: [{ system: V2_0203, code: typeCode }] } } : {}),
    system,
    value,
  };
}

const NAME_USE: Record<string, HumanName['use']> = { L: 'official', D: 'usual', M: 'maiden', N: 'nickname', A: 'anonymous', B: 'old' };

function nameOf(msg: Hl7Message, rawRep: Hl7Repetition): HumanName | undefined {
  const family = msg.component(rawRep, 1, 1).trim();
  const given = [msg.component(rawRep, 2).trim(), msg.component(rawRep, 3).trim()].filter(Boolean);
  const suffix = msg.component(rawRep, 4).trim();
  const prefix = msg.component(rawRep, 5).trim();
  const use = NAME_USE[msg.component(rawRep, 7).trim()];
  if (!family && given.length === 0) return undefined;
  return {
    ...(use ? { use } : {}),
    ...(family ? { family } : {}),
    ...(given.length ? { given } : {}),
    ...(prefix ? { prefix: [prefix] } : {}),
    ...(suffix ? { suffix: [suffix] } : {}),
  };
}

const ADDRESS_USE: Record<string, Address['use']> = { H: 'home', B: 'work', O: 'work', C: 'temp', BA: 'old' };

function addressOf(msg: Hl7Message, rawRep: Hl7Repetition): Address | undefined {
  const line = [msg.component(rawRep, 1, 1).trim(), msg.component(rawRep, 2).trim()].filter(Boolean);
  const city = msg.component(rawRep, 3).trim();
  const state = msg.component(rawRep, 4).trim();
  const postalCode = msg.component(rawRep, 5).trim();
  const country = msg.component(rawRep, 6).trim();
  const type = msg.component(rawRep, 7).trim();
  if (!line.length && !city && !state && !postalCode && !country) return undefined;
  return {
    ...(ADDRESS_USE[type] ? { use: ADDRESS_USE[type] } : {}),
    ...(type === 'M' ? { type: 'postal' as const } : {}),
    ...(line.length ? { line } : {}),
    ...(city ? { city } : {}),
    ...(state ? { state } : {}),
    ...(postalCode ? { postalCode } : {}),
    ...(country ? { country } : {}),
  };
}

/** HL7 table 0001 → FHIR administrative-gender. */
const GENDER: Record<string, Patient['gender']> = { M: 'male', F: 'female', O: 'other', A: 'other', U: 'unknown', N: 'unknown' };

export interface PatientFromPid {
  patient: Patient;
  /** PID-3 identifiers in message order; never empty. */
  identifiers: Identifier[];
}

/** Maps PID; throws Hl7ContentError naming the field when PID-3 is empty or PID-7/PID-8 are invalid. */
export function patientFromPid(msg: Hl7Message, pid: Hl7Segment | undefined, local: LocalCodes): PatientFromPid {
  if (!pid) throw new Hl7ContentError('PID segment is required', 100, { segment: 'PID', sequence: 1 });
  const identifiers = msg
    .repetitions(pid, 3)
    .map((rep) => identifierOf(msg, rep, local))
    .filter((i): i is Identifier => i !== undefined);
  if (identifiers.length === 0) throw new Hl7ContentError('PID-3 patient identifier list is empty', 101, at(pid, 3));

  const name = msg.repetitions(pid, 5).map((r) => nameOf(msg, r)).filter((n): n is HumanName => n !== undefined);
  const address = msg.repetitions(pid, 11).map((r) => addressOf(msg, r)).filter((a): a is Address => a !== undefined);

  const birthRaw = msg.value(pid, 7);
  const birthDate = birthRaw === '' ? undefined : hl7ToFhirDate(birthRaw);
  if (birthRaw !== '' && birthDate === undefined) throw new Hl7ContentError('PID-7 date of birth is not a valid date', 102, at(pid, 7));

  const sex = msg.value(pid, 8).trim().toUpperCase();
  const gender = sex === '' ? undefined : GENDER[sex];
  if (sex !== '' && gender === undefined) throw new Hl7ContentError(`PID-8 administrative sex "${sex.slice(0, 5)}" is not in table 0001`, 103, at(pid, 8));

  const patient: Patient = {
    resourceType: 'Patient',
    identifier: identifiers,
    ...(name.length ? { name } : {}),
    ...(gender ? { gender } : {}),
    ...(birthDate ? { birthDate } : {}),
    ...(address.length ? { address } : {}),
  };
  return { patient, identifiers };
}

/**
 * ADT demographics over a stored Patient: PID's name, gender, birth date and address replace the stored
 * ones when sent; identifiers are merged (none dropped); everything else the store holds is kept.
 */
export function mergePatient(stored: Patient, incoming: Patient): Patient {
  const known = new Set((stored.identifier ?? []).map((i) => `${i.system}|${i.value}`));
  const identifier = [...(stored.identifier ?? []), ...(incoming.identifier ?? []).filter((i) => !known.has(`${i.system}|${i.value}`))];
  return {
    ...stored,
    identifier,
    ...(incoming.name ? { name: incoming.name } : {}),
    ...(incoming.gender ? { gender: incoming.gender } : {}),
    ...(incoming.birthDate ? { birthDate: incoming.birthDate } : {}),
    ...(incoming.address ? { address: incoming.address } : {}),
  };
}
