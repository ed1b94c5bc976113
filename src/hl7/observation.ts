/**
 * OBX (HL7 v2.5.1 §7.4.2) → FHIR R4 Observation: OBX-3 code (→ LOINC, src/hl7/coding.ts), OBX-2 value
 * type with OBX-5 value (NM → valueQuantity, SN → Quantity/Range/Ratio, ST/TX/FT → valueString,
 * CE/CWE/CNE → valueCodeableConcept, DT/DTM/TS → valueDateTime), OBX-6 units → UCUM, OBX-7 reference
 * range, OBX-8 abnormal flags, OBX-11 result status (table 0085), OBX-14 observation time.
 * Value types that carry documents or pointers (ED, RP) are not stored (counted as skipped).
 */
import type { Observation, Quantity } from 'fhir/r4';
import { OBSERVATION_CATEGORY, VITALS } from '../fhir/codes.js';
import { toUcumCode, UCUM_SYSTEM } from '../fhir/ucum.js';
import { Hl7ContentError } from './errors.js';
import { at, type Hl7Message, type Hl7Repetition, type Hl7Segment } from './message.js';
import { conceptOf, observationCodeOf } from './coding.js';
import { hl7ToFhirDateTime } from './datetime.js';
import type { LocalCodes } from './local-codes.js';

/** HL7 table 0085 → Observation.status. */
export const RESULT_STATUS: Record<string, Observation['status']> = {
  F: 'final',
  C: 'corrected',
  P: 'preliminary',
  R: 'preliminary',
  S: 'preliminary',
  A: 'amended',
  I: 'registered',
  O: 'registered',
  U: 'final',
  X: 'cancelled',
  N: 'cancelled',
  D: 'entered-in-error',
  W: 'entered-in-error',
};

const INTERPRETATION_SYSTEM = 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation';
const VITAL_CODES = new Set<string>(Object.values(VITALS));
const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)$/;
const SKIPPED_TYPES = new Set(['ED', 'RP', 'AD', 'CP', 'MO', 'PN', 'TN', 'XAD', 'XCN', 'XON', 'XPN', 'XTN', 'MA', 'NA']);

export type ObservationValue = Pick<
  Observation,
  'valueQuantity' | 'valueString' | 'valueCodeableConcept' | 'valueDateTime' | 'valueRange' | 'valueRatio'
>;

function quantity(value: number, unitRaw: Hl7Repetition | undefined, msg: Hl7Message): Quantity {
  const unitText = unitRaw ? msg.component(unitRaw, 2).trim() || msg.component(unitRaw, 1).trim() : '';
  const unitCode = unitRaw ? msg.component(unitRaw, 1).trim() : '';
  const ucum = toUcumCode(unitCode) ?? toUcumCode(unitText);
  return {
    value,
    ...(unitCode || unitText ? { unit: unitCode || unitText } : {}),
    ...(ucum ? { system: UCUM_SYSTEM, code: ucum } : {}),
  };
}

function numberAt(text: string, obx: Hl7Segment): number {
  const t = text.trim();
  if (!NUMBER.test(t)) throw new Hl7ContentError('OBX-5 is not a number although OBX-2 says it is numeric', 102, at(obx, 5));
  return Number(t);
}

/** OBX-5 under its OBX-2 type; undefined for an empty value; 'skip' for types we do not store. */
function valueOf(msg: Hl7Message, obx: Hl7Segment, type: string, assumeOffset?: string): ObservationValue | undefined | 'skip' {
  const reps = msg.repetitions(obx, 5);
  if (reps.length === 0 || reps.every((r) => msg.raw(r).trim() === '')) return undefined;
  const first = reps[0]!;
  const unit = msg.repetitions(obx, 6)[0];
  switch (type) {
    case 'NM':
      return { valueQuantity: quantity(numberAt(msg.unescape(first), obx), unit, msg) };
    case 'SN': {
      const comparator = msg.component(first, 1).trim();
      const n1 = msg.component(first, 2).trim();
      const sep = msg.component(first, 3).trim();
      const n2 = msg.component(first, 4).trim();
      if (sep === '-' && n1 !== '' && n2 !== '') {
        return { valueRange: { low: quantity(numberAt(n1, obx), unit, msg), high: quantity(numberAt(n2, obx), unit, msg) } };
      }
      if ((sep === ':' || sep === '/') && n2 !== '') {
        return { valueRatio: { numerator: { value: numberAt(n1, obx) }, denominator: { value: numberAt(n2, obx) } } };
      }
      const q = quantity(numberAt(n1, obx), unit, msg);
      if (comparator === '<' || comparator === '>' || comparator === '<=' || comparator === '>=') q.comparator = comparator;
      else if (comparator !== '' && comparator !== '=') {
        throw new Hl7ContentError(`OBX-5 structured numeric comparator "${comparator.slice(0, 3)}" is not valid`, 102, at(obx, 5, 1));
      }
      return { valueQuantity: q };
    }
    case 'ST':
    case 'TX':
    case 'FT':
      return { valueString: reps.map((r) => msg.unescape(r)).join('\n') };
    case 'CE':
    case 'CWE':
    case 'CNE':
    case 'CF': {
      const concept = conceptOf(msg, first);
      return concept ? { valueCodeableConcept: concept } : undefined;
    }
    case 'DT':
    case 'DTM':
    case 'TS': {
      const dt = hl7ToFhirDateTime(msg.unescape(first), assumeOffset);
      if (!dt) throw new Hl7ContentError('OBX-5 is not a valid date/time', 102, at(obx, 5));
      return { valueDateTime: dt };
    }
  }
  throw new Hl7ContentError(`OBX-2 value type "${type.slice(0, 5)}" is not supported`, 103, at(obx, 2));
}

export interface ObxContext {
  local: LocalCodes;
  /** OBR-7 (or MSH-7) for OBX without OBX-14. */
  fallbackTime?: string;
  assumeOffset?: string;
}

/** One OBX as an Observation without id or subject (bound later); 'skip' for unsupported value types. */
export function observationFromObx(msg: Hl7Message, obx: Hl7Segment, ctx: ObxContext): Observation | 'skip' {
  const type = msg.value(obx, 2).trim().toUpperCase();
  if (SKIPPED_TYPES.has(type)) return 'skip';
  const codeRep = msg.repetitions(obx, 3)[0];
  const code = codeRep ? observationCodeOf(msg, codeRep, ctx.local) : undefined;
  if (!code) throw new Hl7ContentError('OBX-3 observation identifier is empty', 101, at(obx, 3));

  // OBX-11 is required by the standard but real feeds omit it: stored as "unknown" rather than refused.
  const statusCode = msg.value(obx, 11).trim().toUpperCase();
  const status = statusCode === '' ? 'unknown' : RESULT_STATUS[statusCode];
  if (!status) throw new Hl7ContentError(`OBX-11 result status "${statusCode.slice(0, 3)}" is not in table 0085`, 103, at(obx, 11));

  if (type === '' && msg.value(obx, 5).trim() !== '') throw new Hl7ContentError('OBX-2 value type is empty but OBX-5 has a value', 101, at(obx, 2));
  const value = type === '' ? undefined : valueOf(msg, obx, type, ctx.assumeOffset);
  if (value === 'skip') return 'skip';

  const rawTime = msg.value(obx, 14);
  const effective = rawTime === '' ? ctx.fallbackTime : hl7ToFhirDateTime(rawTime, ctx.assumeOffset);
  if (rawTime !== '' && effective === undefined) throw new Hl7ContentError('OBX-14 is not a valid date/time', 102, at(obx, 14));

  const flags = msg.repetitions(obx, 8).map((r) => msg.component(r, 1).trim()).filter(Boolean);
  const range = msg.value(obx, 7).trim();
  const category = code.loinc && VITAL_CODES.has(code.loinc) ? 'vital-signs' : 'laboratory';

  return {
    resourceType: 'Observation',
    status,
    category: [{ coding: [{ system: OBSERVATION_CATEGORY, code: category }] }],
    code: code.concept,
    ...(effective ? { effectiveDateTime: effective } : {}),
    ...(value ?? {}),
    ...(flags.length ? { interpretation: flags.map((f) => ({ coding: [{ system: INTERPRETATION_SYSTEM, code: f }] })) } : {}),
    ...(range ? { referenceRange: [{ text: range }] } : {}),
  };
}
