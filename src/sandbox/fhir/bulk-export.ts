/**
 * FHIR Bulk Data Access IG v2.0.0 export on the sandbox FHIR server
 * (https://hl7.org/fhir/uv/bulkdata/STU2/export.html), mounted inside createFhirRouter:
 *
 *   GET    /Patient/$export, /Group/{id}/$export    §Bulk Data Kick-off Request → 202 + Content-Location
 *   GET    /$export-status/{job}                    §Bulk Data Status Request: 202 (X-Progress, Retry-After)
 *                                                   while running, then 200 + the manifest; 500 + OperationOutcome if it failed
 *   DELETE /$export-status/{job}                    §Bulk Data Delete Request → 202; the job and its files are gone
 *   GET    /$export-file/{job}/{file}               §Bulk Data Output File Request (application/fhir+ndjson)
 *
 * Access: every step goes through the router's `authorize` seam as a type search without a patient, so
 * `system/` (and `user/`) scopes covering the exported types pass and patient-scoped tokens are refused
 * (403); without a token, 401. A kick-off without `_type` exports the compartment types the token covers.
 * Status, files and DELETE belong to the client that kicked the job off (the token's `client_id`), so
 * `requiresAccessToken` is true whenever the server enforces tokens.
 * Deliberate limits: no system-level `/$export`, no POST kick-off, no `_typeFilter`/`_elements` (400).
 */
import { Router, type Request, type Response } from 'express';
import type { Group, Resource } from 'fhir/r4';
import { decodeJwt } from 'jose';
import { ForbiddenError, NotFoundError, TooManyRequestsError, VigilError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { bearerToken } from '../../smart/cds-client-auth.js';
import { ExportJobRegistry, type ExportJob, type ExportJobRegistryOptions, type ExportSource } from './bulk-export-jobs.js';
import { parseKickoff, type ExportRequest } from './bulk-export-params.js';
import type { AuthorizeFhirRequest } from './router.js';
import { SEARCH_DEFS } from './search-params.js';
import type { FhirStore } from './store.js';

export interface BulkExportOptions extends ExportJobRegistryOptions {
  /** Seconds a client is told to wait between status polls. Default 1. */
  retryAfterSeconds?: number;
}

export interface BulkExportRouterOptions extends BulkExportOptions {
  store: FhirStore;
  logger: Logger;
  authorize: AuthorizeFhirRequest;
  /** True when `authorize` enforces tokens (manifest `requiresAccessToken`). */
  requiresAccessToken: boolean;
  /** Absolute base of this FHIR server for a request. */
  baseOf(req: Request): string;
}

/** The manifest of a completed export (IG §Response - Complete Status). */
export interface ExportManifest {
  transactionTime: string;
  request: string;
  requiresAccessToken: boolean;
  output: Array<{ type: string; url: string; count: number }>;
  error: Array<{ type: string; url: string; count: number }>;
}

const PAGE = 1000;

/** Types of the patient compartment the store holds: Patient, then every type with a `patient` search parameter. */
export function compartmentTypes(store: FhirStore): string[] {
  const held = new Set(store.resourceTypes);
  const withPatient = [...SEARCH_DEFS.values()].filter((d) => d.type !== 'Patient' && d.params.has('patient') && held.has(d.type)).map((d) => d.type);
  return [...(held.has('Patient') ? ['Patient'] : []), ...withPatient];
}

/** Every resource of `type` in one patient's compartment, page by page from the store's index. */
function* compartmentResources(store: FhirStore, type: string, patientId: string): Generator<Resource> {
  if (type === 'Patient') {
    if (store.has('Patient', patientId)) yield store.read('Patient', patientId);
    return;
  }
  for (let offset = 0; ; offset += PAGE) {
    const params = new URLSearchParams({ patient: `Patient/${patientId}`, _count: String(PAGE), _offset: String(offset) });
    const page = store.search(type, params, { baseUrl: 'urn:vigil:bulk-export' });
    const entries = page.entry ?? [];
    for (const e of entries) if (e.resource && e.search?.mode !== 'include') yield e.resource;
    if (entries.length < PAGE) return;
  }
}

/** Active members of a Group that reference a Patient (IG: a group export covers the group's patients). */
export function groupPatientIds(group: Group): string[] {
  const ids: string[] = [];
  for (const m of group.member ?? []) {
    const ref = m.entity?.reference;
    if (m.inactive || typeof ref !== 'string' || !ref.startsWith('Patient/')) continue;
    const id = ref.slice('Patient/'.length);
    if (id && !ids.includes(id)) ids.push(id);
  }
  return ids;
}

function sourceFor(store: FhirStore, request: ExportRequest): ExportSource {
  return {
    patientIds() {
      if (request.level === 'group') {
        const group = store.read('Group', request.groupId!) as Group;
        return groupPatientIds(group).map((id) => (store.has('Patient', id) ? { id } : { id, missing: `Group member Patient/${id} is not on this server` }));
      }
      const all = store.search('Patient', new URLSearchParams({ _count: '0' }), { baseUrl: 'urn:vigil:bulk-export' });
      const ids: string[] = [];
      for (let offset = 0; offset < (all.total ?? 0); offset += PAGE) {
        const page = store.search('Patient', new URLSearchParams({ _count: String(PAGE), _offset: String(offset), _elements: 'id' }), { baseUrl: 'urn:vigil:bulk-export' });
        for (const e of page.entry ?? []) if (e.resource?.id) ids.push(e.resource.id);
      }
      return ids.map((id) => ({ id }));
    },
    resourcesOf: (type, patientId) => compartmentResources(store, type, patientId),
  };
}

/** The OAuth client behind the request's (already verified) token, for binding a job to its requester. */
function requesterOf(req: Request): string | undefined {
  const token = bearerToken(req.get('authorization'));
  if (!token) return undefined;
  try {
    const claims = decodeJwt(token);
    const id = claims.client_id ?? claims.sub;
    return typeof id === 'string' ? id : undefined;
  } catch {
    return undefined;
  }
}

export function exportManifest(job: ExportJob, fileBase: string, requiresAccessToken: boolean): ExportManifest {
  const entry = (f: ExportJob['output'][number]) => ({ type: f.type, url: `${fileBase}/${job.id}/${f.name}`, count: f.lines.length });
  return {
    transactionTime: job.transactionTime,
    request: job.request.requestUrl,
    requiresAccessToken,
    output: job.output.map(entry),
    error: job.errors.map(entry),
  };
}

export function createBulkExportRouter(opts: BulkExportRouterOptions): Router {
  const { store, logger, authorize } = opts;
  const registry = new ExportJobRegistry(opts);
  const retryAfter = String(opts.retryAfterSeconds ?? 1);
  const types = () => compartmentTypes(store);
  const router = Router();

  /** The job of a status/file/delete request, after the same checks as its kick-off (token, scope, owner). */
  const ownJob = async (req: Request): Promise<ExportJob> => {
    const job = registry.get(String(req.params.job));
    if (!job) throw new NotFoundError('No such export job (it may have expired or been deleted)');
    for (const type of job.request.types) await authorize(req, 'search-type', type);
    if (job.owner !== requesterOf(req)) throw new ForbiddenError('This export belongs to another client');
    return job;
  };

  /** Throws what the seam throws when the token can read none of `candidates` (401 before 403). */
  const authorizeAny = async (req: Request, candidates: readonly string[]): Promise<void> => {
    let refusal: unknown;
    for (const type of candidates) {
      try {
        await authorize(req, 'search-type', type);
        return;
      } catch (err) {
        if (!(err instanceof ForbiddenError)) throw err;
        refusal = err;
      }
    }
    throw refusal ?? new ForbiddenError('The token scope covers none of the types to export');
  };

  const kickoff = async (req: Request, res: Response, level: ExportRequest['level']): Promise<void> => {
    const base = opts.baseOf(req);
    // Who is asking comes before what is asked: a caller without a usable token learns nothing about parameters.
    await authorizeAny(req, types());
    const request = parseKickoff({
      level,
      ...(level === 'group' ? { groupId: String(req.params.id) } : {}),
      query: new URL(req.originalUrl, 'http://localhost').searchParams,
      accept: req.get('accept'),
      prefer: req.get('prefer'),
      requestUrl: `${base}${req.originalUrl.slice(req.baseUrl.length)}`,
      compartmentTypes: types(),
    });
    // A named type the token does not cover refuses the request; unnamed types it does not cover are left out.
    const allowed: string[] = [];
    for (const type of request.types) {
      try {
        await authorize(req, 'search-type', type);
        allowed.push(type);
      } catch (err) {
        if (!(err instanceof ForbiddenError) || request.typesExplicit) throw err;
      }
    }
    if (!allowed.length) throw new ForbiddenError('The token scope covers none of the types to export');
    if (level === 'group' && !store.has('Group', request.groupId!)) throw new NotFoundError(`Group/${request.groupId} is not on this server`);
    if (!registry.hasCapacity()) {
      res.setHeader('Retry-After', '10');
      throw new TooManyRequestsError('Too many exports are running; retry later');
    }
    const job = registry.start({ ...request, types: allowed }, requesterOf(req), sourceFor(store, { ...request, types: allowed }));
    logger.info({ exportJob: job.id, level, types: allowed.length }, 'bulk export started');
    res.setHeader('Content-Location', `${base}/$export-status/${job.id}`);
    res.status(202).end();
  };

  router.get('/Patient/$export', (req, res) => kickoff(req, res, 'patient'));
  router.get('/Group/:id/$export', (req, res) => kickoff(req, res, 'group'));

  router.get('/$export-status/:job', async (req, res) => {
    const job = await ownJob(req);
    res.setHeader('Cache-Control', 'no-store');
    if (job.status === 'in-progress') {
      const pct = job.patientsTotal ? Math.floor((100 * job.patientsDone) / job.patientsTotal) : 0;
      res.setHeader('X-Progress', `${pct}% (${job.patientsDone}/${job.patientsTotal} patients)`);
      res.setHeader('Retry-After', retryAfter);
      res.status(202).end();
      return;
    }
    // IG §Response - Error Status: a 5xx with an OperationOutcome (the router's error handler writes it).
    if (job.status === 'failed') throw new VigilError('The export failed; start a new one');
    if (job.expiresAt !== undefined) res.setHeader('Expires', new Date(job.expiresAt).toUTCString());
    res.status(200).json(exportManifest(job, `${opts.baseOf(req)}/$export-file`, opts.requiresAccessToken));
  });

  router.delete('/$export-status/:job', async (req, res) => {
    const job = await ownJob(req);
    registry.cancel(job.id);
    logger.info({ exportJob: job.id }, 'bulk export deleted');
    res.status(202).end();
  });

  router.get('/$export-file/:job/:file', async (req, res) => {
    const job = await ownJob(req);
    const file = [...job.output, ...job.errors].find((f) => f.name === req.params.file);
    if (!file || job.status !== 'completed') throw new NotFoundError('No such file in this export');
    res.setHeader('Cache-Control', 'no-store');
    res.status(200).type('application/fhir+ndjson');
    for (const line of file.lines) {
      if (res.destroyed) return;
      if (!res.write(`${line}\n`)) {
        await new Promise<void>((resolve) => {
          const done = (): void => {
            res.off('drain', done);
            res.off('close', done);
            resolve();
          };
          res.on('drain', done);
          res.on('close', done);
        });
      }
    }
    res.end();
  });

  return router;
}
