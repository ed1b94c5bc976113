/**
 * Turns a FHIR search query string into a validated, typed query. Pure: no store access.
 *
 * FHIR R4 §3.1.1 (https://hl7.org/fhir/R4/search.html): repeated parameters are ANDed, comma-
 * separated values ORed; `\` escapes `,` `|` `$` and itself. Unknown or unsupported parameters are
 * ignored (and left out of the self link) unless the client asked for `Prefer: handling=strict`
 * (§3.1.1.3.1 "Handling errors"); malformed values of supported parameters are always errors.
 */
import { BadRequestError, type ErrorDetail } from '../../errors.js';
import { parseDateSearchValue } from './fhir-date.js';
import { stringSearchText, type DateQuery, type ReferenceQuery, type StringMode, type TokenQuery } from './matchers.js';
import { SEARCH_DEFS, type ResourceSearchDef, type SearchParamDef } from './search-params.js';
import type { Resource } from 'fhir/r4';
import { parseReference } from './search-values.js';

export type Criterion =
  | { readonly kind: 'id'; readonly ids: readonly string[] }
  | { readonly kind: 'token'; readonly param: string; readonly not: boolean; readonly values: readonly TokenQuery[] }
  | { readonly kind: 'reference'; readonly param: string; readonly values: readonly ReferenceQuery[] }
  | { readonly kind: 'date'; readonly param: string; readonly values: readonly DateQuery[] }
  | { readonly kind: 'string'; readonly param: string; readonly mode: StringMode; readonly values: readonly string[] }
  | { readonly kind: 'missing'; readonly param: string; readonly missing: boolean };

export interface SortKey {
  /** A search parameter name, or `_id`. */
  readonly param: string;
  readonly descending: boolean;
}

/** `_include=Type:param[:target]` / `_revinclude=Source:param[:target]` (R4 §3.1.1.5.4). */
export interface IncludeSpec {
  /** The type holding the reference: the searched type for _include, the source for _revinclude. */
  readonly sourceType: string;
  readonly param: string;
  readonly targetType: string | undefined;
}

export interface SearchQuery {
  readonly criteria: readonly Criterion[];
  readonly sort: readonly SortKey[];
  readonly count: number;
  readonly offset: number;
  /** `_summary=count` or `_count=0`: total only, no entries. */
  readonly countOnly: boolean;
  /** `_elements`: top-level elements to keep (id, meta and resourceType are always kept). */
  readonly elements: readonly string[] | undefined;
  readonly includes: readonly IncludeSpec[];
  readonly revincludes: readonly IncludeSpec[];
  /** The parameters as the server understood and applied them, in request order, for Bundle.link. */
  readonly applied: ReadonlyArray<readonly [string, string]>;
}

export const DEFAULT_COUNT = 50;
export const MAX_COUNT = 1000;

const ID = /^[A-Za-z0-9\-.]{1,64}$/;
const ELEMENT = /^[A-Za-z][A-Za-z0-9]*$/;

/** Splits on `sep` where it is not escaped with a backslash; escapes are kept for the next split. */
function splitUnescaped(text: string, sep: string): string[] {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '\\' && i + 1 < text.length) {
      current += ch + text[i + 1];
      i++;
    } else if (ch === sep) {
      parts.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  parts.push(current);
  return parts;
}

/**
 * Escapes a literal for use in a search value (R4 §3.1.1.3.4 "Escaping search parameters"), e.g.
 * an identifier value holding "|" or ",": `identifier=${escapeSearchValue(system)}|${escapeSearchValue(value)}`.
 */
export function escapeSearchValue(text: string): string {
  return text.replace(/[\\,|$]/g, (ch) => `\\${ch}`);
}

function unescape(text: string): string {
  return text.replace(/\\([\\,|$])/g, '$1');
}

function splitValues(text: string): string[] {
  return splitUnescaped(text, ',');
}

export function parseTokenValue(text: string): TokenQuery | undefined {
  const pieces = splitUnescaped(text, '|');
  if (pieces.length === 1) return pieces[0] === '' ? undefined : { system: undefined, code: unescape(pieces[0]!) };
  if (pieces.length !== 2) return undefined;
  const [system, code] = pieces as [string, string];
  if (system === '' && code === '') return undefined;
  return { system: system === '' ? null : unescape(system), code: code === '' ? undefined : unescape(code) };
}

/** `123`, `Patient/123` or an absolute URL; a type modifier (`subject:Patient=123`) or a single-target parameter supplies the type. */
export function parseReferenceValue(
  text: string,
  typeModifier: string | undefined,
  targets: readonly string[],
): ReferenceQuery | undefined {
  const parsed = parseReference(unescape(text));
  if (!parsed) return undefined;
  if (typeModifier !== undefined) {
    if (parsed.type !== undefined && parsed.type !== typeModifier) return undefined;
    return { type: typeModifier, id: parsed.id };
  }
  if (parsed.type === undefined && targets.length === 1 && targets[0] !== 'Resource') return { type: targets[0], id: parsed.id };
  return parsed;
}

function nonNegativeInt(text: string): number | undefined {
  return /^\d{1,9}$/.test(text) ? Number(text) : undefined;
}

function parseInclude(value: string): IncludeSpec | undefined {
  const parts = value.split(':');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => p === '')) return undefined;
  return { sourceType: parts[0]!, param: parts[1]!, targetType: parts[2] };
}

const STRING_MODIFIERS: ReadonlyMap<string, StringMode> = new Map([
  ['', 'prefix'],
  ['contains', 'contains'],
  ['exact', 'exact'],
]);

/**
 * Parses the query of a search on `def.type`. Throws BadRequestError listing every malformed value
 * (and, in strict mode, every unknown parameter).
 */
export function parseSearchQuery(def: ResourceSearchDef, params: URLSearchParams, opts: { strict: boolean }): SearchQuery {
  const criteria: Criterion[] = [];
  const applied: Array<[string, string]> = [];
  const errors: ErrorDetail[] = [];
  const sort: SortKey[] = [];
  let count = DEFAULT_COUNT;
  let offset = 0;
  let countOnly = false;
  let elements: string[] | undefined;
  const includes: IncludeSpec[] = [];
  const revincludes: IncludeSpec[] = [];

  const unknown = (name: string, message: string): void => {
    if (opts.strict) errors.push({ field: name, message });
  };
  const bad = (name: string, message: string): void => {
    errors.push({ field: name, message });
  };

  for (const [name, value] of params) {
    // An empty value places no constraint; servers ignore it (R4 §3.1.1.3.1).
    if (value === '') continue;
    switch (name) {
      case '_count': {
        const n = nonNegativeInt(value);
        if (n === undefined) bad(name, `_count must be a non-negative integer, got "${value}"`);
        else {
          count = Math.min(n, MAX_COUNT);
          countOnly ||= n === 0;
        }
        continue;
      }
      case '_offset': {
        const n = nonNegativeInt(value);
        if (n === undefined) bad(name, `_offset must be a non-negative integer, got "${value}"`);
        else offset = n;
        continue;
      }
      case '_summary':
        if (value === 'count') {
          countOnly = true;
          applied.push([name, value]);
        } else if (value !== 'false') unknown(name, `_summary=${value} is not supported (only count and false)`);
        continue;
      case '_elements': {
        const names = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
        const wrong = names.filter((n) => !ELEMENT.test(n));
        if (wrong.length) bad(name, `_elements lists invalid element names: ${wrong.join(', ')}`);
        else {
          elements = [...(elements ?? []), ...names];
          applied.push([name, value]);
        }
        continue;
      }
      case '_sort': {
        const keys: string[] = [];
        for (const raw of value.split(',')) {
          const key = raw.trim();
          const descending = key.startsWith('-');
          const param = descending ? key.slice(1) : key;
          if (param === '_id' || def.params.has(param)) {
            sort.push({ param, descending });
            keys.push(key);
          } else {
            unknown(name, `Cannot sort ${def.type} by unknown parameter "${param}"`);
          }
        }
        if (keys.length) applied.push([name, keys.join(',')]);
        continue;
      }
      case '_include':
      case '_revinclude': {
        const spec = parseInclude(value);
        const source = spec && SEARCH_DEFS.get(spec.sourceType);
        const param = source?.params.get(spec!.param);
        if (!spec || !param || param.type !== 'reference') bad(name, `${name} takes Type:parameter[:targetType] naming a reference parameter, got "${value}"`);
        else if (name === '_include' && spec.sourceType !== def.type) bad(name, `_include must start with ${def.type}, got "${value}"`);
        else {
          (name === '_include' ? includes : revincludes).push(spec);
          applied.push([name, value]);
        }
        continue;
      }
      case '_total':
      case '_format':
      case '_pretty':
        // Totals are always exact and the only format is JSON: nothing to do.
        continue;
    }

    const colon = name.indexOf(':');
    const base = colon < 0 ? name : name.slice(0, colon);
    const modifier = colon < 0 ? '' : name.slice(colon + 1);

    if (base === '_id') {
      if (modifier !== '') {
        bad(name, `Modifier :${modifier} is not supported on _id`);
        continue;
      }
      const ids = splitValues(value).map(unescape);
      const wrong = ids.filter((id) => !ID.test(id));
      if (wrong.length) bad(name, `Invalid id: ${wrong.join(', ')}`);
      else {
        criteria.push({ kind: 'id', ids });
        applied.push([name, value]);
      }
      continue;
    }

    const param = def.params.get(base);
    if (!param) {
      unknown(name, `Unknown search parameter "${base}" for ${def.type}`);
      continue;
    }
    if (modifier === 'missing') {
      if (value !== 'true' && value !== 'false') bad(name, `:missing takes true or false, got "${value}"`);
      else {
        criteria.push({ kind: 'missing', param: base, missing: value === 'true' });
        applied.push([name, value]);
      }
      continue;
    }
    const criterion = parseCriterion(param, modifier, value, name, bad);
    if (criterion) {
      criteria.push(criterion);
      applied.push([name, value]);
    }
  }

  if (errors.length) throw new BadRequestError('Invalid search parameters', errors);
  return { criteria, sort, count, offset, countOnly, elements, includes, revincludes, applied };
}

function parseCriterion(
  param: SearchParamDef<Resource>,
  modifier: string,
  value: string,
  name: string,
  bad: (name: string, message: string) => void,
): Criterion | undefined {
  const values = splitValues(value);
  switch (param.type) {
    case 'token': {
      if (modifier !== '' && modifier !== 'not') return void bad(name, `Modifier :${modifier} is not supported on token parameters`);
      const queries = values.map(parseTokenValue);
      if (queries.some((q) => q === undefined)) return void bad(name, `Malformed token "${value}" (use code, system|code, |code or system|)`);
      return { kind: 'token', param: param.name, not: modifier === 'not', values: queries as TokenQuery[] };
    }
    case 'reference': {
      const typeModifier = modifier === '' ? undefined : modifier;
      if (typeModifier !== undefined && !/^[A-Z][A-Za-z]+$/.test(typeModifier)) {
        return void bad(name, `Modifier :${modifier} is not supported on reference parameters`);
      }
      const queries = values.map((v) => parseReferenceValue(v, typeModifier, param.targets));
      if (queries.some((q) => q === undefined)) return void bad(name, `Malformed reference "${value}" (use id, Type/id or an absolute URL)`);
      return { kind: 'reference', param: param.name, values: queries as ReferenceQuery[] };
    }
    case 'date': {
      if (modifier !== '') return void bad(name, `Modifier :${modifier} is not supported on date parameters`);
      const queries = values.map(parseDateSearchValue);
      if (queries.some((q) => q === undefined)) {
        return void bad(name, `Malformed date "${value}" (use [prefix]YYYY[-MM[-DD[Thh:mm[:ss[.fff]][Z|±hh:mm]]]], prefixes eq ne lt gt le ge sa eb ap)`);
      }
      return { kind: 'date', param: param.name, values: queries as DateQuery[] };
    }
    case 'string': {
      const mode = STRING_MODIFIERS.get(modifier);
      if (mode === undefined) return void bad(name, `Modifier :${modifier} is not supported on string parameters`);
      return { kind: 'string', param: param.name, mode, values: values.map((v) => stringSearchText(mode, unescape(v))) };
    }
  }
}
