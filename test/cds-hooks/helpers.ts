/**
 * Test helpers: a tiny FHIR server fake on an ephemeral localhost port, a silent logger, a test config,
 * request bodies per hook, a created Vigil put on an ephemeral port, and the patient of a shipped sandbox
 * Observation.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { randomUUID } from 'node:crypto';
import express from 'express';
import type { Bundle, Observation } from 'fhir/r4';
import { loadConfig, type Config } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import type { Vigil } from '../../src/app.js';

export const silentLogger = createLogger('silent');

export function testConfig(overrides: Partial<Config> = {}): Config {
  return { ...loadConfig({}), dataDir: ':memory:', ...overrides };
}

export interface FakeRoute {
  status?: number;
  /** JSON body; a string is sent raw with `contentType`. */
  body?: unknown;
  contentType?: string;
  delayMs?: number;
}

export interface RecordedRequest {
  url: string;
  authorization: string | undefined;
  accept: string | undefined;
}

export interface FakeFhirServer {
  baseUrl: string;
  requests: RecordedRequest[];
  /** Routes keyed by path+query relative to the base, e.g. "Patient/p1". Unknown → 404 OperationOutcome. */
  routes: Map<string, FakeRoute>;
  readonly maxInFlight: number;
  close(): Promise<void>;
}

export async function startFakeFhir(routes: Record<string, FakeRoute> = {}): Promise<FakeFhirServer> {
  const app = express();
  const fake = { requests: [] as RecordedRequest[], routes: new Map(Object.entries(routes)), inFlight: 0, maxInFlight: 0 };
  // Delayed answers still due when the server closes: cleared by close(), or a 5 s "slow" route keeps the
  // jest worker alive after its last test ("A worker process has failed to exit gracefully").
  const delayed = new Set<NodeJS.Timeout>();
  app.use('/fhir', (req, res) => {
    const rel = req.url.replace(/^\//, '');
    fake.requests.push({ url: rel, authorization: req.get('authorization'), accept: req.get('accept') });
    const route = fake.routes.get(rel);
    fake.inFlight += 1;
    fake.maxInFlight = Math.max(fake.maxInFlight, fake.inFlight);
    const send = () => {
      fake.inFlight -= 1;
      if (!route) {
        res.status(404).type('application/fhir+json').send(
          JSON.stringify({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'not-found' }] }),
        );
        return;
      }
      res.status(route.status ?? 200);
      if (typeof route.body === 'string') res.type(route.contentType ?? 'text/plain').send(route.body);
      else res.type('application/fhir+json').send(JSON.stringify(route.body ?? {}));
    };
    if (route?.delayMs) {
      const timer = setTimeout(() => {
        delayed.delete(timer);
        send();
      }, route.delayMs);
      delayed.add(timer);
    } else send();
  });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  return {
    requests: fake.requests,
    routes: fake.routes,
    /** Most requests seen in progress at once — proves parallel reads without timing assertions. */
    get maxInFlight() {
      return fake.maxInFlight;
    },
    baseUrl: `http://127.0.0.1:${port}/fhir`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const timer of delayed) clearTimeout(timer);
        delayed.clear();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function draftOrders(...refs: string[]): Bundle {
  return {
    resourceType: 'Bundle',
    type: 'collection',
    entry: refs.map((ref) => {
      const [resourceType, id] = ref.split('/') as [string, string];
      return { resource: { resourceType, id, status: 'draft', intent: 'proposal', subject: { reference: 'Patient/p1' } } as never };
    }),
  };
}

/** A valid request body for each supported hook. */
export function hookBody(hook: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const base = { userId: 'Practitioner/u1', patientId: 'p1' };
  const contexts: Record<string, Record<string, unknown>> = {
    'patient-view': { ...base, encounterId: 'e1' },
    'order-select': {
      ...base,
      selections: ['MedicationRequest/m1'],
      draftOrders: draftOrders('MedicationRequest/m1', 'ServiceRequest/s1'),
    },
    'order-sign': { ...base, draftOrders: draftOrders('MedicationRequest/m1') },
    'encounter-start': { ...base, encounterId: 'e1' },
    'encounter-discharge': { ...base, encounterId: 'e1' },
    'appointment-book': {
      ...base,
      appointments: { resourceType: 'Bundle', type: 'collection', entry: [{ resource: { resourceType: 'Appointment', id: 'a1', status: 'proposed', participant: [] } }] },
    },
  };
  return { hook, hookInstance: randomUUID(), context: contexts[hook] ?? base, ...extra };
}

/** A Vigil listening on 127.0.0.1; `close` drops open keep-alive sockets, stops the server, then Vigil. */
export interface ListeningVigil {
  server: Server;
  origin: string;
  close(): Promise<void>;
}

/** Puts an already created Vigil on an ephemeral localhost port (the caller picks config and models). */
export async function listenVigil(vigil: Vigil): Promise<ListeningVigil> {
  const server = await new Promise<Server>((resolve) => {
    const s = vigil.app.listen(0, '127.0.0.1', () => resolve(s));
  });
  return {
    server,
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await vigil.close();
    },
  };
}

/** The parsed JSON body of a 2xx response; anything else fails with the status and the body. */
export async function okJson<T>(res: Response): Promise<T> {
  const text = await res.text();
  if (!res.ok) throw new Error(`${res.status} ${text}`);
  return JSON.parse(text) as T;
}

/** The patient id a shipped sandbox Observation (e.g. an ECG tracing) is filed under. */
export function shippedPatientOf(vigil: Vigil, observationId: string): string {
  return (vigil.sandboxStore!.read('Observation', observationId) as Observation).subject!.reference!.replace('Patient/', '');
}
