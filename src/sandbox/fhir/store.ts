/**
 * The sandbox EHR's in-memory FHIR R4 store: create / update / read / search over indexed
 * resources, searchset Bundles with paging links, and bulk loading of Bundles.
 *
 * Stored resources are deep-frozen copies: reads and searches hand out the stored objects without
 * cloning (that is what keeps a search in the microseconds), so callers must copy before changing.
 *
 * FHIR R4 RESTful API: https://hl7.org/fhir/R4/http.html; search: https://hl7.org/fhir/R4/search.html
 */
import { randomUUID } from 'node:crypto';
import type { Bundle, BundleEntry, BundleLink, FhirResource, Resource } from 'fhir/r4';
import { BadRequestError, NotFoundError, PreconditionFailedError } from '../../errors.js';
import { Entry, TypeTable } from './indexes.js';
import { matchesAnyDate, matchesAnyReference, matchesAnyString, matchesAnyToken, type DateQuery } from './matchers.js';
import { SEARCH_DEFS } from './search-params.js';
import { parseSearchQuery, type Criterion, type SearchQuery, type SortKey } from './search-query.js';
import { planBundleLoad } from './bundle-load.js';

export interface SearchOptions {
  /** Absolute base of this FHIR server (e.g. "http://host/sandbox/fhir"), for fullUrl and links. */
  baseUrl: string;
  /** `Prefer: handling=strict`: unknown parameters are errors instead of being ignored. */
  strict?: boolean;
}

export interface FhirStoreOptions {
  /** Clock for meta.lastUpdated and `ap` date searches. */
  now?: () => Date;
  /** Id generator for server-assigned ids. */
  newId?: () => string;
}

/**
 * Told of every stored write (create, update, transaction entry, bundle load), after it is stored: the
 * sandbox's stand-in for a FHIR Subscription (R4 §Subscription, rest-hook) inside the process.
 */
export type FhirStoreWriteListener = (resource: Resource, change: { created: boolean }) => void;

const ID = /^[A-Za-z0-9\-.]{1,64}$/;
const SUBSETTED = { system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'SUBSETTED' };

/** Copies a JSON value deeply, freezing every object; `rewrite` may replace `reference` strings. */
function frozenCopy<T>(value: T, rewrite?: (reference: string) => string | undefined): T {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    const out = value.map((v: unknown) => frozenCopy(v, rewrite));
    return Object.freeze(out) as T;
  }
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    const v = (value as Record<string, unknown>)[key];
    out[key] = rewrite && key === 'reference' && typeof v === 'string' ? (rewrite(v) ?? v) : frozenCopy(v, rewrite);
  }
  return Object.freeze(out) as T;
}

export class FhirStore {
  private readonly tables = new Map<string, TypeTable>();
  private readonly now: () => Date;
  private readonly newId: () => string;
  private seq = 0;
  private readonly listeners = new Set<FhirStoreWriteListener>();

  constructor(options: FhirStoreOptions = {}) {
    this.now = options.now ?? (() => new Date());
    this.newId = options.newId ?? randomUUID;
    for (const def of SEARCH_DEFS.values()) this.tables.set(def.type, new TypeTable(def));
  }

  /** Resource types this store holds. */
  get resourceTypes(): string[] {
    return [...this.tables.keys()];
  }

  private table(type: string): TypeTable {
    const table = this.tables.get(type);
    if (!table) throw new NotFoundError(`Resource type "${type}" is not supported by this server`);
    return table;
  }

  private write<T extends Resource>(resource: T, id: string, rewrite?: (reference: string) => string | undefined): T {
    if (!ID.test(id)) throw new BadRequestError(`Invalid resource id "${id}"`, [{ field: 'id', message: 'must match [A-Za-z0-9-.]{1,64}' }]);
    const table = this.table(resource.resourceType);
    const previous = table.byId.get(id);
    const version = previous ? Number(previous.resource.meta?.versionId ?? '0') + 1 : 1;
    // Copy once, with id and meta first and everything else frozen as it is copied.
    const source = resource as unknown as Record<string, unknown>;
    const copy: Record<string, unknown> = {
      resourceType: resource.resourceType,
      id,
      meta: Object.freeze({
        ...frozenCopy(resource.meta),
        versionId: String(Number.isFinite(version) ? version : 1),
        lastUpdated: this.now().toISOString(),
      }),
    };
    for (const key of Object.keys(source)) {
      if (key !== 'resourceType' && key !== 'id' && key !== 'meta') copy[key] = frozenCopy(source[key], rewrite);
    }
    const stored = Object.freeze(copy) as unknown as T;
    table.put(new Entry(table.def, stored, id, previous ? previous.seq : this.seq++));
    for (const listener of this.listeners) {
      try {
        listener(stored, { created: !previous });
      } catch {
        // The write has happened; an observer's failure must not turn it into an error for the writer.
      }
    }
    return stored;
  }

  /**
   * Subscribes to writes (see FhirStoreWriteListener). Listeners run synchronously inside the write, so
   * they must only queue work. Returns the unsubscribe function.
   */
  onWrite(listener: FhirStoreWriteListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * FHIR create (R4 §3.1.0.7): keeps a given id (used when loading fixtures) or assigns one, and
   * sets meta.versionId "1" and meta.lastUpdated. The HTTP layer drops client ids before calling.
   */
  create<T extends Resource>(resource: T): T {
    const id = resource.id ?? this.newId();
    if (this.table(resource.resourceType).byId.has(id)) {
      throw new BadRequestError(`${resource.resourceType}/${id} already exists; use update`);
    }
    return this.write(resource, id);
  }

  /** FHIR update as upsert (R4 §3.1.0.4): creates the id if absent, else stores the next version. */
  update<T extends Resource>(resource: T): T {
    if (resource.id === undefined) throw new BadRequestError('Update needs a resource id', [{ field: 'id', message: 'missing' }]);
    return this.write(resource, resource.id);
  }

  /**
   * Ids of the resources matching conditional-interaction criteria (R4 §3.1.0.8: If-None-Exist,
   * conditional update). Parsed strictly, since a silently ignored parameter would widen the match;
   * empty criteria are refused for the same reason.
   */
  matchingIds(type: string, criteria: URLSearchParams): string[] {
    const table = this.table(type);
    const query = parseSearchQuery(table.def, criteria, { strict: true });
    if (query.criteria.length === 0) {
      throw new BadRequestError('Conditional criteria must name at least one search parameter', [{ field: 'criteria', message: 'empty' }]);
    }
    return this.execute(table, query).map((e) => e.id);
  }

  /**
   * Conditional create (R4 §3.1.0.8.1, If-None-Exist): creates when nothing matches, returns the
   * single match untouched otherwise; several matches are a 412.
   */
  createIfNoneExist<T extends Resource>(resource: T, criteria: URLSearchParams): { resource: Resource; created: boolean } {
    const ids = this.matchingIds(resource.resourceType, criteria);
    if (ids.length === 0) return { resource: this.create(resource), created: true };
    if (ids.length === 1) return { resource: this.read(resource.resourceType, ids[0]!), created: false };
    throw new PreconditionFailedError(`${ids.length} ${resource.resourceType} resources match the If-None-Exist criteria`);
  }

  /**
   * The id a conditional update (R4 §3.1.0.4.3, PUT [type]?criteria) writes to: the single match,
   * else the body's id or a new one; several matches are a 412, a body id naming another resource a 400.
   */
  conditionalUpdateId(resource: Resource, criteria: URLSearchParams): string {
    const ids = this.matchingIds(resource.resourceType, criteria);
    if (ids.length > 1) throw new PreconditionFailedError(`${ids.length} ${resource.resourceType} resources match the update criteria`);
    const match = ids[0];
    if (match !== undefined && resource.id !== undefined && resource.id !== match) {
      throw new BadRequestError(`The body's id "${resource.id}" is not the matching resource's id`, [{ field: 'id', message: `expected "${match}"` }]);
    }
    return match ?? resource.id ?? this.newId();
  }

  /** Conditional update: see conditionalUpdateId. */
  updateWhere<T extends Resource>(resource: T, criteria: URLSearchParams): { resource: T; created: boolean } {
    const id = this.conditionalUpdateId(resource, criteria);
    const created = !this.has(resource.resourceType, id);
    return { resource: this.write(resource, id), created };
  }

  /** Whether `type/id` exists (no throw). */
  has(type: string, id: string): boolean {
    return this.tables.get(type)?.byId.has(id) ?? false;
  }

  /** FHIR read (R4 §3.1.0.2). Throws NotFoundError for unknown types and ids. */
  read(type: string, id: string): Resource {
    const entry = this.table(type).byId.get(id);
    if (!entry) throw new NotFoundError(`${type}/${id} not found`);
    return entry.resource;
  }

  /** Ids of the patients whose compartment a stored resource belongs to (for access decisions). */
  patientIdsOf(resource: Resource): string[] {
    return this.table(resource.resourceType).def.patientIds(resource);
  }

  count(type?: string): number {
    if (type !== undefined) return this.tables.get(type)?.byId.size ?? 0;
    let n = 0;
    for (const t of this.tables.values()) n += t.byId.size;
    return n;
  }

  /** FHIR search (R4 §3.1.1): a searchset Bundle. Throws BadRequestError for malformed queries. */
  search(type: string, params: URLSearchParams, opts: SearchOptions): Bundle {
    const table = this.table(type);
    const query = parseSearchQuery(table.def, params, { strict: opts.strict ?? false });
    const matches = this.execute(table, query);
    return this.searchset(type, query, matches, opts.baseUrl);
  }

  /**
   * Runs a relative FHIR URL as a GET ("Patient/1", "Patient/1/_history/1", "Observation?…"),
   * as an EHR does to fill CDS Hooks prefetch. Returns the resource or a searchset Bundle.
   */
  get(relativeUrl: string, opts: SearchOptions): Resource {
    const q = relativeUrl.indexOf('?');
    const path = (q < 0 ? relativeUrl : relativeUrl.slice(0, q)).replace(/^\/+|\/+$/g, '');
    const params = new URLSearchParams(q < 0 ? '' : relativeUrl.slice(q + 1));
    const segs = path.split('/');
    if (segs.length === 1 && segs[0] !== '') return this.search(segs[0]!, params, opts);
    if (segs.length === 2 && segs[1] === '_search') return this.search(segs[0]!, params, opts);
    if (segs.length === 2) return this.read(segs[0]!, segs[1]!);
    if (segs.length === 4 && segs[2] === '_history') {
      const resource = this.read(segs[0]!, segs[1]!);
      if (resource.meta?.versionId !== segs[3]) throw new NotFoundError(`${segs[0]}/${segs[1]} version ${segs[3]} not found`);
      return resource;
    }
    throw new BadRequestError(`Unsupported FHIR URL "${relativeUrl}"`);
  }

  /**
   * Loads a transaction, batch or collection Bundle as fixtures, all or nothing: given ids are kept
   * (PUT entries take the id from request.url), others are assigned, and references to an entry's
   * fullUrl (urn:uuid: or absolute) are rewritten to "Type/id". No validation: this is the fast
   * path for shipped data.
   */
  loadBundle(bundle: Bundle): { loaded: number } {
    const plan = planBundleLoad(bundle, (type) => this.tables.has(type), this.newId);
    for (const item of plan.items) this.write(item.resource, item.id, plan.rewrite);
    return { loaded: plan.items.length };
  }

  /** Stores resources with references rewritten by `rewrite`, as a transaction does. */
  writeAll(items: ReadonlyArray<{ resource: Resource; id: string }>, rewrite: (reference: string) => string | undefined): Resource[] {
    return items.map((item) => this.write(item.resource, item.id, rewrite));
  }

  /**
   * Drives the search from the most selective index (or every entry of the type), then checks the
   * other criteria: membership in their key sets where indexed (an exact test), the matchers
   * otherwise. The driving criterion is re-checked only when its index is a superset (dates).
   */
  private execute(table: TypeTable, query: SearchQuery): Entry[] {
    const now = this.now().getTime();
    const dateGroups = new Map<string, Array<readonly DateQuery[]>>();
    for (const c of query.criteria) if (c.kind === 'date') dateGroups.set(c.param, [...(dateGroups.get(c.param) ?? []), c.values]);
    const plans = query.criteria.map((c) => planCriterion(table, c, now, dateGroups));
    let driver: CriterionPlan | undefined;
    for (const plan of plans) if (plan.source && (!driver || plan.source.size < driver.source!.size)) driver = plan;
    const candidates = driver ? driver.source!.entries() : table.byId.values();
    const checks = plans.filter((p) => !(p === driver && p.exact));
    const matches: Entry[] = [];
    outer: for (const entry of candidates) {
      for (const p of checks) {
        if (p.sets ? !inAny(p.sets, entry) : !matchesCriterion(p.criterion, entry, now)) continue outer;
      }
      matches.push(entry);
    }
    sortEntries(matches, query.sort);
    return matches;
  }

  private searchset(type: string, query: SearchQuery, matches: Entry[], baseUrl: string): Bundle {
    const base = baseUrl.replace(/\/+$/, '');
    const total = matches.length;
    const bundle: Bundle = {
      resourceType: 'Bundle',
      id: randomUUID(),
      meta: { lastUpdated: this.now().toISOString() },
      type: 'searchset',
      total,
    };
    const link = (offset: number, count: number): string => {
      const qs = new URLSearchParams(query.applied.map(([k, v]) => [k, v]));
      if (query.countOnly) qs.set('_summary', 'count');
      else {
        qs.set('_count', String(count));
        if (offset > 0) qs.set('_offset', String(offset));
      }
      return `${base}/${type}?${qs.toString()}`;
    };
    if (query.countOnly) {
      bundle.link = [{ relation: 'self', url: link(0, 0) }];
      return bundle;
    }
    const { offset, count } = query;
    const links: BundleLink[] = [{ relation: 'self', url: link(offset, count) }];
    if (offset > 0 || offset + count < total) links.push({ relation: 'first', url: link(0, count) });
    if (offset > 0) links.push({ relation: 'previous', url: link(Math.max(0, offset - count), count) });
    if (offset + count < total) links.push({ relation: 'next', url: link(offset + count, count) });
    bundle.link = links;
    const page = matches.slice(offset, offset + count);
    const entryFor = (e: Entry, mode: 'match' | 'include'): BundleEntry => ({
      fullUrl: `${base}/${e.resource.resourceType}/${e.id}`,
      // Only supported (hence concrete) resource types are ever stored.
      resource: (query.elements ? subset(e.resource, query.elements) : e.resource) as FhirResource,
      search: { mode },
    });
    bundle.entry = [...page.map((e) => entryFor(e, 'match')), ...this.included(type, page, query).map((e) => entryFor(e, 'include'))];
    return bundle;
  }

  /**
   * Resources named by `_include` (referenced by the page) and `_revinclude` (referring to it),
   * once each and never repeating a match (R4 §3.1.1.5.4). Not iterated (:iterate unsupported).
   */
  private included(type: string, page: readonly Entry[], query: SearchQuery): Entry[] {
    if (!query.includes.length && !query.revincludes.length) return [];
    const seen = new Set(page.map((e) => `${type}/${e.id}`));
    const out: Entry[] = [];
    const add = (e: Entry | undefined): void => {
      const key = e && `${e.resource.resourceType}/${e.id}`;
      if (e && key && !seen.has(key)) {
        seen.add(key);
        out.push(e);
      }
    };
    for (const spec of query.includes) {
      const param = this.table(type).def.params.get(spec.param);
      const single = param?.type === 'reference' && param.targets.length === 1 ? param.targets[0] : undefined;
      for (const e of page) {
        for (const ref of e.refs(spec.param)) {
          const refType = ref.type ?? single;
          if (!refType || (spec.targetType && refType !== spec.targetType)) continue;
          add(this.tables.get(refType)?.byId.get(ref.id));
        }
      }
    }
    for (const spec of query.revincludes) {
      if (spec.targetType && spec.targetType !== type) continue;
      const source = this.tables.get(spec.sourceType);
      const param = source?.def.params.get(spec.param);
      if (!source || param?.type !== 'reference') continue;
      for (const e of page) {
        const sets = source.referenceSets(spec.param, [{ type, id: e.id }], param.targets);
        if (sets) for (const set of sets) for (const r of set) add(r);
        else for (const r of source.byId.values()) if (r.refs(spec.param).some((v) => v.id === e.id && (v.type ?? type) === type)) add(r);
      }
    }
    return out;
  }
}

interface CandidateSource {
  size: number;
  entries: () => Iterable<Entry>;
}

interface CriterionPlan {
  criterion: Criterion;
  /** Entries matching exactly (ORed), when the criterion is answered by key sets. */
  sets?: ReadonlyArray<ReadonlySet<Entry>>;
  /** Where candidates can come from, with their number. */
  source?: CandidateSource;
  /** Whether every entry of `source` satisfies the criterion. */
  exact: boolean;
}

function inAny(sets: ReadonlyArray<ReadonlySet<Entry>>, entry: Entry): boolean {
  for (const s of sets) if (s.has(entry)) return true;
  return false;
}

function union(sets: ReadonlyArray<ReadonlySet<Entry>>): CandidateSource {
  const size = sets.reduce((n, s) => n + s.size, 0);
  if (sets.length === 1) return { size, entries: () => sets[0]! };
  return {
    size,
    entries: () => {
      const seen = new Set<Entry>();
      for (const s of sets) for (const e of s) seen.add(e);
      return seen;
    },
  };
}

function planCriterion(table: TypeTable, c: Criterion, now: number, dateGroups: Map<string, Array<readonly DateQuery[]>>): CriterionPlan {
  switch (c.kind) {
    case 'id': {
      const found = [...new Set(c.ids)].map((id) => table.byId.get(id)).filter((e): e is Entry => e !== undefined);
      return { criterion: c, source: { size: found.length, entries: () => found }, exact: true };
    }
    case 'token': {
      const sets = c.not ? undefined : table.tokenSets(c.param, c.values);
      return sets ? { criterion: c, sets, source: union(sets), exact: true } : { criterion: c, exact: false };
    }
    case 'reference': {
      const def = table.def.params.get(c.param);
      const sets = def?.type === 'reference' ? table.referenceSets(c.param, c.values, def.targets) : undefined;
      return sets ? { criterion: c, sets, source: union(sets), exact: true } : { criterion: c, exact: false };
    }
    case 'date': {
      // All criteria on one date parameter share one window, planned with the first of them.
      const group = dateGroups.get(c.param);
      dateGroups.delete(c.param);
      return { criterion: c, source: group ? table.dateCandidates(c.param, group, now) : undefined, exact: false };
    }
    default:
      return { criterion: c, exact: false };
  }
}

/** Whether one stored entry satisfies one criterion. */
export function matchesCriterion(c: Criterion, entry: Entry, now: number): boolean {
  switch (c.kind) {
    case 'id':
      return c.ids.includes(entry.id);
    case 'token': {
      const hit = matchesAnyToken(c.values, entry.tokens(c.param));
      return c.not ? !hit : hit;
    }
    case 'reference':
      return matchesAnyReference(c.values, entry.refs(c.param));
    case 'date':
      return matchesAnyDate(c.values, entry.dates(c.param), now);
    case 'string':
      return matchesAnyString(c.mode, c.values, entry.strings(c.param));
    case 'missing':
      return c.missing ? !entry.has(c.param) : entry.has(c.param);
  }
}

type SortValue = number | string | undefined;

function lowestOrHighest(texts: readonly string[], descending: boolean): string | undefined {
  let v: string | undefined;
  for (const t of texts) if (v === undefined || (descending ? t > v : t < v)) v = t;
  return v;
}

/** The value an entry sorts by: lowest for ascending, highest for descending (R4 §3.1.1.5.3). */
function sortValue(entry: Entry, key: SortKey): SortValue {
  const { param, descending } = key;
  if (param === '_id') return entry.id;
  const dates = entry.dates(param);
  if (dates.length) {
    let v = descending ? -Infinity : Infinity;
    for (const d of dates) v = descending ? Math.max(v, d.end) : Math.min(v, d.start);
    return v;
  }
  const strings = entry.strings(param);
  if (strings.length) return lowestOrHighest(strings.map((s) => s.folded), descending);
  const tokens = entry.tokens(param);
  if (tokens.length) return lowestOrHighest(tokens.map((t) => t.code), descending);
  const refs = entry.refs(param);
  if (refs.length) return lowestOrHighest(refs.map((r) => `${r.type ?? ''}/${r.id}`), descending);
  return undefined;
}

/** Sorts in place by the keys, then by creation order; entries without a value sort last. */
export function sortEntries(entries: Entry[], keys: readonly SortKey[]): void {
  if (keys.length === 0) {
    entries.sort((a, b) => a.seq - b.seq);
    return;
  }
  // One column of sort values per key, and an index permutation: no per-entry wrapper objects.
  const columns = keys.map((k) => entries.map((e) => sortValue(e, k)));
  const order = entries.map((_, i) => i);
  order.sort((i, j) => {
    for (let k = 0; k < keys.length; k++) {
      const x = columns[k]![i];
      const y = columns[k]![j];
      if (x === y) continue;
      if (x === undefined) return 1;
      if (y === undefined) return -1;
      const cmp = x < y ? -1 : 1;
      return keys[k]!.descending ? -cmp : cmp;
    }
    return entries[i]!.seq - entries[j]!.seq;
  });
  const sorted = order.map((i) => entries[i]!);
  for (let i = 0; i < sorted.length; i++) entries[i] = sorted[i]!;
}

/** `_elements` (R4 §3.1.1.5.9): the named top-level elements plus id and meta, tagged SUBSETTED. */
function subset(resource: Resource, elements: readonly string[]): Resource {
  const source = resource as unknown as Record<string, unknown>;
  const out: Record<string, unknown> = { resourceType: resource.resourceType, id: resource.id };
  for (const name of elements) if (name in source && name !== 'meta') out[name] = source[name];
  out.meta = { ...resource.meta, tag: [...(resource.meta?.tag ?? []), SUBSETTED] };
  return out as unknown as Resource;
}
