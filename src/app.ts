/**
 * Builds the Vigil application (CDS service + optional sandbox EHR) without listening, so tests
 * and src/server.ts start it the same way.
 */
import express, { type Express, type RequestHandler } from 'express';
import type { Config } from './config.js';
import { createLogger, type Logger } from './logger.js';
import { requestContext } from './http/request-context.js';
import { jsonErrorHandler } from './http/error-handler.js';
import { NotFoundError } from './errors.js';
import { createCdsHooksRouter, discoveryEntry } from './cds-hooks/router.js';
import { createServices } from './cds-hooks/services/index.js';
import { CdsClientRegistry, loadCdsClients } from './cds-hooks/clients.js';
import { openFeedbackStore } from './storage/feedback-store.js';
import { createSandbox } from './sandbox/index.js';
import type { FhirStore } from './sandbox/fhir/store.js';
import { cdsClientAuthentication, createCdsClientVerifier } from './smart/cds-client-auth.js';
import { RemoteJwksCache } from './smart/jwks-cache.js';
import { openSecurityDatabase, SqliteReplayCache } from './storage/replay-cache-sqlite.js';
import { createAuditStore } from './storage/audit-store.js';
import { auditCdsHookCalls } from './smart/audit.js';
import { createAdminAuditRouter } from './smart/admin-audit.js';
import { createExplanationApp, explanationAppClient, type SessionStore } from './smart/app-launch/index.js';

export interface Vigil {
  app: Express;
  logger: Logger;
  /** The sandbox EHR's in-process FHIR store (SANDBOX=on): where the HL7 interface writes by default. */
  sandboxStore?: FhirStore;
  close(): Promise<void>;
}

export interface VigilOptions {
  logger?: Logger;
  /** Sessions of the explanation view (/app). Default: in memory. */
  appSessions?: SessionStore;
  /** Folder of the built explanation view. Default <repo>/dist/web. */
  webDir?: string;
}

export async function createVigil(config: Config, options: VigilOptions = {}): Promise<Vigil> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback');
  app.use(requestContext(logger));

  const closers: Array<() => Promise<void> | void> = [];

  const feedbackStore = openFeedbackStore(config.dataDir);
  closers.push(() => feedbackStore.close());

  const services = createServices();
  // Trusted CDS clients (§Trusting CDS Clients): CDS_CLIENTS_FILE plus, when enabled, the sandbox EHR.
  const cdsClients = new CdsClientRegistry(config.cdsClientsFile ? loadCdsClients(config.cdsClientsFile) : []);
  // Replayed jti are refused across restarts: the cache lives in DATA_DIR/security.sqlite.
  const securityDb = openSecurityDatabase(config.dataDir);
  closers.push(() => {
    securityDb.close();
  });
  const auditStore = createAuditStore(securityDb);
  const clientAuth = cdsClientAuthentication({
    verifier: createCdsClientVerifier({
      clients: cdsClients,
      remoteJwks: new RemoteJwksCache({ cooldownSeconds: config.jwksCooldownSeconds, maxAgeSeconds: config.jwksMaxAgeSeconds }),
      replayCache: new SqliteReplayCache(securityDb),
      algorithms: config.cdsJwtAlgorithms,
      clockSkewSeconds: config.cdsJwtClockSkewSeconds,
      maxAgeSeconds: config.cdsJwtMaxAgeSeconds,
    }),
    publicBaseUrl: config.publicBaseUrl,
    logger,
  });
  // Authenticate, then audit the hook call (one AuditEvent per patient-data access) once it is answered.
  const auditHooks = auditCdsHookCalls({ sink: auditStore, logger });
  const authenticate: RequestHandler = (req, res, next) =>
    clientAuth(req, res, (err?: unknown) => (err ? next(err) : auditHooks(req, res, next)));
  if (config.adminToken) app.use('/admin', createAdminAuditRouter({ adminToken: config.adminToken, store: auditStore }));
  app.use('/cds-services', createCdsHooksRouter({ config, logger, services, feedbackStore, authenticate }));

  // The explanation view: SMART App Launch client + its token-holding API + the built page (docs/explanation-view.md).
  const explanationApp = createExplanationApp({
    config,
    logger,
    feedbackStore,
    ...(options.appSessions ? { sessions: options.appSessions } : {}),
    ...(options.webDir ? { webDir: options.webDir } : {}),
  });
  app.use('/app', explanationApp.router);

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
    sandboxStore = sandbox.store;
    closers.push(() => sandbox.close());
    app.get('/', (_req, res) => res.redirect('/sandbox'));
    logger.info({ patients: sandbox.patientCount }, 'sandbox EHR mounted at /sandbox');
  }

  app.use((req, _res, next) => next(new NotFoundError(`No route for ${req.method} ${req.path}`)));
  app.use(jsonErrorHandler(logger));

  return {
    app,
    logger,
    ...(sandboxStore ? { sandboxStore } : {}),
    async close() {
      for (const close of closers.reverse()) await close();
    },
  };
}
