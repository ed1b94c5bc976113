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
import { BadRequestError, NotFoundError } from '../../errors.js';
import { extractEntry, TypeTable, type Entry } from './indexes.js';
import { matchesAnyDate, matchesAnyReference, matchesAnyString, matchesAnyToken } from './matchers.js';
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
    const { resourceType, id: _oldId, meta, ...content } = resource;
    const stored = frozenCopy(
      {
        resourceType,
        id,
        meta: { ...meta, versionId: String(Number.isFinite(version) ? version : 1), lastUpdated: this.now().toISOString() },
        ...content,
      } as T,
      rewrite,
    );
    table.put(extractEntry(table.def, stored, id, previous ? previous.seq : this.seq++));
    return stored;
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

  private execute(table: TypeTable, query: SearchQuery): Entry[] {
    const now = this.now().getTime();
    const candidates = this.candidates(table, query.criteria, now);
    const matches: Entry[] = [];
    for (const entry of candidates) if (query.criteria.every((c) => matchesCriterion(c, entry, now))) matches.push(entry);
    sortEntries(matches, query.sort);
    return matches;
  }

  /** Picks the most selective index among the criteria; falls back to every entry of the type. */
  private candidates(table: TypeTable, criteria: readonly Criterion[], now: number): Iterable<Entry> {
    let best: { size: number; entries: () => Iterable<Entry> } = { size: table.byId.size, entries: () => table.byId.values() };
    for (const c of criteria) {
      let option: { size: number; entries: () => Iterable<Entry> } | undefined;
      switch (c.kind) {
        case 'id': {
          const found = c.ids.map((id) => table.byId.get(id)).filter((e): e is Entry => e !== undefined);
          option = { size: found.length, entries: () => found };
          break;
        }
        case 'token':
          if (!c.not) option = unionOption(table.tokenSets(c.param, c.values));
          break;
        case 'reference':
          option = unionOption(table.referenceSets(c.param, c.values));
          break;
        case 'date':
          option = table.dateCandidates(c.param, c.values, now);
          break;
        default:
          break;
      }
      if (option && option.size < best.size) best = option;
      if (best.size === 0) break;
    }
    return best.entries();
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
    bundle.entry = page.map(
      (e): BundleEntry => ({
        fullUrl: `${base}/${type}/${e.id}`,
        // Only supported (hence concrete) resource types are ever stored.
        resource: (query.elements ? subset(e.resource, query.elements) : e.resource) as FhirResource,
        search: { mode: 'match' },
      }),
    );
    return bundle;
  }
}

function unionOption(sets: Array<ReadonlySet<Entry>>): { size: number; entries: () => Iterable<Entry> } {
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

/** Whether one stored entry satisfies one criterion. */
export function matchesCriterion(c: Criterion, entry: Entry, now: number): boolean {
  switch (c.kind) {
    case 'id':
      return c.ids.includes(entry.id);
    case 'token': {
      const values = entry.tokens.get(c.param) ?? [];
      const hit = matchesAnyToken(c.values, values);
      return c.not ? !hit : hit;
    }
    case 'reference':
      return matchesAnyReference(c.values, entry.refs.get(c.param) ?? []);
    case 'date':
      return matchesAnyDate(c.values, entry.dates.get(c.param) ?? [], now);
    case 'string':
      return matchesAnyString(c.mode, c.values, entry.strings.get(c.param) ?? []);
    case 'missing': {
      const present =
        entry.tokens.has(c.param) || entry.refs.has(c.param) || entry.dates.has(c.param) || entry.strings.has(c.param);
      return c.missing ? !present : present;
    }
  }
}

type SortValue = number | string | undefined;

/** The value an entry sorts by: lowest for ascending, highest for descending (R4 §3.1.1.5.3). */
function sortValue(entry: Entry, key: SortKey): SortValue {
  if (key.param === '_id') return entry.id;
  const dates = entry.dates.get(key.param);
  if (dates) return key.descending ? Math.max(...dates.map((d) => d.end)) : Math.min(...dates.map((d) => d.start));
  const strings = entry.strings.get(key.param)?.map((s) => s.folded);
  const tokens = entry.tokens.get(key.param)?.map((t) => t.code);
  const refs = entry.refs.get(key.param)?.map((r) => `${r.type ?? ''}/${r.id}`);
  const texts = strings ?? tokens ?? refs;
  if (!texts?.length) return undefined;
  return [...texts].sort()[key.descending ? texts.length - 1 : 0];
}

/** Sorts in place by the keys, then by creation order; entries without a value sort last. */
export function sortEntries(entries: Entry[], keys: readonly SortKey[]): void {
  if (keys.length === 0) {
    entries.sort((a, b) => a.seq - b.seq);
    return;
  }
  const decorated = entries.map((entry) => ({ entry, values: keys.map((k) => sortValue(entry, k)) }));
  decorated.sort((a, b) => {
    for (let i = 0; i < keys.length; i++) {
      const x = a.values[i];
      const y = b.values[i];
      if (x === y) continue;
      if (x === undefined) return 1;
      if (y === undefined) return -1;
      const order = x < y ? -1 : 1;
      return keys[i]!.descending ? -order : order;
    }
    return a.entry.seq - b.entry.seq;
  });
  for (let i = 0; i < entries.length; i++) entries[i] = decorated[i]!.entry;
}

/** `_elements` (R4 §3.1.1.5.9): the named top-level elements plus id and meta, tagged SUBSETTED. */
function subset(resource: Resource, elements: readonly string[]): Resource {
  const source = resource as unknown as Record<string, unknown>;
  const out: Record<string, unknown> = { resourceType: resource.resourceType, id: resource.id };
  for (const name of elements) if (name in source && name !== 'meta') out[name] = source[name];
  out.meta = { ...resource.meta, tag: [...(resource.meta?.tag ?? []), SUBSETTED] };
  return out as unknown as Resource;
}
