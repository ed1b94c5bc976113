/**
 * The sandbox EHR's server-side JSON API used by its page. Handlers only translate HTTP to the pure
 * builders in hook-request.ts; everything the page needs to call the CDS service the way a
 * browser-based EHR would comes back from POST /hook-request.
 */
import express, { type Request, type Router } from 'express';
import type { Config } from '../../config.js';
import type { Bundle } from 'fhir/r4';
import { isVigilError, NotFoundError } from '../../errors.js';
import { baseUrlOf } from '../../http/base-url.js';
import type { SandboxClientIdentity } from './client-identity.js';
import { listDraftOrderChoices } from './draft-orders.js';
import { OBSERVATION_CREATE_HOOK } from '../../cds-hooks/services/ecg-rhythm/filed.js';
import { fileEcg, parseFileEcgInput, riskAssessmentsOf, shippedTracings, type EcgStore } from './ecg-filing.js';
import {
  buildFeedbackCall,
  buildHookCall,
  parseHookRequestInput,
  sandboxUrls,
  SANDBOX_HOOKS,
  SANDBOX_USER_ID,
  signHookCall,
  type FhirResourceSource,
  type PrefetchTemplateFiller,
} from './hook-request.js';
import type { ServiceCatalog } from './service-catalog.js';
import type { SandboxPatientSummary } from '../patients.js';

/** What the page shows per patient: the loader's summary. */
export type PatientSummary = SandboxPatientSummary;

export interface SandboxApiDeps {
  config: Pick<Config, 'publicBaseUrl' | 'bodyLimit'>;
  identity: SandboxClientIdentity;
  source: FhirResourceSource;
  fill: PrefetchTemplateFiller;
  catalog: ServiceCatalog;
  patients: () => readonly PatientSummary[];
  /** The EHR's own FHIR store, for filing new ECGs and listing RiskAssessments; without it those routes answer 404. */
  store?: EcgStore;
  /** Called with the public base URL before signing for it, so the CDS service can be told to trust that issuer. */
  trust?: (baseUrl: string) => void;
  now?: () => Date;
}

/** This server as seen from itself, for loopback calls that must not depend on proxies or PUBLIC_BASE_URL. */
export function localOriginOf(req: Request): string {
  const addr = req.socket.localAddress ?? '127.0.0.1';
  const port = req.socket.localPort;
  const unspecified = addr === '::' || addr === '0.0.0.0';
  const host = unspecified ? '127.0.0.1' : addr.includes(':') ? `[${addr}]` : addr;
  return `http://${host}:${port}`;
}

/**
 * The encounter a clinician opening this chart would be in: the patient's most recently started
 * in-progress Encounter, if any. Hook contexts carry it as the OPTIONAL encounterId.
 */
export async function currentEncounterId(source: FhirResourceSource, patientId: string): Promise<string | undefined> {
  try {
    const found = await source.get(`Encounter?patient=${encodeURIComponent(patientId)}&status=in-progress&_sort=-date&_count=1`, {
      baseUrl: 'urn:sandbox',
    });
    const first = found.resourceType === 'Bundle' ? (found as Bundle).entry?.[0]?.resource : undefined;
    return first?.resourceType === 'Encounter' ? first.id : undefined;
  } catch (err) {
    if (isVigilError(err)) return undefined; // no Encounter support or bad search: the context just omits it
    throw err;
  }
}

export function createSandboxApiRouter(deps: SandboxApiDeps): Router {
  const router = express.Router();
  router.use(express.json({ limit: deps.config.bodyLimit }));
  const now = deps.now ?? (() => new Date());

  router.get('/patients', (_req, res) => {
    res.json({ patients: deps.patients() });
  });

  router.get('/services', async (req, res) => {
    const services = await deps.catalog(localOriginOf(req));
    res.json({ services: services.filter((s) => (SANDBOX_HOOKS as readonly string[]).includes(s.hook)) });
  });

  router.get('/draft-orders', (_req, res) => {
    res.json({ draftOrders: listDraftOrderChoices() });
  });

  router.post('/hook-request', async (req, res) => {
    const parsed = parseHookRequestInput(req.body);
    const services = await deps.catalog(localOriginOf(req));
    const service = services.find((s) => s.id === parsed.serviceId);
    if (!service) throw new NotFoundError(`No CDS service "${parsed.serviceId}"`, [{ field: 'serviceId', message: 'not in discovery' }]);
    // The patient must exist on our FHIR server; a real EHR cannot open a chart that is not there.
    await deps.source.get(`Patient/${parsed.patientId}`, { baseUrl: 'urn:sandbox' });
    const encounterId = parsed.encounterId ?? (await currentEncounterId(deps.source, parsed.patientId));
    const input = encounterId ? { ...parsed, encounterId } : parsed;
    const baseUrl = baseUrlOf(req, deps.config.publicBaseUrl);
    deps.trust?.(baseUrl);
    const call = await buildHookCall(input, { baseUrl, service }, {
      identity: deps.identity,
      source: deps.source,
      fill: deps.fill,
      now: now(),
    });
    res.setHeader('Cache-Control', 'no-store');
    res.json(call);
  });

  router.get('/ecg-tracings', (_req, res) => {
    res.json({ tracings: deps.store ? shippedTracings(deps.store) : [] });
  });

  router.get('/patients/:id/risk-assessments', (req, res) => {
    if (!deps.store) throw new NotFoundError('This sandbox has no FHIR store');
    res.setHeader('Cache-Control', 'no-store');
    res.json({ riskAssessments: riskAssessmentsOf(deps.store, String(req.params.id)) });
  });

  // Files a copy of a shipped ECG as a new Observation, then returns the signed filed-ECG hook call
  // (docs/services/ecg-rhythm.md §Filed-ECG hook) for the page to post, as for /hook-request.
  router.post('/ecg-filing', async (req, res) => {
    const store = deps.store;
    if (!store) throw new NotFoundError('This sandbox has no FHIR store');
    const input = parseFileEcgInput(req.body);
    await deps.source.get(`Patient/${input.patientId}`, { baseUrl: 'urn:sandbox' });
    const encounterId = await currentEncounterId(deps.source, input.patientId);
    const observation = fileEcg(store, { ...input, ...(encounterId ? { encounterId } : {}), now: now() });
    const services = await deps.catalog(localOriginOf(req));
    const service = services.find((s) => s.hook === OBSERVATION_CREATE_HOOK);
    const baseUrl = baseUrlOf(req, deps.config.publicBaseUrl);
    let call;
    if (service) {
      deps.trust?.(baseUrl);
      const context = {
        userId: SANDBOX_USER_ID,
        patientId: input.patientId,
        ...(encounterId ? { encounterId } : {}),
        observations: { resourceType: 'Bundle', type: 'collection', entry: [{ fullUrl: `${sandboxUrls(baseUrl).fhirServer}/Observation/${observation.id}`, resource: observation }] },
      };
      call = await signHookCall({ context, patientId: input.patientId, prefetch: 'fill' }, { baseUrl, service }, { identity: deps.identity, source: deps.source, fill: deps.fill, now: now() });
    }
    res.setHeader('Cache-Control', 'no-store');
    res.status(201).json({ observation: { id: observation.id, reference: `Observation/${observation.id}` }, ...(call ? { call } : {}) });
  });

  router.post('/feedback-request', async (req, res) => {
    const baseUrl = baseUrlOf(req, deps.config.publicBaseUrl);
    deps.trust?.(baseUrl);
    const call = await buildFeedbackCall(req.body, baseUrl, { identity: deps.identity, now: now() });
    res.setHeader('Cache-Control', 'no-store');
    res.json(call);
  });

  return router;
}
