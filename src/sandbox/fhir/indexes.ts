/**
 * Per-type tables and search indexes of the sandbox FHIR store. Search values are extracted once,
 * when a resource is written; the indexes map them back to stored entries:
 *   token     — "system|code", bare code and system-only keys → entries
 *   reference — "Type/id" and bare id → entries
 *   date      — ranges sorted by start, plus the widest finite span, so prefix queries become a
 *               contiguous slice (a superset that the matchers then filter exactly)
 * Indexes only narrow candidates; every criterion is still checked by the matchers.
 */
import type { Resource } from 'fhir/r4';
import { approximateRange, type DateRange } from './fhir-date.js';
import type { DateQuery, ReferenceQuery, TokenQuery } from './matchers.js';
import type { ResourceSearchDef } from './search-params.js';
import type { ReferenceValue, StringValue, TokenValue } from './search-values.js';

export interface Entry {
  readonly resource: Resource;
  readonly id: string;
  /** Position of the resource's first creation; the default result order. */
  readonly seq: number;
  readonly tokens: ReadonlyMap<string, readonly TokenValue[]>;
  readonly refs: ReadonlyMap<string, readonly ReferenceValue[]>;
  readonly dates: ReadonlyMap<string, readonly DateRange[]>;
  readonly strings: ReadonlyMap<string, readonly StringValue[]>;
}

/** Runs every extractor of `def` on a resource. */
export function extractEntry(def: ResourceSearchDef, resource: Resource, id: string, seq: number): Entry {
  const tokens = new Map<string, TokenValue[]>();
  const refs = new Map<string, ReferenceValue[]>();
  const dates = new Map<string, DateRange[]>();
  const strings = new Map<string, StringValue[]>();
  for (const p of def.params.values()) {
    switch (p.type) {
      case 'token': {
        const v = p.extract(resource);
        if (v.length) tokens.set(p.name, v);
        break;
      }
      case 'reference': {
        const v = p.extract(resource);
        if (v.length) refs.set(p.name, v);
        break;
      }
      case 'date': {
        const v = p.extract(resource);
        if (v.length) dates.set(p.name, v);
        break;
      }
      case 'string': {
        const v = p.extract(resource);
        if (v.length) strings.set(p.name, v);
        break;
      }
    }
  }
  return { resource, id, seq, tokens, refs, dates, strings };
}

// Separators that cannot occur in FHIR uri/code values keep the three token key forms apart.
export function tokenExactKey(system: string | undefined, code: string): string {
  return `${system ?? ''}\u0001${code}`;
}
export function tokenCodeKey(code: string): string {
  return `\u0002${code}`;
}
export function tokenSystemKey(system: string): string {
  return `\u0003${system}`;
}

function tokenKeys(v: TokenValue): string[] {
  const keys = [tokenExactKey(v.system, v.code), tokenCodeKey(v.code)];
  if (v.system !== undefined) keys.push(tokenSystemKey(v.system));
  return keys;
}

/** The index key a token query needs. */
export function tokenQueryKey(q: TokenQuery): string {
  if (q.code === undefined) return tokenSystemKey(q.system ?? '');
  if (q.system === undefined) return tokenCodeKey(q.code);
  return tokenExactKey(q.system ?? undefined, q.code);
}

function referenceKeys(v: ReferenceValue): string[] {
  return v.type === undefined ? [v.id] : [`${v.type}/${v.id}`, v.id];
}

export function referenceQueryKey(q: ReferenceQuery): string {
  return q.type === undefined ? q.id : `${q.type}/${q.id}`;
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

  /** Candidates for `queries` (ORed): a superset of the matches, or undefined when no slice helps. */
  candidates(queries: readonly DateQuery[], live: (e: Entry) => boolean, now: number): { size: number; entries: () => Iterable<Entry> } | undefined {
    this.prepare(live);
    const slices: Array<[number, number]> = [];
    for (const q of queries) {
      const slice = this.slice(q, now);
      if (!slice) return undefined;
      slices.push(slice);
    }
    const size = slices.reduce((n, [lo, hi]) => n + (hi - lo), 0);
    const points = this.points;
    return {
      size,
      entries: function* () {
        for (const [lo, hi] of slices) for (let i = lo; i < hi; i++) yield points[i]!.entry;
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

  constructor(readonly def: ResourceSearchDef) {}

  /** Adds or replaces (same id) an entry and its index keys. */
  put(entry: Entry): void {
    const previous = this.byId.get(entry.id);
    if (previous) this.unindex(previous);
    this.byId.set(entry.id, entry);
    for (const [param, values] of entry.tokens) addKeys(this.tokenIndex, param, values.flatMap(tokenKeys), entry);
    for (const [param, values] of entry.refs) addKeys(this.refIndex, param, values.flatMap(referenceKeys), entry);
    for (const [param, values] of entry.dates) {
      let index = this.dateIndex.get(param);
      if (!index) this.dateIndex.set(param, (index = new DateIndex()));
      for (const v of values) index.add(v, entry);
    }
  }

  private unindex(entry: Entry): void {
    for (const [param, values] of entry.tokens) removeKeys(this.tokenIndex, param, values.flatMap(tokenKeys), entry);
    for (const [param, values] of entry.refs) removeKeys(this.refIndex, param, values.flatMap(referenceKeys), entry);
    for (const param of entry.dates.keys()) this.dateIndex.get(param)?.remove();
  }

  isLive = (entry: Entry): boolean => this.byId.get(entry.id) === entry;

  tokenSets(param: string, queries: readonly TokenQuery[]): Array<ReadonlySet<Entry>> {
    const byKey = this.tokenIndex.get(param);
    return queries.map((q) => byKey?.get(tokenQueryKey(q)) ?? EMPTY);
  }

  referenceSets(param: string, queries: readonly ReferenceQuery[]): Array<ReadonlySet<Entry>> {
    const byKey = this.refIndex.get(param);
    return queries.map((q) => byKey?.get(referenceQueryKey(q)) ?? EMPTY);
  }

  dateCandidates(param: string, queries: readonly DateQuery[], now: number): { size: number; entries: () => Iterable<Entry> } | undefined {
    const index = this.dateIndex.get(param);
    if (!index) return { size: 0, entries: () => [] };
    return index.candidates(queries, this.isLive, now);
  }
}

const EMPTY: ReadonlySet<Entry> = new Set();
