/**
 * A FHIR R4 client that survives real servers, over fhir-kit-client: a bearer token fetched per call
 * (so a refreshed token is picked up), a time-out per attempt, retries with exponential backoff and
 * full jitter on 429/503 (and, for idempotent requests, 502/504, time-outs and network errors)
 * honouring Retry-After, searchset paging through `next` links with a page cap, `_count` and
 * `_elements`, and a one-time check that the server speaks FHIR R4 (CapabilityStatement.fhirVersion
 * 4.0.x) with a clear error otherwise.
 *
 * FHIR R4 RESTful API: https://hl7.org/fhir/R4/http.html (search paging §3.1.1.4.6 / Bundle.link
 * "next"; capabilities §3.1.0.14). Retry-After: RFC 9110 §10.2.3.
 *
 * Security: relative URLs only (as src/fhir/fhir-reader.ts); `next` links are followed only when they
 * stay under the base URL, so a server cannot send the token elsewhere. Never log requests: the
 * Authorization header and query strings (patient ids) travel in them.
 */
import { Client } from 'fhir-kit-client';
import type { Bundle, CapabilityStatement, FhirResource, Resource } from 'fhir/r4';
import { abortableSleep, startDeadline } from './deadline.js';
import { FhirReadError, assertHttpBaseUrl, type FhirReadFailure } from './fhir-reader.js';

/** Returns the bearer token to send (undefined: none). Called before every request. */
export type TokenProvider = () => Promise<string | undefined> | string | undefined;

export interface FhirClientOptions {
  baseUrl: string;
  token?: string | TokenProvider;
  /** Per attempt. Default 10 s. */
  timeoutMs?: number;
  /** Further attempts after the first. Default 3. */
  retries?: number;
  /** First backoff step. Default 250 ms; doubles per attempt up to backoffMaxMs (default 8 s). */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** A Retry-After longer than this is not waited for: the call fails as throttled. Default 30 s. */
  maxRetryAfterMs?: number;
  /** Searchset pages followed per search. Default 10. */
  maxPages?: number;
  /** Check CapabilityStatement.fhirVersion before the first request. Default true. */
  requireR4?: boolean;
  /** Aborts everything this client does (e.g. the hook deadline). */
  signal?: AbortSignal;
  /** Injected for tests. */
  random?: () => number;
}

export interface CallOptions {
  signal?: AbortSignal;
  /** Safe to repeat after a time-out or lost connection (GET, PUT, transactions of PUTs). */
  idempotent?: boolean;
}

export interface SearchOptions extends CallOptions {
  /** `_count`: page size asked for. */
  count?: number;
  /** `_elements`: only these top-level elements (the server marks results SUBSETTED). */
  elements?: readonly string[];
  maxPages?: number;
}

export interface SearchResult<T extends Resource> {
  resources: T[];
  /** Bundle.total of the first page, when the server sent one. */
  total?: number;
  /** More pages existed than maxPages allowed. */
  truncated: boolean;
  pages: number;
}

export interface FhirClient {
  readonly baseUrl: string;
  /** GET a relative URL; resolves the resource or Bundle. */
  get<T extends FhirResource = FhirResource>(relativeUrl: string, options?: CallOptions): Promise<T>;
  /** Read by id; undefined on 404/410. */
  read<T extends Resource>(resourceType: T['resourceType'], id: string, options?: CallOptions): Promise<T | undefined>;
  /** Type search following `next` links; entries with search.mode "include"/"outcome" are dropped. */
  search<T extends Resource>(resourceType: T['resourceType'], params: URLSearchParams | Record<string, string>, options?: SearchOptions): Promise<SearchResult<T>>;
  update<T extends Resource>(resource: T, options?: CallOptions): Promise<T>;
  /** POST a transaction or batch Bundle. */
  transaction(bundle: Bundle, options?: CallOptions): Promise<Bundle>;
  capabilities(options?: CallOptions): Promise<CapabilityStatement>;
  /** Throws FhirReadError('unsupported-version') unless the server is FHIR R4; cached after success. */
  assertR4(): Promise<void>;
}

const RETRY_ALWAYS = new Set([429, 503]);
const RETRY_IDEMPOTENT = new Set([502, 504]);

function statusFailure(status: number): FhirReadFailure {
  if (status === 401) return 'unauthorized';
  if (status === 403) return 'forbidden';
  if (status === 404 || status === 410) return 'not-found';
  if (status === 429) return 'throttled';
  return 'http-error';
}

/** Retry-After as milliseconds (delta-seconds or HTTP-date), or undefined. */
export function retryAfterMs(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

function assertRelative(url: string): void {
  if (url === '' || /^[a-z][a-z0-9+.-]*:/i.test(url) || url.startsWith('/') || url.startsWith('\\') || url.split('?')[0]!.split('/').some((s) => s === '..' || s === '.')) {
    throw new FhirReadError('Only relative FHIR URLs may be requested', 'invalid-url');
  }
}

interface ResponseErrorShape {
  response?: { status?: unknown; data?: unknown };
  config?: { headers?: { get?(name: string): string | null } };
}

export function createFhirClient(options: FhirClientOptions): FhirClient {
  const base = assertHttpBaseUrl(options.baseUrl);
  const baseUrl = base.href.replace(/\/+$/, '');
  const kit = new Client({ baseUrl });
  const timeoutMs = options.timeoutMs ?? 10_000;
  const retries = options.retries ?? 3;
  const backoffBase = options.backoffBaseMs ?? 250;
  const backoffMax = options.backoffMaxMs ?? 8000;
  const maxRetryAfter = options.maxRetryAfterMs ?? 30_000;
  const random = options.random ?? Math.random;
  let r4Check: Promise<void> | undefined;

  async function authHeader(): Promise<Record<string, string>> {
    const token = typeof options.token === 'function' ? await options.token() : options.token;
    return token ? { authorization: `Bearer ${token}` } : {};
  }

  /** One HTTP exchange with time-out; maps failures to FhirReadError and reports retry hints. */
  async function attempt(
    url: string,
    method: 'GET' | 'PUT' | 'POST',
    body: unknown,
    signal: AbortSignal | undefined,
  ): Promise<{ ok: true; value: unknown } | { ok: false; error: FhirReadError; status?: number; retryAfter?: number }> {
    const deadline = startDeadline(timeoutMs, [signal, options.signal]);
    try {
      const headers: Record<string, string> = { accept: 'application/fhir+json', ...(await authHeader()) };
      if (body !== undefined) headers['content-type'] = 'application/fhir+json';
      const value: unknown = await kit.request(url, { method, ...(body !== undefined ? { body: body as FhirResource } : {}), options: { headers, signal: deadline.signal } });
      return { ok: true, value };
    } catch (err) {
      if (deadline.timedOut) return { ok: false, error: new FhirReadError('FHIR server did not answer in time', 'timeout') };
      if (deadline.signal.aborted) return { ok: false, error: new FhirReadError('FHIR request aborted', 'aborted') };
      const shaped = err as ResponseErrorShape;
      const status = shaped?.response?.status;
      if (typeof status === 'number') {
        if (status >= 200 && status < 300) return { ok: false, error: new FhirReadError('FHIR server answered with a non-JSON body', 'invalid-response', status) };
        const retryAfter = retryAfterMs(shaped.config?.headers?.get?.('retry-after'));
        return { ok: false, status, ...(retryAfter !== undefined ? { retryAfter } : {}), error: new FhirReadError(`FHIR server answered ${status}`, statusFailure(status), status) };
      }
      return { ok: false, error: new FhirReadError('FHIR server could not be reached', 'network') };
    } finally {
      deadline.dispose();
    }
  }

  async function call(url: string, method: 'GET' | 'PUT' | 'POST', body: unknown, call: CallOptions = {}, skipVersionCheck = false): Promise<unknown> {
    if (!skipVersionCheck && options.requireR4 !== false) await client.assertR4();
    const idempotent = call.idempotent ?? method !== 'POST';
    for (let n = 0; ; n++) {
      const result = await attempt(url, method, body, call.signal);
      if (result.ok) return result.value;
      const { error } = result;
      const retryable =
        (result.status !== undefined && RETRY_ALWAYS.has(result.status)) ||
        (idempotent && ((result.status !== undefined && RETRY_IDEMPOTENT.has(result.status)) || error.failure === 'timeout' || error.failure === 'network'));
      if (!retryable || n >= retries) throw error;
      if (result.retryAfter !== undefined && result.retryAfter > maxRetryAfter) throw error;
      const backoff = Math.min(backoffMax, backoffBase * 2 ** n) * random();
      await abortableSleep(Math.max(result.retryAfter ?? 0, backoff), call.signal ?? options.signal).catch(() => {
        throw new FhirReadError('FHIR request aborted', 'aborted');
      });
    }
  }

  function asResource(value: unknown): FhirResource {
    if (typeof value !== 'object' || value === null || typeof (value as { resourceType?: unknown }).resourceType !== 'string') {
      throw new FhirReadError('FHIR server answered JSON that is not a resource', 'invalid-response');
    }
    return value as FhirResource;
  }

  /** The `next` link as a URL relative to the base, or undefined if absent or pointing elsewhere. */
  function nextLink(bundle: Bundle): string | undefined {
    const href = bundle.link?.find((l) => l.relation === 'next')?.url;
    if (!href) return undefined;
    let url: URL;
    try {
      url = new URL(href, `${baseUrl}/`);
    } catch {
      return undefined;
    }
    if (url.origin !== base.origin || !url.pathname.startsWith(base.pathname.replace(/\/+$/, '') + '/')) {
      throw new FhirReadError('FHIR server sent a next link outside its base URL', 'invalid-response');
    }
    return url.href.slice(baseUrl.length + 1);
  }

  const client: FhirClient = {
    baseUrl,
    async get<T extends FhirResource = FhirResource>(relativeUrl: string, opts: CallOptions = {}) {
      assertRelative(relativeUrl);
      return asResource(await call(relativeUrl, 'GET', undefined, opts)) as T;
    },
    async read<T extends Resource>(resourceType: T['resourceType'], id: string, opts: CallOptions = {}) {
      try {
        return (await client.get(`${resourceType}/${encodeURIComponent(id)}`, opts)) as unknown as T;
      } catch (err) {
        if (err instanceof FhirReadError && err.failure === 'not-found') return undefined;
        throw err;
      }
    },
    async search<T extends Resource>(resourceType: T['resourceType'], params: URLSearchParams | Record<string, string>, opts: SearchOptions = {}) {
      const query = new URLSearchParams(params instanceof URLSearchParams ? params : Object.entries(params));
      if (opts.count !== undefined) query.set('_count', String(opts.count));
      if (opts.elements?.length) query.set('_elements', opts.elements.join(','));
      const maxPages = opts.maxPages ?? options.maxPages ?? 10;
      let url: string | undefined = `${resourceType}?${query.toString()}`;
      const resources: T[] = [];
      let total: number | undefined;
      let pages = 0;
      while (url !== undefined && pages < maxPages) {
        const page = asResource(await call(url, 'GET', undefined, opts));
        if (page.resourceType !== 'Bundle') throw new FhirReadError('FHIR search did not answer a Bundle', 'invalid-response');
        if (pages === 0 && typeof page.total === 'number') total = page.total;
        pages++;
        for (const entry of page.entry ?? []) {
          if (entry.search?.mode && entry.search.mode !== 'match') continue;
          if (entry.resource?.resourceType === resourceType) resources.push(entry.resource as unknown as T);
        }
        url = nextLink(page);
      }
      return { resources, ...(total !== undefined ? { total } : {}), truncated: url !== undefined, pages };
    },
    async update<T extends Resource>(resource: T, opts: CallOptions = {}) {
      if (!resource.id) throw new FhirReadError('update needs a resource id', 'invalid-url');
      return asResource(await call(`${resource.resourceType}/${encodeURIComponent(resource.id)}`, 'PUT', resource, opts)) as unknown as T;
    },
    async transaction(bundle: Bundle, opts: CallOptions = {}) {
      const answer = asResource(await call('', 'POST', bundle, opts));
      if (answer.resourceType !== 'Bundle') throw new FhirReadError('FHIR transaction did not answer a Bundle', 'invalid-response');
      return answer;
    },
    async capabilities(opts: CallOptions = {}) {
      const answer = asResource(await call('metadata', 'GET', undefined, opts, true));
      if (answer.resourceType !== 'CapabilityStatement') throw new FhirReadError('FHIR server /metadata is not a CapabilityStatement', 'invalid-response');
      return answer;
    },
    assertR4() {
      r4Check ??= client.capabilities().then(
        (cs) => {
          if (!/^4\.0(\.\d+)?$/.test(cs.fhirVersion ?? '')) {
            throw new FhirReadError(`FHIR server speaks FHIR ${cs.fhirVersion || '(no fhirVersion)'}; Vigil needs FHIR R4 (4.0.x)`, 'unsupported-version');
          }
        },
        (err: unknown) => {
          throw err;
        },
      );
      // A failed check (server down) is retried on the next call instead of being cached.
      r4Check.catch(() => {
        r4Check = undefined;
      });
      return r4Check;
    },
  };
  return client;
}

/** Outcome of one query run by `allWithDeadline`. */
export type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

/**
 * Runs queries in parallel under one deadline (e.g. a hook's budget): each gets an AbortSignal that
 * fires at the deadline; every query settles, failures included, so one slow server call cannot hold
 * the rest hostage.
 */
export async function allWithDeadline<K extends string, T>(
  queries: Record<K, (signal: AbortSignal) => Promise<T>>,
  deadlineMs: number,
  outer?: AbortSignal,
): Promise<Record<K, Settled<T>>> {
  const deadline = startDeadline(deadlineMs, [outer]);
  try {
    const keys = Object.keys(queries) as K[];
    const settled = await Promise.all(
      keys.map(async (k): Promise<Settled<T>> => {
        try {
          return { ok: true, value: await queries[k](deadline.signal) };
        } catch (error) {
          return { ok: false, error };
        }
      }),
    );
    return Object.fromEntries(keys.map((k, i) => [k, settled[i]!])) as Record<K, Settled<T>>;
  } finally {
    deadline.dispose();
  }
}

/** Whether a FhirReadError is worth retrying later (server down, slow or throttling). */
export function isRetryableFhirError(err: unknown): boolean {
  if (!(err instanceof FhirReadError)) return false;
  if (err.failure === 'timeout' || err.failure === 'network' || err.failure === 'throttled') return true;
  return err.failure === 'http-error' && (err.upstreamStatus ?? 500) >= 500;
}
