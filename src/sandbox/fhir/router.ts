/**
 * FHIR R4 RESTful API over a FhirStore (https://hl7.org/fhir/R4/http.html), mounted by the sandbox
 * EHR at /sandbox/fhir. The handlers only translate HTTP to store calls; every error is answered as
 * an OperationOutcome by the router's own error handler.
 *
 *   GET  /metadata                     capabilities
 *   POST /                             transaction / batch
 *   GET  /{type}?…, POST /{type}/_search   search-type (GET /{type}/_search too)
 *   POST /{type}                       create (conditional with If-None-Exist)
 *   GET  /{type}/{id}                  read
 *   GET  /{type}/{id}/_history/{vid}   vread (current version only)
 *   PUT  /{type}/{id}                  update (upsert)
 *   PUT  /{type}?criteria              conditional update
 * Other methods on these paths answer 405. Access control is the `authorize` seam: the server is
 * open when it is absent (the SMART layer plugs in there).
 */
import express, { Router, type Request, type RequestHandler, type Response } from 'express';
import type { Bundle, BundleEntry, Resource } from 'fhir/r4';
import { BadRequestError, ForbiddenError, MethodNotAllowedError, NotFoundError, UnsupportedMediaTypeError } from '../../errors.js';
import { baseUrlOf } from '../../http/base-url.js';
import { operationOutcomeErrorHandler } from '../../http/error-handler.js';
import type { Logger } from '../../logger.js';
import { createBulkExportRouter, type BulkExportOptions } from './bulk-export.js';
import { capabilityStatement, type SmartOAuthUris } from './capability.js';
import { parseReference } from './search-values.js';
import type { FhirStore } from './store.js';
import { processBatch } from './transaction.js';
import { assertValidResource } from './validation.js';
import { randomUUID } from 'node:crypto';

export type FhirInteraction = 'capabilities' | 'read' | 'vread' | 'search-type' | 'create' | 'update' | 'transaction' | 'batch';

/**
 * Access decision for one request, called before the store is touched for searches and writes and
 * after the read for reads (so the resource's patient is known). Throw UnauthorizedError /
 * ForbiddenError to refuse. `patientId` is the patient compartment concerned, when there is one.
 */
export type AuthorizeFhirRequest = (
  req: Request,
  interaction: FhirInteraction,
  resourceType?: string,
  patientId?: string,
) => void | Promise<void>;

export interface FhirRouterOptions {
  store: FhirStore;
  logger: Logger;
  /** Validate created/updated resources against the R4 StructureDefinitions (422 on failure). Default true. */
  validate?: boolean;
  authorize?: AuthorizeFhirRequest;
  /** PUBLIC_BASE_URL when configured; otherwise links are built from each request's own origin. */
  publicBaseUrl?: string;
  /** Largest accepted request body. Default 25mb (transaction Bundles of shipped patients are large). */
  bodyLimit?: string;
  /** Bulk Data `$export` (bulk-export.ts) settings; false leaves it out. Default on. */
  bulkExport?: BulkExportOptions | false;
  /** The SMART authorization server's endpoints as reached by this request, declared in /metadata. */
  smartOAuthUris?: (req: Request) => SmartOAuthUris;
}

const FHIR_JSON = 'application/fhir+json; charset=utf-8';
const JSON_TYPES = ['application/json', 'application/fhir+json'];
const FORM_TYPE = 'application/x-www-form-urlencoded';
const SOFTWARE_VERSION = '0.1.0';

function send(res: Response, status: number, body: unknown): void {
  res.status(status).type(FHIR_JSON).send(JSON.stringify(body));
}

function setVersionHeaders(res: Response, resource: Resource): void {
  if (resource.meta?.versionId) res.setHeader('ETag', `W/"${resource.meta.versionId}"`);
  if (resource.meta?.lastUpdated) res.setHeader('Last-Modified', new Date(resource.meta.lastUpdated).toUTCString());
}

/** Prefer header tokens (RFC 7240), e.g. "return=minimal, handling=strict" → {return: minimal, handling: strict}. */
function preferences(req: Request): Map<string, string> {
  const prefs = new Map<string, string>();
  for (const part of (req.get('prefer') ?? '').split(/[,;]/)) {
    const [k, v] = part.split('=').map((s) => s.trim().toLowerCase());
    if (k) prefs.set(k, (v ?? '').replace(/^"|"$/g, ''));
  }
  return prefs;
}

function requireJson(req: Request): void {
  if (!req.is(JSON_TYPES)) {
    throw new UnsupportedMediaTypeError(`Send the resource as application/fhir+json (got ${req.get('content-type') ?? 'no content type'})`);
  }
}

function bodyResource(req: Request): Resource {
  requireJson(req);
  const body: unknown = req.body;
  if (typeof body !== 'object' || body === null || Array.isArray(body) || typeof (body as { resourceType?: unknown }).resourceType !== 'string') {
    throw new BadRequestError('Body must be a FHIR resource (a JSON object with resourceType)', [{ field: 'resourceType', message: 'missing' }]);
  }
  return body as Resource;
}

/** The patient a search is confined to, from `patient`, `subject` (Patient) or, on Patient, `_id`. */
function patientOfSearch(type: string, params: URLSearchParams): string | undefined {
  if (type === 'Patient') {
    // Only a single, repeated-free _id confines a Patient search to one patient.
    const ids = params.getAll('_id');
    return ids.length === 1 && !ids[0]!.includes(',') ? ids[0] : undefined;
  }
  for (const name of ['patient', 'subject', 'subject:Patient', 'patient:Patient']) {
    const values = params.getAll(name);
    const value = values[0];
    if (values.length !== 1 || !value || value.includes(',')) continue;
    const ref = parseReference(value);
    if (ref && (ref.type === undefined || ref.type === 'Patient') && (name !== 'subject' || ref.type === 'Patient')) return ref.id;
  }
  return undefined;
}

export function createFhirRouter(opts: FhirRouterOptions): Router {
  const { store, logger } = opts;
  const validate = opts.validate ?? true;
  const authorize: AuthorizeFhirRequest = opts.authorize ?? (() => undefined);
  const router = Router();
  const baseOf = (req: Request): string => `${baseUrlOf(req, opts.publicBaseUrl)}${req.baseUrl}`;
  const checkValid = (resource: Resource): void => {
    if (validate) assertValidResource(resource);
  };
  const knownType = (type: string): string => {
    if (!store.resourceTypes.includes(type)) throw new NotFoundError(`Resource type "${type}" is not supported by this server`);
    return type;
  };
  const notAllowed: RequestHandler = (req) => {
    throw new MethodNotAllowedError(`${req.method} is not allowed on ${req.baseUrl}${req.path}`);
  };
  const jsonBody = express.json({ type: JSON_TYPES, limit: opts.bodyLimit ?? '25mb' });
  const formBody = express.text({ type: FORM_TYPE, limit: '1mb' });

  const search = async (req: Request, res: Response, extra?: URLSearchParams): Promise<void> => {
    const type = knownType(String(req.params.type));
    const params = new URL(req.originalUrl, 'http://localhost').searchParams;
    for (const [k, v] of extra ?? []) params.append(k, v);
    await authorize(req, 'search-type', type, patientOfSearch(type, params));
    const bundle = store.search(type, params, { baseUrl: baseOf(req), strict: preferences(req).get('handling') === 'strict' });
    if (opts.authorize) bundle.entry = await visibleIncludes(req, bundle.entry);
    send(res, 200, bundle);
  };

  /**
   * Included resources (_include/_revinclude) may be of other types or patients than the search
   * was authorised for: each is authorised as a read, and those refused are left out, as a server
   * leaves out what the caller may not see.
   */
  const visibleIncludes = async (req: Request, entries: BundleEntry[] | undefined): Promise<BundleEntry[] | undefined> => {
    if (!entries?.some((e) => e.search?.mode === 'include')) return entries;
    const kept: BundleEntry[] = [];
    for (const e of entries) {
      if (e.search?.mode === 'include' && e.resource) {
        try {
          await authorize(req, 'read', e.resource.resourceType, store.patientIdsOf(e.resource)[0]);
        } catch (err) {
          if (err instanceof ForbiddenError) continue;
          throw err;
        }
      }
      kept.push(e);
    }
    return kept;
  };

  /**
   * Each entry of a transaction or batch is authorised as the interaction it performs, so the seam
   * cannot be bypassed by wrapping requests in a Bundle. Refusing any entry refuses the Bundle.
   */
  /**
   * An update is authorised for the patient the resource belongs to now and the one it would belong to
   * after: otherwise a token confined to patient A could overwrite (or move into A's record) a resource
   * of patient B by PUTting it with A as subject. A PUT to an id that does not exist yet is a create.
   */
  const authorizeWrite = async (req: Request, resource: Resource, id: string | undefined): Promise<void> => {
    const type = resource.resourceType;
    const after = store.patientIdsOf(resource)[0];
    if (id === undefined || !store.has(type, id)) {
      await authorize(req, 'create', type, after);
      return;
    }
    const before = store.patientIdsOf(store.read(type, id))[0];
    await authorize(req, 'update', type, before);
    if (after !== before) await authorize(req, 'update', type, after);
  };

  const authorizeEntries = async (req: Request, bundle: Bundle): Promise<void> => {
    for (const entry of bundle.entry ?? []) {
      const method = entry.request?.method;
      const url = (entry.request?.url ?? '').replace(/^\/+/, '');
      const [path = '', query] = url.split('?');
      const [type = '', id] = path.split('/');
      if (method === 'PUT' && entry.resource && store.resourceTypes.includes(entry.resource.resourceType)) {
        const target = query === undefined ? id : store.conditionalUpdateId(entry.resource, new URLSearchParams(query));
        await authorizeWrite(req, entry.resource, target);
      } else if (method === 'POST' && entry.resource && store.resourceTypes.includes(entry.resource.resourceType)) {
        await authorize(req, 'create', entry.resource.resourceType, store.patientIdsOf(entry.resource)[0]);
      } else if (method === 'GET' && store.resourceTypes.includes(type)) {
        if (id === undefined || id === '_search') await authorize(req, 'search-type', type, patientOfSearch(type, new URLSearchParams(query ?? '')));
        else await authorize(req, 'read', type, store.has(type, id) ? store.patientIdsOf(store.read(type, id))[0] : undefined);
      }
    }
  };

  router.get('/metadata', (req, res) => {
    send(
      res,
      200,
      capabilityStatement({
        baseUrl: baseOf(req),
        softwareVersion: SOFTWARE_VERSION,
        date: new Date().toISOString(),
        bulkExport: opts.bulkExport !== false,
        ...(opts.smartOAuthUris ? { smart: opts.smartOAuthUris(req) } : {}),
      }),
    );
  });
  router.all('/metadata', notAllowed);
  // Before the /:type routes, which would read "$export" as an id.
  if (opts.bulkExport !== false) {
    router.use(createBulkExportRouter({ ...opts.bulkExport, store, logger, authorize, requiresAccessToken: opts.authorize !== undefined, baseOf }));
  }

  router.post('/', jsonBody, async (req, res) => {
    const bundle = bodyResource(req);
    if (bundle.resourceType !== 'Bundle') throw new BadRequestError('POST to the base URL takes a transaction or batch Bundle');
    const interaction = (bundle as Bundle).type === 'batch' ? 'batch' : 'transaction';
    await authorize(req, interaction);
    await authorizeEntries(req, bundle as Bundle);
    const result = processBatch(store, bundle as Bundle, { baseUrl: baseOf(req), validate: validate ? assertValidResource : undefined }, randomUUID);
    logger.debug({ interaction, entries: result.entry?.length ?? 0 }, 'fhir bundle processed');
    send(res, 200, result);
  });
  router.all('/', notAllowed);

  router.get('/:type', (req, res) => search(req, res));
  // Not in the R4 table, but common (HAPI, Medplum): GET on _search is a search too.
  router.get('/:type/_search', (req, res) => search(req, res));
  router.post('/:type/_search', formBody, async (req, res) => {
    const hasBody = Number(req.get('content-length') ?? '0') > 0 || req.get('transfer-encoding') !== undefined;
    if (hasBody && !req.is(FORM_TYPE)) throw new UnsupportedMediaTypeError(`POST _search takes ${FORM_TYPE}`);
    await search(req, res, new URLSearchParams(typeof req.body === 'string' ? req.body : ''));
  });
  router.all('/:type/_search', (req) => {
    knownType(String(req.params.type));
    throw new MethodNotAllowedError(`${req.method} is not allowed on _search; use GET ?… or POST`);
  });

  router.post('/:type', jsonBody, async (req, res) => {
    const type = knownType(String(req.params.type));
    // A create ignores any client id (R4 §3.1.0.7); the server assigns one.
    const { id: _clientId, ...content } = bodyResource(req);
    const resource: Resource = content;
    if (resource.resourceType !== type) {
      throw new BadRequestError(`Body is a ${resource.resourceType}, URL says ${type}`, [{ field: 'resourceType', message: 'does not match the URL' }]);
    }
    checkValid(resource);
    await authorize(req, 'create', type, store.patientIdsOf(resource)[0]);
    const ifNoneExist = req.get('if-none-exist');
    const { resource: stored, created } =
      ifNoneExist === undefined ? { resource: store.create(resource), created: true } : store.createIfNoneExist(resource, new URLSearchParams(ifNoneExist));
    const location = `${baseOf(req)}/${type}/${stored.id}/_history/${stored.meta?.versionId}`;
    res.setHeader('Location', location);
    setVersionHeaders(res, stored);
    logger.debug({ interaction: 'create', resourceType: type, created }, 'fhir write');
    const status = created ? 201 : 200;
    if (preferences(req).get('return') === 'minimal') {
      res.status(status).end();
      return;
    }
    send(res, status, stored);
  });
  // Conditional update (R4 §3.1.0.4.3): PUT [type]?criteria.
  router.put('/:type', jsonBody, async (req, res) => {
    const type = knownType(String(req.params.type));
    const criteria = new URL(req.originalUrl, 'http://localhost').searchParams;
    if ([...criteria.keys()].length === 0) throw new MethodNotAllowedError('PUT needs an id (PUT [type]/[id]) or search criteria (PUT [type]?…)');
    const resource = bodyResource(req);
    if (resource.resourceType !== type) {
      throw new BadRequestError(`Body is a ${resource.resourceType}, URL says ${type}`, [{ field: 'resourceType', message: 'does not match the URL' }]);
    }
    checkValid(resource);
    const id = store.conditionalUpdateId(resource, criteria);
    await authorizeWrite(req, resource, id);
    const created = !store.has(type, id);
    const stored = store.update({ ...resource, id });
    setVersionHeaders(res, stored);
    if (created) res.setHeader('Location', `${baseOf(req)}/${type}/${id}/_history/${stored.meta?.versionId}`);
    logger.debug({ interaction: 'update', resourceType: type, created }, 'fhir write');
    if (preferences(req).get('return') === 'minimal') {
      res.status(created ? 201 : 200).end();
      return;
    }
    send(res, created ? 201 : 200, stored);
  });
  router.all('/:type', (req) => {
    knownType(String(req.params.type));
    throw new MethodNotAllowedError(`${req.method} is not allowed on ${req.params.type}`);
  });

  router.get('/:type/:id', async (req, res) => {
    const type = knownType(String(req.params.type));
    const resource = store.read(type, String(req.params.id));
    await authorize(req, 'read', type, store.patientIdsOf(resource)[0]);
    setVersionHeaders(res, resource);
    send(res, 200, resource);
  });
  router.put('/:type/:id', jsonBody, async (req, res) => {
    const type = knownType(String(req.params.type));
    const id = String(req.params.id);
    const resource = bodyResource(req);
    if (resource.resourceType !== type) {
      throw new BadRequestError(`Body is a ${resource.resourceType}, URL says ${type}`, [{ field: 'resourceType', message: 'does not match the URL' }]);
    }
    if (resource.id !== id) {
      throw new BadRequestError('The resource id must match the URL id (R4 §3.1.0.4)', [{ field: 'id', message: `expected "${id}"` }]);
    }
    checkValid(resource);
    // A PUT that creates still needs update rights (R4 update-as-create), and both patients are checked.
    if (store.has(type, id)) await authorizeWrite(req, resource, id);
    else await authorize(req, 'update', type, store.patientIdsOf(resource)[0]);
    const created = !store.has(type, id);
    const stored = store.update(resource);
    setVersionHeaders(res, stored);
    if (created) res.setHeader('Location', `${baseOf(req)}/${type}/${id}/_history/${stored.meta?.versionId}`);
    logger.debug({ interaction: 'update', resourceType: type }, 'fhir write');
    if (preferences(req).get('return') === 'minimal') {
      res.status(created ? 201 : 200).end();
      return;
    }
    send(res, created ? 201 : 200, stored);
  });
  router.all('/:type/:id', (req) => {
    knownType(String(req.params.type));
    throw new MethodNotAllowedError(`${req.method} is not allowed on a ${req.params.type} instance`);
  });

  router.get('/:type/:id/_history/:vid', async (req, res) => {
    const type = knownType(String(req.params.type));
    const resource = store.get(`${type}/${String(req.params.id)}/_history/${String(req.params.vid)}`, { baseUrl: baseOf(req) });
    await authorize(req, 'vread', type, store.patientIdsOf(resource)[0]);
    setVersionHeaders(res, resource);
    send(res, 200, resource);
  });

  router.use((req, _res, next) => next(new NotFoundError(`No FHIR endpoint for ${req.method} ${req.baseUrl}${req.path}`)));
  router.use(operationOutcomeErrorHandler(logger));
  return router;
}
