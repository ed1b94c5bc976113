/**
 * Per-type tables and search indexes of the sandbox FHIR store. Search values are extracted once,
 * when a resource is written; the indexes map them back to stored entries:
 *   token     — "system|code" and bare-code keys → entries
 *   reference — "Type/id" (bare id for untyped stored references) → entries
 *   date      — ranges sorted by start, plus the widest finite span, so prefix queries become a
 *               contiguous slice (a superset that the matchers then filter exactly)
 * Membership in a token or reference key set is an exact match for that query value; date slices
 * are supersets that the matchers then filter. Low-cardinality parameters (UNINDEXED_PARAMS) are
 * only ever filtered.
 */
import type { Resource } from 'fhir/r4';
import { approximateRange, type DateRange } from './fhir-date.js';
import type { DateQuery, ReferenceQuery, TokenQuery } from './matchers.js';
import { UNINDEXED_PARAMS, type ResourceSearchDef } from './search-params.js';
import type { ReferenceValue, StringValue, TokenValue } from './search-values.js';

/**
 * One stored resource and its search values. Values of indexed parameters are extracted when the
 * entry is indexed; the others on first use (most searches never touch them), then cached.
 */
export class Entry {
  private tokenValues?: Map<string, readonly TokenValue[]>;
  private refValues?: Map<string, readonly ReferenceValue[]>;
  private dateValues?: Map<string, readonly DateRange[]>;
  private stringValues?: Map<string, readonly StringValue[]>;

  constructor(
    private readonly def: ResourceSearchDef,
    readonly resource: Resource,
    readonly id: string,
    /** Position of the resource's first creation; the default result order. */
    readonly seq: number,
  ) {}

  tokens(param: string): readonly TokenValue[] {
    const p = this.def.params.get(param);
    if (p?.type !== 'token') return NONE;
    let v = this.tokenValues?.get(param);
    if (!v) (this.tokenValues ??= new Map()).set(param, (v = p.extract(this.resource)));
    return v;
  }

  refs(param: string): readonly ReferenceValue[] {
    const p = this.def.params.get(param);
    if (p?.type !== 'reference') return NONE;
    let v = this.refValues?.get(param);
    if (!v) (this.refValues ??= new Map()).set(param, (v = p.extract(this.resource)));
    return v;
  }

  dates(param: string): readonly DateRange[] {
    const p = this.def.params.get(param);
    if (p?.type !== 'date') return NONE;
    let v = this.dateValues?.get(param);
    if (!v) (this.dateValues ??= new Map()).set(param, (v = p.extract(this.resource)));
    return v;
  }

  strings(param: string): readonly StringValue[] {
    const p = this.def.params.get(param);
    if (p?.type !== 'string') return NONE;
    let v = this.stringValues?.get(param);
    if (!v) (this.stringValues ??= new Map()).set(param, (v = p.extract(this.resource)));
    return v;
  }

  /** Whether the resource has any value for `param` (the :missing modifier). */
  has(param: string): boolean {
    return this.tokens(param).length + this.refs(param).length + this.dates(param).length + this.strings(param).length > 0;
  }
}

const NONE: readonly never[] = Object.freeze([]);

// A separator that cannot occur in FHIR uri or code values keeps the two token key forms apart.
export function tokenExactKey(system: string | undefined, code: string): string {
  return `${system ?? ''}\u0001${code}`;
}
export function tokenCodeKey(code: string): string {
  return `\u0002${code}`;
}

function tokenKeys(v: TokenValue): string[] {
  return [tokenExactKey(v.system, v.code), tokenCodeKey(v.code)];
}

/** The index key a token query needs; undefined for system-only queries ("system|"), which are filtered. */
export function tokenQueryKey(q: TokenQuery): string | undefined {
  if (q.code === undefined) return undefined;
  if (q.system === undefined) return tokenCodeKey(q.code);
  return tokenExactKey(q.system ?? undefined, q.code);
}

function referenceKeys(v: ReferenceValue): string[] {
  return [v.type === undefined ? v.id : `${v.type}/${v.id}`];
}

/** Keys a reference query can match: "Type/id", or for an untyped id every target type and the bare id. */
export function referenceQueryKeys(q: ReferenceQuery, targets: readonly string[]): string[] | undefined {
  if (q.type !== undefined) return [`${q.type}/${q.id}`];
  if (targets.includes('Resource')) return undefined;
  return [...targets.map((t) => `${t}/${q.id}`), q.id];
}

type KeyIndex = Map<string, Map<string, Set<Entry>>>;

function addKeys(index: KeyIndex, param: string, keys: string[], entry: Entry): void {
  let byKey = index.get(param);
  if (!byKey) index.set(param, (byKey = new Map()));
  for (const key of keys) {
    let set = byKey.get(key);
    if (!set) byKey.set(key, (set = new Set()));
    set.add(entry);
  }
}

function removeKeys(index: KeyIndex, param: string, keys: string[], entry: Entry): void {
  const byKey = index.get(param);
  if (!byKey) return;
  for (const key of keys) {
    const set = byKey.get(key);
    if (!set) continue;
    set.delete(entry);
    if (set.size === 0) byKey.delete(key);
  }
}

function sizeOf(slices: ReadonlyArray<readonly [number, number]>): number {
  return slices.reduce((n, [lo, hi]) => n + Math.max(0, hi - lo), 0);
}

/** ORed slices may overlap; merged, no entry is yielded twice. */
function mergeSlices(slices: ReadonlyArray<readonly [number, number]>): Array<[number, number]> {
  const sorted = slices.filter(([lo, hi]) => hi > lo).sort((a, b) => a[0] - b[0]);
  const out: Array<[number, number]> = [];
  for (const [lo, hi] of sorted) {
    const last = out[out.length - 1];
    if (last && lo <= last[1]) last[1] = Math.max(last[1], hi);
    else out.push([lo, hi]);
  }
  return out;
}

interface DatePoint {
  readonly start: number;
  readonly end: number;
  readonly entry: Entry;
}

/** Date ranges of one parameter sorted by start; sorting is deferred to the first search after writes. */
class DateIndex {
  private points: DatePoint[] = [];
  private sorted = true;
  /** Widest finite end − start seen; Infinity once an open-ended range was added. */
  private maxSpan = 0;
  private stale = 0;

  add(range: DateRange, entry: Entry): void {
    this.points.push({ start: range.start, end: range.end, entry });
    this.sorted = false;
    this.maxSpan = Math.max(this.maxSpan, range.end - range.start);
  }

  /** Marks one entry's points stale; they are dropped at the next re-sort. */
  remove(): void {
    this.stale++;
    this.sorted = false;
  }

  /**
   * Candidates for several ANDed criteria on this parameter, each a list of ORed queries: a superset
   * of the matches, or undefined when no slice narrows anything. Single-valued criteria intersect
   * into one window (ge…&lt… becomes one slice).
   */
  candidates(criteria: ReadonlyArray<readonly DateQuery[]>, live: (e: Entry) => boolean, now: number): { size: number; entries: () => Iterable<Entry> } | undefined {
    this.prepare(live);
    let best: Array<[number, number]> | undefined;
    let window: [number, number] | undefined;
    for (const queries of criteria) {
      const slices: Array<[number, number]> = [];
      for (const q of queries) {
        const slice = this.slice(q, now);
        if (!slice) break;
        slices.push(slice);
      }
      if (slices.length < queries.length) continue;
      if (slices.length === 1) {
        const [lo, hi] = slices[0]!;
        window = window ? [Math.max(window[0], lo), Math.min(window[1], hi)] : [lo, hi];
      } else if (!best || sizeOf(slices) < sizeOf(best)) {
        best = slices;
      }
    }
    if (window && (!best || Math.max(0, window[1] - window[0]) < sizeOf(best))) best = [window];
    if (!best) return undefined;
    const chosen = mergeSlices(best);
    const points = this.points;
    return {
      size: sizeOf(chosen),
      entries: function* () {
        for (const [lo, hi] of chosen) for (let i = lo; i < hi; i++) yield points[i]!.entry;
      },
    };
  }

  private prepare(live: (e: Entry) => boolean): void {
    if (this.sorted) return;
    if (this.stale) {
      this.points = this.points.filter((p) => live(p.entry));
      this.stale = 0;
      this.maxSpan = this.points.reduce((m, p) => Math.max(m, p.end - p.start), 0);
    }
    this.points.sort((a, b) => a.start - b.start || a.entry.seq - b.entry.seq);
    this.sorted = true;
  }

  /** Index of the first point with start ≥ t (or > t when `after`). */
  private bound(t: number, after: boolean): number {
    let lo = 0;
    let hi = this.points.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const s = this.points[mid]!.start;
      if (s < t || (after && s === t)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The slice of points whose start allows a match; see matchesDate for each prefix's definition. */
  private slice(q: DateQuery, now: number): [number, number] | undefined {
    const { start, end } = q.range;
    const n = this.points.length;
    switch (q.prefix) {
      case 'eq':
        return [this.bound(start, false), this.bound(end, true)];
      case 'lt':
      case 'eb':
        return [0, this.bound(start, false)];
      case 'le':
        return [0, this.bound(end, true)];
      case 'sa':
        return [this.bound(end, true), n];
      case 'gt':
      case 'ge':
        // Needs target.end > search.end (or containment for ge): start > search.end − maxSpan.
        return Number.isFinite(this.maxSpan) ? [this.bound(Math.min(start, end - this.maxSpan), false), n] : undefined;
      case 'ap': {
        const w = approximateRange(q.range, now);
        return Number.isFinite(this.maxSpan) ? [this.bound(w.start - this.maxSpan, false), this.bound(w.end, true)] : undefined;
      }
      case 'ne':
        return undefined;
    }
  }
}

/** All stored resources of one type and their indexes. */
export class TypeTable {
  readonly byId = new Map<string, Entry>();
  private readonly tokenIndex: KeyIndex = new Map();
  private readonly refIndex: KeyIndex = new Map();
  private readonly dateIndex = new Map<string, DateIndex>();

  constructor(readonly def: ResourceSearchDef) {
    const params = [...def.params.values()].filter((p) => !UNINDEXED_PARAMS.has(p.name));
    this.indexed = {
      token: params.filter((p) => p.type === 'token').map((p) => p.name),
      reference: params.filter((p) => p.type === 'reference').map((p) => p.name),
      date: params.filter((p) => p.type === 'date').map((p) => p.name),
    };
  }

  /** Indexed parameters of this type, by kind, fixed at construction. */
  private readonly indexed: { token: string[]; reference: string[]; date: string[] };

  /** Adds or replaces (same id) an entry and its index keys. */
  put(entry: Entry): void {
    const previous = this.byId.get(entry.id);
    if (previous) this.unindex(previous);
    this.byId.set(entry.id, entry);
    for (const param of this.indexed.token) {
      const values = entry.tokens(param);
      if (values.length) addKeys(this.tokenIndex, param, values.flatMap(tokenKeys), entry);
    }
    for (const param of this.indexed.reference) {
      const values = entry.refs(param);
      if (values.length) addKeys(this.refIndex, param, values.flatMap(referenceKeys), entry);
    }
    for (const param of this.indexed.date) {
      const values = entry.dates(param);
      if (!values.length) continue;
      let index = this.dateIndex.get(param);
      if (!index) this.dateIndex.set(param, (index = new DateIndex()));
      for (const v of values) index.add(v, entry);
    }
  }

  private unindex(entry: Entry): void {
    for (const param of this.indexed.token) removeKeys(this.tokenIndex, param, entry.tokens(param).flatMap(tokenKeys), entry);
    for (const param of this.indexed.reference) removeKeys(this.refIndex, param, entry.refs(param).flatMap(referenceKeys), entry);
    for (const param of this.indexed.date) if (entry.dates(param).length) this.dateIndex.get(param)?.remove();
  }

  isLive = (entry: Entry): boolean => this.byId.get(entry.id) === entry;

  /**
   * The entries matching each token query exactly (one list of sets per query, ORed), or undefined
   * when the parameter is not indexed or a query cannot use the index.
   */
  tokenSets(param: string, queries: readonly TokenQuery[]): Array<ReadonlySet<Entry>> | undefined {
    if (UNINDEXED_PARAMS.has(param)) return undefined;
    const byKey = this.tokenIndex.get(param);
    const sets: Array<ReadonlySet<Entry>> = [];
    for (const q of queries) {
      const key = tokenQueryKey(q);
      if (key === undefined) return undefined;
      const set = byKey?.get(key);
      if (set) sets.push(set);
    }
    return sets;
  }

  /** As tokenSets, for reference queries. */
  referenceSets(param: string, queries: readonly ReferenceQuery[], targets: readonly string[]): Array<ReadonlySet<Entry>> | undefined {
    if (UNINDEXED_PARAMS.has(param)) return undefined;
    const byKey = this.refIndex.get(param);
    const sets: Array<ReadonlySet<Entry>> = [];
    for (const q of queries) {
      const keys = referenceQueryKeys(q, targets);
      if (keys === undefined) return undefined;
      for (const key of keys) {
        const set = byKey?.get(key);
        if (set) sets.push(set);
      }
    }
    return sets;
  }

  /** Candidates for all the ANDed criteria on one date parameter; see DateIndex.candidates. */
  dateCandidates(param: string, criteria: ReadonlyArray<readonly DateQuery[]>, now: number): { size: number; entries: () => Iterable<Entry> } | undefined {
    if (UNINDEXED_PARAMS.has(param)) return undefined;
    const index = this.dateIndex.get(param);
    if (!index) return { size: 0, entries: () => [] };
    return index.candidates(criteria, this.isLive, now);
  }
}
