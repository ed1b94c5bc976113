/**
 * The CDS Hooks 2.0.1 HTTP surface (https://cds-hooks.hl7.org/2.0/), mounted at /cds-services:
 * - GET  /cds-services                 §Discovery
 * - POST /cds-services/{id}            §Calling a CDS Service
 * - POST /cds-services/{id}/feedback   §Feedback
 * with CORS (§Cross-Origin Resource Sharing) on all of them and JSON error bodies
 * `{ error, message, details: [{ field, message }] }`. Route handlers only wire HTTP to
 * invokeService / parseFeedbackRequest / the feedback store.
 */
import express, { type RequestHandler, type Router } from 'express';
import type { Config } from '../config.js';
import { NotFoundError, UnsupportedMediaTypeError } from '../errors.js';
import type { Logger } from '../logger.js';
import { baseUrlOf } from '../http/base-url.js';
import { jsonErrorHandler } from '../http/error-handler.js';
import type { FhirReaderFactory } from '../fhir/fhir-reader.js';
import type { FeedbackStore } from '../storage/feedback-store.js';
import { cdsCors } from './cors.js';
import { invokeService } from './invoke.js';
import type { CdsService, CdsServiceDefinition } from './types.js';
import { parseFeedbackRequest } from './validation.js';

export interface CdsHooksRouterOptions {
  config: Config;
  logger: Logger;
  services: CdsService[];
  feedbackStore: FeedbackStore;
  fhirReaderFactory?: FhirReaderFactory;
  /**
   * Authenticates the CDS Client (§Trusting CDS Clients: a JWT on every call, discovery included).
   * Runs after CORS, so preflights are never challenged. Should call next(UnauthorizedError) to refuse.
   */
  authenticate?: RequestHandler;
}

const JSON_TYPES = ['application/json', 'application/*+json'];

/** §Discovery response entry: the spec's fields only, optional ones omitted when empty. */
export function discoveryEntry(definition: CdsServiceDefinition): CdsServiceDefinition {
  const entry: CdsServiceDefinition = { hook: definition.hook, id: definition.id, description: definition.description };
  if (definition.title) entry.title = definition.title;
  if (definition.prefetch && Object.keys(definition.prefetch).length) entry.prefetch = { ...definition.prefetch };
  if (definition.usageRequirements) entry.usageRequirements = definition.usageRequirements;
  return entry;
}

function indexServices(services: CdsService[]): Map<string, CdsService> {
  const byId = new Map<string, CdsService>();
  for (const service of services) {
    const { id } = service.definition;
    if (!/^[A-Za-z0-9._~-]+$/.test(id)) throw new Error(`CDS service id "${id}" is not a URL-safe path segment`);
    if (byId.has(id)) throw new Error(`Two CDS services share the id "${id}"`);
    byId.set(id, service);
  }
  return byId;
}

const requireJsonBody: RequestHandler = (req, _res, next) => {
  if (!req.is(JSON_TYPES)) {
    next(new UnsupportedMediaTypeError('Request body must be JSON (Content-Type: application/json)'));
    return;
  }
  next();
};

export function createCdsHooksRouter(opts: CdsHooksRouterOptions): Router {
  const { config, logger, feedbackStore } = opts;
  const services = indexServices(opts.services);
  const router = express.Router();
  const parseJson = express.json({ limit: config.bodyLimit, type: JSON_TYPES });

  router.use(cdsCors());
  if (opts.authenticate) router.use(opts.authenticate);

  const findService: RequestHandler = (req, res, next) => {
    const service = services.get(String(req.params.id));
    if (!service) {
      next(new NotFoundError('No CDS service with this id'));
      return;
    }
    res.locals.cdsService = service;
    next();
  };

  router.get('/', (_req, res) => {
    res.json({ services: [...services.values()].map((s) => discoveryEntry(s.definition)) });
  });

  router.post('/:id', findService, requireJsonBody, parseJson, async (req, res) => {
    const service = res.locals.cdsService as CdsService;
    const response = await invokeService(service, req.body, {
      config,
      // The request id on every line the call logs, so they join its access-log line (src/http/request-context.ts).
      logger: req.id ? logger.child({ reqId: req.id }) : logger,
      baseUrl: baseUrlOf(req, config.publicBaseUrl),
      ...(opts.fhirReaderFactory ? { fhirReaderFactory: opts.fhirReaderFactory } : {}),
    });
    res.json(response);
  });

  router.post('/:id/feedback', findService, requireJsonBody, parseJson, async (req, res) => {
    const service = res.locals.cdsService as CdsService;
    const { feedback } = parseFeedbackRequest(req.body);
    await feedbackStore.add(service.definition.id, feedback, { receivedAt: new Date().toISOString() });
    logger.info({ serviceId: service.definition.id, entries: feedback.length }, 'feedback stored');
    res.json({});
  });

  router.use((req, _res, next) => next(new NotFoundError(`No route for ${req.method} ${req.baseUrl}${req.path}`)));
  router.use(jsonErrorHandler(logger));
  return router;
}
