/**
 * FHIR transaction and batch (R4 §3.1.0.11, https://hl7.org/fhir/R4/http.html#transaction):
 * POST of a Bundle to the server base. A transaction is all or nothing — every entry is checked
 * before any is written; a batch runs each entry on its own and reports per-entry outcomes.
 * Supported entry methods: POST (create, conditional with ifNoneExist), PUT (update/upsert, or
 * conditional with "Type?criteria") and GET (read or search).
 */
import type { Bundle, BundleEntry, BundleEntryResponse, FhirResource, Resource } from 'fhir/r4';
import { BadRequestError, MethodNotAllowedError, PreconditionFailedError, UnauthorizedError, isVigilError, type ErrorDetail } from '../../errors.js';
import { normalizeError, operationOutcomeFor } from '../../http/error-handler.js';
import { idForEntry } from './bundle-load.js';
import type { FhirStore, SearchOptions } from './store.js';

export interface BatchOptions extends SearchOptions {
  /** Throws (typically UnprocessableEntityError) when a resource to be written is invalid. */
  validate?: (resource: Resource) => void;
}

type Step =
  | { kind: 'write'; index: number; resource: Resource; id: string; created: boolean }
  /** A conditional create whose criteria matched: nothing is written. */
  | { kind: 'existing'; index: number; resource: Resource }
  | { kind: 'get'; index: number; url: string };

function entryError(index: number, err: unknown): unknown {
  // Credential errors carry a challenge and keep their own shape.
  if (!isVigilError(err) || err instanceof UnauthorizedError) return err;
  const details: ErrorDetail[] = (err.details.length ? err.details : [{ message: err.message }]).map((d) => ({
    field: `Bundle.entry[${index}]${d.field ? `.${d.field}` : ''}`,
    message: d.message,
  }));
  // Keep the entry's own status (404, 422…) but say which entry failed.
  const Ctor = err.constructor as new (message: string, details: ErrorDetail[]) => Error;
  return new Ctor(`Transaction entry ${index} failed: ${err.message}`, details);
}

/** Checks one entry and turns it into a step; throws a typed error when the entry cannot run. */
function planEntry(store: FhirStore, entry: BundleEntry, index: number, opts: BatchOptions, newId: () => string): Step {
  const method = entry.request?.method;
  const url = entry.request?.url;
  if (!method || url === undefined) {
    throw new BadRequestError('Entry needs request.method and request.url', [{ field: 'request', message: 'missing' }]);
  }
  if (method === 'GET') {
    return { kind: 'get', index, url };
  }
  if (method !== 'POST' && method !== 'PUT') throw new MethodNotAllowedError(`${method} entries are not supported`);
  const resource = entry.resource;
  if (!resource) throw new BadRequestError(`${method} entry has no resource`, [{ field: 'resource', message: 'missing' }]);
  const type = url.split(/[/?]/)[0]!;
  if (type !== resource.resourceType) {
    throw new BadRequestError(`request.url "${url}" does not match resource type ${resource.resourceType}`, [{ field: 'request.url', message: 'type mismatch' }]);
  }
  if (!store.resourceTypes.includes(type)) throw new BadRequestError(`Resource type ${type} is not supported`, [{ field: 'resource.resourceType', message: type }]);
  opts.validate?.(resource);
  const ifNoneExist = method === 'POST' ? entry.request?.ifNoneExist : undefined;
  if (ifNoneExist) {
    const ids = store.matchingIds(type, new URLSearchParams(ifNoneExist));
    if (ids.length > 1) throw new PreconditionFailedError(`${ids.length} ${type} resources match ifNoneExist`);
    if (ids.length === 1) return { kind: 'existing', index, resource: store.read(type, ids[0]!) };
  }
  const query = url.indexOf('?');
  const id =
    method === 'PUT' && query >= 0
      ? store.conditionalUpdateId(resource, new URLSearchParams(url.slice(query + 1)))
      : idForEntry(entry, resource, newId).id;
  return { kind: 'write', index, resource, id, created: !store.has(type, id) };
}

function writeResponse(resource: Resource, created: boolean): BundleEntryResponse {
  return {
    status: created ? '201 Created' : '200 OK',
    location: `${resource.resourceType}/${resource.id}/_history/${resource.meta?.versionId}`,
    etag: `W/"${resource.meta?.versionId}"`,
    lastModified: resource.meta?.lastUpdated,
  };
}

function existingEntry(resource: Resource, baseUrl: string): BundleEntry {
  return {
    fullUrl: `${baseUrl}/${resource.resourceType}/${resource.id}`,
    resource: resource as FhirResource,
    response: { ...writeResponse(resource, false), status: '200 OK' },
  };
}

function runGet(store: FhirStore, url: string, opts: BatchOptions): BundleEntry {
  const resource = store.get(url, opts) as FhirResource;
  return { resource, response: { status: '200 OK' } };
}

/** Runs a transaction or batch Bundle; returns the transaction-response / batch-response Bundle. */
export function processBatch(store: FhirStore, bundle: Bundle, opts: BatchOptions, newId: () => string): Bundle {
  if (bundle.resourceType !== 'Bundle' || (bundle.type !== 'transaction' && bundle.type !== 'batch')) {
    throw new BadRequestError('POST to the base URL takes a Bundle of type transaction or batch', [{ field: 'type', message: `got "${String(bundle.type)}"` }]);
  }
  const entries = bundle.entry ?? [];
  const targets = new Map<string, string>();
  const rewrite = (reference: string): string | undefined => targets.get(reference);
  const responseType = bundle.type === 'transaction' ? 'transaction-response' : 'batch-response';

  if (bundle.type === 'transaction') {
    const steps = entries.map((entry, index) => {
      try {
        return planEntry(store, entry, index, opts, newId);
      } catch (err) {
        throw entryError(index, err);
      }
    });
    for (const step of steps) {
      const entry = entries[step.index]!;
      if (step.kind === 'write' && entry.fullUrl) targets.set(entry.fullUrl, `${step.resource.resourceType}/${step.id}`);
      if (step.kind === 'existing' && entry.fullUrl) targets.set(entry.fullUrl, `${step.resource.resourceType}/${step.resource.id}`);
    }
    // FHIR orders a transaction's work by method (§3.1.0.11.2): writes before reads.
    const results = new Map<number, BundleEntry>();
    const writes = steps.filter((s): s is Extract<Step, { kind: 'write' }> => s.kind === 'write');
    const stored = store.writeAll(writes, rewrite);
    writes.forEach((w, i) => results.set(w.index, { fullUrl: `${opts.baseUrl}/${stored[i]!.resourceType}/${stored[i]!.id}`, resource: stored[i] as FhirResource, response: writeResponse(stored[i]!, w.created) }));
    for (const step of steps) {
      if (step.kind === 'existing') results.set(step.index, existingEntry(step.resource, opts.baseUrl));
      if (step.kind === 'get') {
        try {
          results.set(step.index, runGet(store, step.url, opts));
        } catch (err) {
          throw entryError(step.index, err);
        }
      }
    }
    return { resourceType: 'Bundle', type: responseType, entry: steps.map((s) => results.get(s.index)!) };
  }

  // Batch: entries are independent; a failure becomes that entry's response.
  return {
    resourceType: 'Bundle',
    type: responseType,
    entry: entries.map((entry, index): BundleEntry => {
      try {
        const step = planEntry(store, entry, index, opts, newId);
        if (step.kind === 'get') return runGet(store, step.url, opts);
        if (step.kind === 'existing') {
          if (entry.fullUrl) targets.set(entry.fullUrl, `${step.resource.resourceType}/${step.resource.id}`);
          return existingEntry(step.resource, opts.baseUrl);
        }
        if (entry.fullUrl) targets.set(entry.fullUrl, `${step.resource.resourceType}/${step.id}`);
        const [resource] = store.writeAll([step], rewrite);
        return { fullUrl: `${opts.baseUrl}/${resource!.resourceType}/${resource!.id}`, resource: resource as FhirResource, response: writeResponse(resource!, step.created) };
      } catch (err) {
        const e = normalizeError(err);
        if (e.status >= 500) throw err;
        return { response: { status: String(e.status), outcome: operationOutcomeFor(e) } };
      }
    }),
  };
}
