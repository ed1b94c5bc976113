/**
 * The values a search parameter extracts from a resource, in the normalised shapes the matchers and
 * indexes work on, and the pure helpers that build them from FHIR data types.
 * https://hl7.org/fhir/R4/search.html#ptypes
 */
import type { CodeableConcept, Coding, Identifier, Period, Reference } from 'fhir/r4';
import { parseFhirDate, periodRange, type DateRange } from './fhir-date.js';

/** token: a code with its (possibly absent) system — Coding, Identifier (system|value), code, boolean. */
export interface TokenValue {
  readonly system: string | undefined;
  readonly code: string;
}

/** reference: the target's type (when known) and id, whatever form the stored reference took. */
export interface ReferenceValue {
  readonly type: string | undefined;
  readonly id: string;
}

/** string: the raw text (for :exact) and its case- and accent-folded form (default and :contains). */
export interface StringValue {
  readonly raw: string;
  readonly folded: string;
}

export type { DateRange };

/** Lower-case, decompose and drop combining marks: "Zoë" and "ZOE" both fold to "zoe". */
export function foldString(text: string): string {
  return text.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
}

const RESOURCE_TYPE = /^[A-Z][A-Za-z]+$/;
const ID = /^[A-Za-z0-9\-.]{1,64}$/;

/**
 * Normalises a reference string: "Patient/1", "Patient/1/_history/2" and
 * "https://host/fhir/Patient/1" all give { type: "Patient", id: "1" }; a bare "1" gives no type.
 * Contained ("#x"), urn: and malformed references give undefined: they cannot be searched by id.
 */
export function parseReference(reference: string): ReferenceValue | undefined {
  let path = reference;
  const scheme = reference.indexOf('://');
  if (scheme >= 0) {
    const slash = reference.indexOf('/', scheme + 3);
    if (slash < 0) return undefined;
    path = reference.slice(slash + 1);
  } else if (reference.startsWith('urn:') || reference.startsWith('#')) {
    return undefined;
  }
  const parts = path.split('/');
  if (parts.includes('')) return undefined;
  const history = parts.lastIndexOf('_history');
  const segs = history >= 0 ? parts.slice(0, history) : parts;
  if (segs.length === 1 && scheme < 0) return ID.test(segs[0]!) ? { type: undefined, id: segs[0]! } : undefined;
  if (segs.length < 2) return undefined;
  const type = segs[segs.length - 2]!;
  const id = segs[segs.length - 1]!;
  return RESOURCE_TYPE.test(type) && ID.test(id) ? { type, id } : undefined;
}

export function referenceValues(...refs: Array<Reference | Reference[] | undefined>): ReferenceValue[] {
  const out: ReferenceValue[] = [];
  for (const r of refs) {
    if (r === undefined) continue;
    for (const one of Array.isArray(r) ? r : [r]) {
      const parsed = one.reference === undefined ? undefined : parseReference(one.reference);
      if (parsed) out.push(parsed);
    }
  }
  return out;
}

/** Keeps only references to one resource type (FHIR's `.where(resolve() is Patient)`). */
export function referencesOfType(type: string, values: ReferenceValue[]): ReferenceValue[] {
  return values.filter((v) => v.type === type);
}

export function codingTokens(codings: Coding[] | undefined): TokenValue[] {
  const out: TokenValue[] = [];
  for (const c of codings ?? []) if (c.code !== undefined) out.push({ system: c.system, code: c.code });
  return out;
}

export function conceptTokens(...concepts: Array<CodeableConcept | CodeableConcept[] | undefined>): TokenValue[] {
  const out: TokenValue[] = [];
  for (const cc of concepts) {
    if (cc === undefined) continue;
    for (const one of Array.isArray(cc) ? cc : [cc]) out.push(...codingTokens(one.coding));
  }
  return out;
}

export function identifierTokens(identifiers: Identifier[] | undefined): TokenValue[] {
  const out: TokenValue[] = [];
  for (const i of identifiers ?? []) if (i.value !== undefined) out.push({ system: i.system, code: i.value });
  return out;
}

/** A `code` or `boolean` element; `system` is the code system the element's binding implies, if any. */
export function codeToken(code: string | boolean | undefined, system?: string): TokenValue[] {
  return code === undefined ? [] : [{ system, code: String(code) }];
}

export function stringValues(...texts: Array<string | string[] | undefined>): StringValue[] {
  const out: StringValue[] = [];
  for (const t of texts) {
    if (t === undefined) continue;
    for (const raw of Array.isArray(t) ? t : [t]) out.push({ raw, folded: foldString(raw) });
  }
  return out;
}

/** A date/dateTime/instant element; unparsable stored values are left out rather than guessed. */
export function dateValues(...values: Array<string | undefined>): DateRange[] {
  const out: DateRange[] = [];
  for (const v of values) {
    if (v === undefined) continue;
    const r = parseFhirDate(v);
    if (r) out.push(r);
  }
  return out;
}

export function periodValues(period: Period | undefined): DateRange[] {
  if (!period) return [];
  const r = periodRange(period.start, period.end);
  return r ? [r] : [];
}
