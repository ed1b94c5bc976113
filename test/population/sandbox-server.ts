/**
 * A sandbox EHR for population tests, on a real port: the shipped patients and groups in a FhirStore,
 * the sandbox SMART authorization server (/sandbox/auth, with the demo Backend Services client), token
 * enforcement, and the FHIR router with Bulk Data export — assembled as src/sandbox/index.ts does, but
 * with the export's pacing and limits injectable so a job can be held "in progress".
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type RequestHandler } from 'express';
import { createLogger } from '../../src/logger.js';
import type { BulkExportOptions } from '../../src/sandbox/fhir/bulk-export.js';
import { createFhirRouter } from '../../src/sandbox/fhir/router.js';
import { FhirStore } from '../../src/sandbox/fhir/store.js';
import { sandboxGroups } from '../../src/sandbox/groups.js';
import { keepSupported } from '../../src/sandbox/index.js';
import { loadSandboxData, readSandboxIndex } from '../../src/sandbox/patients.js';
import { createSandboxSecurity } from '../../src/smart/sandbox-auth/index.js';
import type { SandboxAuthServer } from '../../src/smart/sandbox-auth/server.js';

export interface TestSandbox {
  origin: string;
  fhirBase: string;
  store: FhirStore;
  auth: SandboxAuthServer;
  /** The instant the shipped data were shifted to. */
  loadedAt: Date;
  /** A token straight from the authorization server (no client assertion), e.g. a patient-scoped one. */
  token(grant: { scope: string; patient?: string; clientId?: string }): Promise<string>;
  close(): Promise<void>;
}

export interface TestSandboxOptions {
  bulkExport?: BulkExportOptions;
  validate?: boolean;
  /** Runs before the FHIR router (e.g. to slow writes down so a client can be killed mid-run). */
  beforeFhir?: RequestHandler;
}

export async function startTestSandbox(options: TestSandboxOptions = {}): Promise<TestSandbox> {
  const logger = createLogger('silent');
  const loadedAt = new Date();
  const store = new FhirStore();
  const { bundles, patients } = loadSandboxData(undefined, loadedAt);
  const skipped = new Map<string, number>();
  for (const bundle of bundles) store.loadBundle(keepSupported(bundle, new Set(store.resourceTypes), skipped));
  for (const group of sandboxGroups(readSandboxIndex())) store.update(group);
  const security = await createSandboxSecurity({
    config: { publicBaseUrl: undefined, sandboxFhirAuth: true },
    logger,
    patients: () => patients,
    users: [{ reference: 'Practitioner/sandbox-clinician', name: 'Dr Test' }],
  });
  const app = express();
  app.get('/sandbox/fhir/.well-known/smart-configuration', security.smartConfiguration);
  if (options.beforeFhir) app.use('/sandbox/fhir', options.beforeFhir);
  app.use(
    '/sandbox/fhir',
    createFhirRouter({ store, logger, validate: options.validate ?? true, authorize: security.authorizeFhir!, ...(options.bulkExport ? { bulkExport: options.bulkExport } : {}) }),
  );
  app.use('/sandbox/auth', security.auth.router);
  const server: Server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    fhirBase: `${origin}/sandbox/fhir`,
    store,
    auth: security.auth,
    loadedAt,
    async token({ scope, patient, clientId }) {
      const { token } = await security.auth.issueAccessToken({ clientId: clientId ?? 'test-client', scope, ...(patient ? { patient } : {}) }, { baseUrl: origin, lifetimeSeconds: 600 });
      return token;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
