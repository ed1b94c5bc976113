/**
 * Pure matchers: does one search criterion value match the values extracted from a resource?
 * Semantics per FHIR R4 §3.1.1.4 (https://hl7.org/fhir/R4/search.html#ptypes). A criterion with
 * several comma-separated values matches when any value does; repeated parameters are ANDed by the
 * caller.
 */
import { matchesDate, type DatePrefix, type DateRange } from './fhir-date.js';
import { foldString, type ReferenceValue, type StringValue, type TokenValue } from './search-values.js';

/**
 * A token search value: `code` (any system), `system|code`, `|code` (no system) or `system|`
 * (any code in that system). `system: undefined` means "any", `system: null` means "none".
 */
export interface TokenQuery {
  readonly system: string | null | undefined;
  readonly code: string | undefined;
}

export function matchesToken(query: TokenQuery, value: TokenValue): boolean {
  if (query.code !== undefined && query.code !== value.code) return false;
  if (query.system === undefined) return true;
  if (query.system === null) return value.system === undefined;
  return query.system === value.system;
}

export function matchesAnyToken(queries: readonly TokenQuery[], values: readonly TokenValue[]): boolean {
  for (const v of values) for (const q of queries) if (matchesToken(q, v)) return true;
  return false;
}

/** A reference search value; `type: undefined` matches a target of any type with that id. */
export interface ReferenceQuery {
  readonly type: string | undefined;
  readonly id: string;
}

export function matchesReference(query: ReferenceQuery, value: ReferenceValue): boolean {
  return query.id === value.id && (query.type === undefined || query.type === value.type);
}

export function matchesAnyReference(queries: readonly ReferenceQuery[], values: readonly ReferenceValue[]): boolean {
  for (const v of values) for (const q of queries) if (matchesReference(q, v)) return true;
  return false;
}

/**
 * string: by default the value matches when a field starts with it, ignoring case and accents;
 * `:contains` anywhere in the field, same folding; `:exact` the whole field, case- and
 * accent-sensitive. `text` is the folded search text for prefix/contains, the raw text for exact.
 */
export type StringMode = 'prefix' | 'contains' | 'exact';

export function matchesString(mode: StringMode, text: string, value: StringValue): boolean {
  switch (mode) {
    case 'prefix':
      return value.folded.startsWith(text);
    case 'contains':
      return value.folded.includes(text);
    case 'exact':
      return value.raw === text;
  }
}

/** Prepares search text for `matchesString` (folding for the insensitive modes). */
export function stringSearchText(mode: StringMode, text: string): string {
  return mode === 'exact' ? text : foldString(text);
}

export function matchesAnyString(mode: StringMode, texts: readonly string[], values: readonly StringValue[]): boolean {
  for (const v of values) for (const t of texts) if (matchesString(mode, t, v)) return true;
  return false;
}

export interface DateQuery {
  readonly prefix: DatePrefix;
  readonly range: DateRange;
}

/**
 * A resource with several values for one date parameter (e.g. effectiveDateTime and a Period)
 * matches when any of them does, as with every other parameter type.
 */
export function matchesAnyDate(queries: readonly DateQuery[], values: readonly DateRange[], now: number): boolean {
  for (const v of values) for (const q of queries) if (matchesDate(q.prefix, q.range, v, now)) return true;
  return false;
}
