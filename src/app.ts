/**
 * Builds the Vigil application (CDS service + optional sandbox EHR) without listening, so tests
 * and src/server.ts start it the same way.
 */
import express, { type Express, type RequestHandler } from 'express';
import type { Config } from './config.js';
import { createLogger, type Logger } from './logger.js';
import { requestContext } from './http/request-context.js';
import { baseUrlOf } from './http/base-url.js';
import { jsonErrorHandler } from './http/error-handler.js';
import { NotFoundError } from './errors.js';
import { createCdsHooksRouter, discoveryEntry } from './cds-hooks/router.js';
import { createServices } from './cds-hooks/services/index.js';
import { openModelRegistry, type ModelRegistry } from './models/index.js';
import { modelProviderFrom } from './explanations/model-provider.js';
import { createExplanationsRouter } from './explanations/router.js';
import { ExplanationEngine } from './explanations/engine.js';
import { startExplanationRetention } from './explanations/retention.js';
import { ExplanationCache } from './explain/index.js';
import { ExplainThread, PrecomputeWorker, fhirReaderSource, fhirStoreSource, watchStoreForEcgs, type FhirSource } from './precompute/index.js';
import { httpWriter } from './hl7/http-writer.js';
import { storeWriter } from './hl7/store-writer.js';
import { ehrTokenVerifierFromConfig, firstRecognising, sandboxTokenVerifier, type TokenVerifier } from './smart/token-verifier/index.js';
import { CdsClientRegistry, loadCdsClients } from './cds-hooks/clients.js';
import { openStores } from './storage/open-stores.js';
import type { PgPool } from './storage/postgres.js';
import { createSandbox } from './sandbox/index.js';
import type { FhirStore } from './sandbox/fhir/store.js';
import { cdsClientAuthentication, createCdsClientVerifier } from './smart/cds-client-auth.js';
import { RemoteJwksCache } from './smart/jwks-cache.js';
import { auditCdsHookCalls } from './smart/audit.js';
import { createAdminAuditRouter } from './smart/admin-audit.js';
import { createExplanationApp, explanationAppClient, type SessionStore } from './smart/app-launch/index.js';
import { VigilMetrics, installMetrics } from './observability/metrics.js';
import { httpMetrics, metricsEndpoint } from './observability/http-metrics.js';
import { Readiness, modelRegistryCheck, readinessEndpoint, shippedModelIds, storeReachableCheck } from './observability/readiness.js';
import { instrumentFhirReaderFactory } from './observability/fhir-metrics.js';
import { createFhirReader } from './fhir/fhir-reader.js';
import { TokenBucketLimiter, rateLimit } from './http/rate-limit.js';
import { backendName } from './models/backend/index.js';

export interface Vigil {
  app: Express;
  logger: Logger;
  /** The sandbox EHR's in-process FHIR store (SANDBOX=on): where the HL7 interface writes by default. */
  sandboxStore?: FhirStore;
  /** Prometheus metrics served at /metrics; other modules report through it (or currentMetrics()). */
  metrics: VigilMetrics;
  /** Checks behind /readyz; components started outside createVigil (HL7, models) register theirs here. */
  readiness: Readiness;
  /** src/explain behind the explanation cache, shared by the model services and the precompute worker. */
  explanationEngine: ExplanationEngine;
  /** Ahead-of-time scoring (PRECOMPUTE=on with a FHIR store): tell it when a patient's data changed. */
  precompute?: PrecomputeWorker;
  /** The explanation thread (EXPLAIN_THREAD ≠ off): its stats show what ran off the event loop. */
  explainThread?: ExplainThread;
  close(): Promise<void>;
}

export interface VigilOptions {
  logger?: Logger;
  /** Sessions of the explanation view (/app). Default: the stores' (PostgreSQL with SESSION_KEYS, else in memory). */
  appSessions?: SessionStore;
  /** Folder of the built explanation view. Default <repo>/dist/web. */
  webDir?: string;
  /** Metrics registry to use; default a new one with process metrics. */
  metrics?: VigilMetrics;
  /** The model registry (loading or loaded). Default: openModelRegistry(config) started in the background. */
  modelRegistry?: Promise<ModelRegistry>;
  /** PostgreSQL pool for shared state instead of one on DATABASE_URL (tests: a schema per suite); the caller ends it. */
  pgPool?: PgPool;
}

export async function createVigil(config: Config, options: VigilOptions = {}): Promise<Vigil> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', config.trustProxy);
  app.use(requestContext(logger));

  const closers: Array<() => Promise<void> | void> = [];

  // Observability first, so every later route is measured.
  const metrics = options.metrics ?? new VigilMetrics();
  installMetrics(metrics);
  metrics.setBackendSource(backendName);
  closers.push(() => installMetrics(undefined));
  const readiness = new Readiness({ metrics });
  app.use(httpMetrics(metrics));
  app.get('/metrics', metricsEndpoint(metrics));
  app.get('/readyz', readinessEndpoint(readiness));
  // Rate limits guard the CDS Hooks surface (the one EHRs and the internet can reach); the sandbox is a
  // development tool and calls itself over loopback, so it is not limited.
  const limitClients = config.rateLimitRps > 0
    ? rateLimit({ limiter: new TokenBucketLimiter({ ratePerSecond: config.rateLimitRps, burst: config.rateLimitBurst }), metrics })
    : undefined;

  // Feedback, audit, jti replay cache, explanation records: PostgreSQL with DATABASE_URL (shared by
  // replicas), else SQLite in DATA_DIR — chosen in src/storage/open-stores.ts.
  const stores = await openStores(config, { logger, ...(options.pgPool ? { pgPool: options.pgPool } : {}) });
  closers.push(() => stores.close());
  for (const [name, probe] of Object.entries(stores.probes)) readiness.register(name, storeReachableCheck(probe));
  const { feedback: feedbackStore, audit: auditStore, explanations: explanationStore } = stores;
  metrics.setAuditPendingSource(() => auditStore.pending);
  // EXPLANATION_RETENTION_DAYS: old records purged now and hourly (src/explanations/retention.ts).
  const retention = startExplanationRetention({
    store: explanationStore,
    retentionDays: config.explanationRetentionDays,
    onPurged: (n) => metrics.countExplanationsPurged(n),
    logger,
  });
  if (retention) closers.push(() => retention.stop());

  // Models load in the background: start-up does not wait for them, and until they are loaded (or if
  // they fail to) the model services answer a "model unavailable" card (src/explanations/model-provider.ts).
  const modelRegistry: Promise<ModelRegistry> = options.modelRegistry ?? openModelRegistry(config, logger);
  modelRegistry.catch((err: unknown) => logger.error({ errName: err instanceof Error ? err.name : typeof err, errMessage: err instanceof Error ? err.message : String(err) }, 'models could not be loaded'));
  readiness.register('models', modelRegistryCheck(modelRegistry, shippedModelIds(config.modelsDir)));
  closers.push(async () => {
    const registry = await modelRegistry.catch(() => undefined);
    await registry?.close();
  });
  // One explanation engine (src/explain behind an exact-data-version cache) shared by the model services
  // and the precompute worker, so what is explained ahead of time is what the hook can serve.
  const models = modelProviderFrom(modelRegistry);
  // EXPLAIN_THREAD: a worker thread with its own tfjs engine (started on first use) for the precompute
  // worker's explanations, and with "all" for the hooks' cache misses too.
  const explainThread = config.explainThread === 'off' ? undefined : new ExplainThread({ backend: () => backendName() ?? config.backend, modelsDir: config.modelsDir, maxBatch: config.modelMaxBatch, wasmFastKernels: config.wasmFastKernels });
  if (explainThread) closers.push(() => explainThread.close());
  const explanationEngine = new ExplanationEngine({
    cache: new ExplanationCache({ maxEntries: config.explanationCacheSize }),
    // A stored record past retention is never linked again (src/explanations/issued.ts).
    issuedRetentionDays: config.explanationRetentionDays,
    ...(config.explainThread === 'all' && explainThread ? { executor: explainThread } : {}),
  });
  const services = createServices({ models, explanations: explanationStore, engine: explanationEngine });
  // Trusted CDS clients (§Trusting CDS Clients): CDS_CLIENTS_FILE plus, when enabled, the sandbox EHR.
  const cdsClients = new CdsClientRegistry(config.cdsClientsFile ? loadCdsClients(config.cdsClientsFile) : []);
  const clientAuth = cdsClientAuthentication({
    verifier: createCdsClientVerifier({
      clients: cdsClients,
      remoteJwks: new RemoteJwksCache({ cooldownSeconds: config.jwksCooldownSeconds, maxAgeSeconds: config.jwksMaxAgeSeconds }),
      // Replayed jti are refused across restarts and, on PostgreSQL, across replicas.
      replayCache: stores.replayCache,
      algorithms: config.cdsJwtAlgorithms,
      clockSkewSeconds: config.cdsJwtClockSkewSeconds,
      maxAgeSeconds: config.cdsJwtMaxAgeSeconds,
    }),
    publicBaseUrl: config.publicBaseUrl,
    logger,
  });
  // Authenticate, then audit the hook call (one AuditEvent per patient-data access) once it is answered.
  const auditHooks = auditCdsHookCalls({ sink: auditStore, logger });
  const afterAuth: RequestHandler = (req, res, next) =>
    limitClients ? limitClients(req, res, (err?: unknown) => (err ? next(err) : auditHooks(req, res, next))) : auditHooks(req, res, next);
  // A refused caller still spends from its IP's budget, so bad-JWT floods are throttled too.
  const authenticate: RequestHandler = (req, res, next) =>
    clientAuth(req, res, (err?: unknown) =>
      err ? (limitClients ? limitClients(req, res, (limited?: unknown) => next(limited ?? err)) : next(err)) : afterAuth(req, res, next));
  if (config.adminToken) app.use('/admin', createAdminAuditRouter({ adminToken: config.adminToken, store: auditStore, feedback: feedbackStore }));
  const fhirReaderFactory = instrumentFhirReaderFactory(createFhirReader, metrics);
  app.use('/cds-services', createCdsHooksRouter({ config, logger, services, feedbackStore, authenticate, fhirReaderFactory }));

  // The explanation view: SMART App Launch client + its token-holding API + the built page (docs/explanation-view.md).
  const explanationApp = createExplanationApp({
    config,
    logger,
    feedbackStore,
    sessions: options.appSessions ?? stores.appSessions,
    ...(options.webDir ? { webDir: options.webDir } : {}),
  });
  app.use('/app', explanationApp.router);

  // GET /explanations/{id} (SMART token, patient must match, audited) and GET /models/{id}/card (public).
  // Access tokens: the sandbox authorization server's (added below when SANDBOX=on), then the trusted EHRs'
  // (SMART_ALLOWED_ISSUERS; JWKS or introspection). The first that recognises the token's issuer decides.
  const tokenVerifiers: TokenVerifier[] = [];
  const ehrVerifier = await ehrTokenVerifierFromConfig(config, { logger });
  if (ehrVerifier) tokenVerifiers.push(ehrVerifier);
  app.use(
    createExplanationsRouter({
      store: explanationStore,
      verify: firstRecognising(tokenVerifiers, logger),
      audit: auditStore,
      logger,
      modelsDir: config.modelsDir,
      models,
    }),
  );

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  let sandboxStore: FhirStore | undefined;
  if (config.sandbox) {
    // In process rather than GET /cds-services over loopback: the same list, no client JWT needed.
    const sandbox = await createSandbox({
      config,
      logger,
      services: () => services.map((s) => discoveryEntry(s.definition)),
      clients: cdsClients,
    });
    app.use('/sandbox', sandbox.router);
    sandbox.auth.registerClient(explanationAppClient(config.smartClientId));
    tokenVerifiers.unshift(sandboxTokenVerifier({ verify: (token, o) => sandbox.auth.verifyAccessToken(token, o), baseUrlOf: (req) => baseUrlOf(req, config.publicBaseUrl) }));
    sandboxStore = sandbox.store;
    closers.push(() => sandbox.close());
    // Reaching this line means the sandbox's patients are loaded; the check documents it in /readyz.
    readiness.register('sandbox', () => undefined);
    app.get('/', (_req, res) => res.redirect('/sandbox'));
    logger.info({ patients: sandbox.patientCount }, 'sandbox EHR mounted at /sandbox');
  }

  // Ahead of time: read from where HL7 writes (FHIR_STORE_URL, else the sandbox store).
  let precompute: PrecomputeWorker | undefined;
  if (config.precompute) {
    let source: FhirSource | undefined;
    if (config.fhirStoreUrl) {
      const token = config.fhirStoreToken;
      const auth = token ? { access_token: token, token_type: 'Bearer', expires_in: 3600, scope: 'system/*.rs', subject: 'vigil-precompute' } : undefined;
      source = fhirReaderSource(createFhirReader(config.fhirStoreUrl, auth, { timeoutMs: config.prefetchTimeoutMs }), config.fhirStoreUrl);
    } else if (sandboxStore) {
      source = fhirStoreSource(sandboxStore);
    }
    if (source) {
      // AF on a filed ECG becomes a RiskAssessment where HL7 writes (src/precompute/ecg.ts).
      const token = config.fhirStoreToken;
      const writer = config.fhirStoreUrl
        ? httpWriter({ baseUrl: config.fhirStoreUrl, ...(token ? { token: () => token } : {}), timeoutMs: config.prefetchTimeoutMs })
        : sandboxStore && storeWriter(sandboxStore);
      // Its explanations run on the explanation thread (EXPLAIN_THREAD) so they never stall hook calls.
      const worker = new PrecomputeWorker({ models, engine: explanationEngine, source, logger, pollIntervalMs: config.precomputePollSeconds * 1000, ecg: writer ? { writer } : {}, ...(explainThread ? { executor: explainThread } : {}) });
      closers.push(() => worker.close());
      // An ECG filed in the sandbox store is classified ahead of time (the store is the source only without FHIR_STORE_URL).
      if (sandboxStore && !config.fhirStoreUrl) closers.push(watchStoreForEcgs(sandboxStore, (patientId, observation) => worker.notifyObservation(patientId, observation)));
      precompute = worker;
    }
  }

  app.use((req, _res, next) => next(new NotFoundError(`No route for ${req.method} ${req.path}`)));
  app.use(jsonErrorHandler(logger));

  return {
    app,
    logger,
    ...(sandboxStore ? { sandboxStore } : {}),
    metrics,
    readiness,
    explanationEngine,
    ...(precompute ? { precompute } : {}),
    ...(explainThread ? { explainThread } : {}),
    async close() {
      for (const close of closers.reverse()) await close();
    },
  };
}
