/**
 * Id assignment and reference resolution for Bundles written as a whole (fixture loading,
 * transaction and batch). FHIR R4 §3.1.0.11.2 (https://hl7.org/fhir/R4/http.html#trules): an
 * entry's fullUrl — typically urn:uuid:… — names it inside the Bundle; once the server assigns the
 * resource an id, every reference to that fullUrl must be rewritten to the new "Type/id".
 */
import type { Bundle, BundleEntry, Resource } from 'fhir/r4';
import { BadRequestError, type ErrorDetail } from '../../errors.js';

export interface PlannedWrite {
  /** Position in Bundle.entry. */
  index: number;
  resource: Resource;
  id: string;
  /** true when the entry asked for a server-assigned id (POST, or no id given). */
  assigned: boolean;
}

export interface BundlePlan {
  items: PlannedWrite[];
  /** Maps a reference to an entry's fullUrl onto "Type/id"; undefined leaves it unchanged. */
  rewrite: (reference: string) => string | undefined;
}

const LOADABLE: ReadonlySet<string> = new Set(['transaction', 'batch', 'collection', 'searchset']);
const TYPE_ID = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})$/;

/**
 * The id an entry's resource gets: PUT takes it from request.url ("Type/id"); POST always gets a
 * new one (the server ignores a client id on create); otherwise a given id is kept.
 */
export function idForEntry(entry: BundleEntry, resource: Resource, newId: () => string): { id: string; assigned: boolean } {
  const method = entry.request?.method;
  if (method === 'PUT') {
    const m = TYPE_ID.exec((entry.request?.url ?? '').split('?')[0]!);
    if (!m || m[1] !== resource.resourceType) {
      throw new BadRequestError('PUT entry needs request.url "Type/id" matching its resource', [
        { field: 'request.url', message: `got "${entry.request?.url ?? ''}"` },
      ]);
    }
    return { id: m[2]!, assigned: false };
  }
  if (method === 'POST' || resource.id === undefined) return { id: newId(), assigned: true };
  return { id: resource.id, assigned: false };
}

/**
 * Assigns ids to the entries that carry a resource (POST, PUT or no request at all) and builds the
 * reference rewrite. Throws BadRequestError, naming every offending entry, before anything is
 * written, so a caller can apply the plan all or nothing.
 */
export function planBundleLoad(bundle: Bundle, isSupportedType: (type: string) => boolean, newId: () => string): BundlePlan {
  if (bundle.resourceType !== 'Bundle') throw new BadRequestError('Expected a Bundle');
  if (!LOADABLE.has(bundle.type)) {
    throw new BadRequestError(`Cannot load a Bundle of type "${bundle.type}"`, [{ field: 'Bundle.type', message: 'expected transaction, batch, collection or searchset' }]);
  }
  const errors: ErrorDetail[] = [];
  const items: PlannedWrite[] = [];
  const targets = new Map<string, string>();
  (bundle.entry ?? []).forEach((entry, index) => {
    const field = `Bundle.entry[${index}]`;
    const resource = entry.resource;
    const method = entry.request?.method;
    if (method !== undefined && method !== 'POST' && method !== 'PUT') {
      errors.push({ field: `${field}.request.method`, message: `${method} is not supported when loading a Bundle` });
      return;
    }
    if (!resource) return;
    if (!isSupportedType(resource.resourceType)) {
      errors.push({ field: `${field}.resource.resourceType`, message: `Resource type ${resource.resourceType} is not supported` });
      return;
    }
    try {
      const { id, assigned } = idForEntry(entry, resource, newId);
      items.push({ index, resource, id, assigned });
      if (entry.fullUrl) targets.set(entry.fullUrl, `${resource.resourceType}/${id}`);
      // Resources inside the bundle may also refer to one another by their original Type/id.
      if (resource.id !== undefined && resource.id !== id) targets.set(`${resource.resourceType}/${resource.id}`, `${resource.resourceType}/${id}`);
    } catch (err) {
      if (err instanceof BadRequestError) errors.push(...err.details.map((d) => ({ ...d, field: `${field}.${d.field ?? ''}` })));
      else throw err;
    }
  });
  if (errors.length) throw new BadRequestError('Bundle cannot be loaded', errors);
  return { items, rewrite: (reference) => targets.get(reference) };
}
