/**
 * HL7 v2 coded types (CE/CWE/CNE, HL7 v2.5.1 §2.A.8/§2.A.13) → FHIR Coding / CodeableConcept, and the
 * OBX-3 → LOINC rule: a LOINC triple (system "LN") in the primary or alternate position wins; else the
 * local-code map (src/hl7/local-codes.json); else the code is kept under a local system.
 */
import type { CodeableConcept, Coding } from 'fhir/r4';
import { LOINC, SNOMED, UCUM } from '../fhir/codes.js';
import type { Hl7Message, Hl7Repetition } from './message.js';
import type { LocalCodes } from './local-codes.js';

/** Code systems Vigil invents for v2 codes that name no standard system. */
export const HL7_LOCAL_SYSTEM_BASE = 'http://vigil.example.org/CodeSystem/hl7v2-local';

/** HL7 table 0396 coding-system names → FHIR system URIs. */
export function fhirSystemFor(name: string): string | undefined {
  const upper = name.trim().toUpperCase();
  if (upper === '') return undefined;
  if (upper === 'LN' || upper === 'LOINC') return LOINC;
  if (upper === 'SCT' || upper === 'SNM' || upper === 'SNOMEDCT' || upper === 'SNOMED-CT') return SNOMED;
  if (upper === 'UCUM') return UCUM;
  if (upper === 'I10' || upper === 'ICD10CM' || upper === 'I10C') return 'http://hl7.org/fhir/sid/icd-10-cm';
  const table = /^HL7(\d{4})$/.exec(upper);
  if (table) return `http://terminology.hl7.org/CodeSystem/v2-${table[1]}`;
  if (/^[A-Za-z0-9_.-]{1,40}$/.test(name.trim())) return `${HL7_LOCAL_SYSTEM_BASE}/${encodeURIComponent(name.trim())}`;
  return `${HL7_LOCAL_SYSTEM_BASE}/other`;
}

/** The triples of one CE/CWE repetition: (code, text, system) and (alt code, alt text, alt system). */
export interface CodedTriple {
  code: string;
  text: string;
  system: string;
}

export function triplesOf(msg: Hl7Message, rawRep: Hl7Repetition): CodedTriple[] {
  const triples: CodedTriple[] = [];
  for (const start of [1, 4]) {
    const code = msg.component(rawRep, start).trim();
    const text = msg.component(rawRep, start + 1).trim();
    const system = msg.component(rawRep, start + 2).trim();
    if (code !== '' || text !== '') triples.push({ code, text, system });
  }
  return triples;
}

function codingOf(t: CodedTriple): Coding | undefined {
  if (t.code === '') return undefined;
  const system = fhirSystemFor(t.system);
  return { ...(system ? { system } : {}), code: t.code, ...(t.text ? { display: t.text } : {}) };
}

/** A CodeableConcept carrying every coding in the field plus the first text. */
export function conceptOf(msg: Hl7Message, rawRep: Hl7Repetition): CodeableConcept | undefined {
  const triples = triplesOf(msg, rawRep);
  const coding = triples.map(codingOf).filter((c): c is Coding => c !== undefined);
  const text = triples.find((t) => t.text !== '')?.text;
  if (coding.length === 0 && text === undefined) return undefined;
  return { ...(coding.length ? { coding } : {}), ...(text !== undefined ? { text } : {}) };
}

/** LOINC code shape with a valid mod-10 check digit (the Luhn scheme LOINC uses). */
export function isLoincCode(code: string): boolean {
  const m = /^(\d{1,7})-(\d)$/.exec(code);
  if (!m) return false;
  let sum = 0;
  const digits = m[1]!;
  for (let i = digits.length - 1, double = true; i >= 0; i--, double = !double) {
    let d = Number(digits[i]) * (double ? 2 : 1);
    if (d > 9) d -= 9;
    sum += d;
  }
  return (10 - (sum % 10)) % 10 === Number(m[2]);
}

/**
 * OBX-3 as an Observation.code whose first coding is LOINC when one is known. `loinc` is that code.
 * Besides "LN" triples, a check-digit-valid LOINC code whose "system" is free text (some senders put
 * the LOINC long name in CE-3, e.g. "1554-5^GLUCOSE^POST 12H CFST:MCNC:PT:SER/PLAS:QN") counts as LOINC.
 */
export function observationCodeOf(
  msg: Hl7Message,
  rawRep: Hl7Repetition,
  local: LocalCodes,
): { concept: CodeableConcept; loinc?: string } | undefined {
  const concept = conceptOf(msg, rawRep);
  if (!concept) return undefined;
  const triples = triplesOf(msg, rawRep);
  const direct =
    triples.find((t) => fhirSystemFor(t.system) === LOINC && t.code !== '') ??
    triples.find((t) => /[\s:]/.test(t.system) && isLoincCode(t.code));
  if (direct) {
    const rest = (concept.coding ?? []).filter((c) => c.code !== direct.code);
    return { concept: { ...concept, coding: [{ system: LOINC, code: direct.code, ...(direct.text ? { display: direct.text } : {}) }, ...rest] }, loinc: direct.code };
  }
  for (const t of triples) {
    const hit = local.observationCodes.get(`${t.system}|${t.code}`) ?? local.observationCodes.get(`|${t.code}`);
    if (hit) {
      const coding: Coding = { system: LOINC, code: hit.loinc, ...(hit.display ? { display: hit.display } : {}) };
      return { concept: { ...concept, coding: [coding, ...(concept.coding ?? [])] }, loinc: hit.loinc };
    }
  }
  return { concept };
}
