/**
 * FHIR server faults (issue 9, docs/api.md "When the FHIR server is down, slow or answers garbage"): down,
 * hung, slower than the per-read time-out, slower than the hook deadline, and answering garbage. Every
 * case must be answered within HOOK_DEADLINE_MS (plus scheduling slack) with 412 (required data missing,
 * as the spec mandates), 200 with what could be had, or 200 with the degraded card — never a 5xx, never
 * a hang.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { startFakeFhir, type FakeFhirServer, type FakeRoute } from '../cds-hooks/helpers.js';
import { startVigil, type RunningVigil } from '../observability/helpers.js';

const PATIENT = { resourceType: 'Patient', id: 'p1', birthDate: '1950-01-01', gender: 'female' };
const DEADLINE_MS = 1500;
// Room for two busy CI cores; still well short of what an unbounded call would take (the 5 s read time-out
// below, or a hung server's forever).
const SLACK_MS = 2000;

let app: RunningVigil;
let hung: net.Server;
let hungUrl: string;
let resetting: net.Server;
let resetUrl: string;
let resetConnections = 0;
// Connection refused without a race: nothing can listen on TCP port 0, so a connect to it is refused by the
// kernel every time (a port freed a moment ago could be taken by any other process before the test uses it).
const refusedUrl = 'http://127.0.0.1:0/fhir';

/** A TCP server that accepts connections and never answers: the worst kind of "slow". */
const hungSockets = new Set<net.Socket>();
async function startHungServer(): Promise<net.Server> {
  const server = net.createServer((socket) => {
    hungSockets.add(socket);
    socket.on('close', () => hungSockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return server;
}

/** A TCP server that answers every connection with a reset (RST): a FHIR server crashing mid-connect. */
async function startResettingServer(): Promise<net.Server> {
  const server = net.createServer((socket) => {
    resetConnections += 1;
    socket.resetAndDestroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return server;
}

beforeAll(async () => {
  app = await startVigil({ HOOK_DEADLINE_MS: String(DEADLINE_MS), PREFETCH_TIMEOUT_MS: '400', RATE_LIMIT_RPS: '0' });
  hung = await startHungServer();
  hungUrl = `http://127.0.0.1:${(hung.address() as AddressInfo).port}/fhir`;
  resetting = await startResettingServer();
  resetUrl = `http://127.0.0.1:${(resetting.address() as AddressInfo).port}/fhir`;
});

afterAll(async () => {
  await app.stop();
  for (const socket of hungSockets) socket.destroy();
  await new Promise<void>((resolve) => hung.close(() => resolve()));
  await new Promise<void>((resolve) => resetting.close(() => resolve()));
});

function hookBody(fhirServer: string, withPatient: boolean): Record<string, unknown> {
  return {
    hook: 'patient-view',
    hookInstance: randomUUID(),
    fhirServer,
    context: { userId: 'Practitioner/u1', patientId: 'p1' },
    ...(withPatient ? { prefetch: { patient: PATIENT } } : {}),
  };
}

async function call(service: string, body: Record<string, unknown>, origin = app): Promise<{ status: number; body: { cards?: Array<{ summary: string; indicator: string; detail?: string }>; error?: string }; ms: number }> {
  const started = Date.now();
  const res = await origin.post(`/cds-services/${service}`, body);
  return { status: res.status, body: (await res.json()) as never, ms: Date.now() - started };
}

function expectBounded(answer: { status: number; ms: number }): void {
  expect(answer.status).toBeLessThan(500);
  expect(answer.ms).toBeLessThan(DEADLINE_MS + SLACK_MS);
}

async function withFake(route: FakeRoute, run: (fake: FakeFhirServer) => Promise<void>): Promise<void> {
  const fake = await startFakeFhir();
  // Every path answers the same way.
  fake.routes.get = () => route;
  fake.routes.has = () => true;
  try {
    await run(fake);
  } finally {
    await fake.close();
  }
}

describe('FHIR server faults on vigil-news2', () => {
  it.each([
    ['down (connection refused)', () => refusedUrl],
    ['down (connection reset)', () => resetUrl],
    ['hung (accepts, never answers)', () => hungUrl],
  ])('%s: 412 without the required patient, 200 with it — within the deadline', async (_label, url) => {
    const missing = await call('vigil-news2', hookBody(url(), false));
    expectBounded(missing);
    expect(missing.status).toBe(412);
    expect(missing.body.error).toBe('precondition_failed');

    const partial = await call('vigil-news2', hookBody(url(), true));
    expectBounded(partial);
    expect(partial.status).toBe(200);
    expect(Array.isArray(partial.body.cards)).toBe(true);
  });

  it('the reset case really reached the resetting listener', () => {
    expect(resetConnections).toBeGreaterThan(0);
  });

  it.each<[string, FakeRoute]>([
    ['HTML instead of FHIR', { status: 200, body: '<html><body>Login</body></html>', contentType: 'text/html' }],
    ['truncated JSON', { status: 200, body: '{"resourceType":"Bundle","entry":[{', contentType: 'application/fhir+json' }],
    ['JSON that is not a resource', { status: 200, body: { hello: 'world' } }],
    ['a Bundle of junk entries', { status: 200, body: { resourceType: 'Bundle', type: 'searchset', entry: [{ resource: { resourceType: 'Observation', valueQuantity: { value: 'high' } } }, { resource: null }, 'x'] } }],
    ['the wrong resource type', { status: 200, body: { resourceType: 'OperationOutcome', issue: [] } }],
    ['500 with a stack trace', { status: 500, body: 'java.lang.NullPointerException at ...', contentType: 'text/plain' }],
    ['503', { status: 503, body: { resourceType: 'OperationOutcome', issue: [{ severity: 'fatal', code: 'transient' }] } }],
    ['slower than the read time-out', { status: 200, body: PATIENT, delayMs: 1000 }],
  ])('garbage: %s — never a 5xx, answered in time', async (_label, route) => {
    await withFake(route, async (fake) => {
      const missing = await call('vigil-news2', hookBody(fake.baseUrl, false));
      expectBounded(missing);
      expect([200, 412]).toContain(missing.status);
      const partial = await call('vigil-news2', hookBody(fake.baseUrl, true));
      expectBounded(partial);
      expect(partial.status).toBe(200);
    });
  });

  it('records the failures in the FHIR metrics', async () => {
    const text = await (await fetch(`${app.origin}/metrics`)).text();
    for (const failure of ['network', 'timeout', 'invalid-response', 'http-error']) {
      expect(text).toMatch(new RegExp(`vigil_fhir_request_errors_total\\{resource="(Patient|Observation|Condition)",failure="${failure}"\\} \\d+`));
    }
  });
});

describe('a FHIR server slower than the hook deadline', () => {
  let slowApp: RunningVigil;
  beforeAll(async () => {
    // Per-read time-out above the deadline: only the deadline can end the call.
    slowApp = await startVigil({ HOOK_DEADLINE_MS: '800', PREFETCH_TIMEOUT_MS: '5000', RATE_LIMIT_RPS: '0' });
  });
  afterAll(async () => {
    await slowApp.stop();
  });

  it('answers 200 with one degraded info card at the deadline, saying no score was calculated', async () => {
    const started = Date.now();
    const res = await slowApp.post('/cds-services/vigil-news2', hookBody(hungUrl, false));
    const ms = Date.now() - started;
    expect(res.status).toBe(200);
    expect(ms).toBeGreaterThanOrEqual(750);
    expect(ms).toBeLessThan(800 + SLACK_MS);
    const { cards } = (await res.json()) as { cards: Array<{ summary: string; indicator: string; detail: string; source: { label: string } }> };
    expect(cards).toHaveLength(1);
    expect(cards[0]).toMatchObject({ indicator: 'info', source: { label: 'Vigil' } });
    expect(cards[0]!.summary).toMatch(/not available this time/);
    expect(cards[0]!.summary.length).toBeLessThan(140);
    expect(cards[0]!.detail).toContain('not a low-risk result');
    const metrics = await (await fetch(`${slowApp.origin}/metrics`)).text();
    expect(metrics).toMatch(/vigil_cds_degraded_total\{service="vigil-news2",reason="deadline"\} 1/);
  });

  it('keeps answering other calls while deadline-bound calls are pending', async () => {
    const slow = Array.from({ length: 8 }, () => slowApp.post('/cds-services/vigil-news2', hookBody(hungUrl, false)));
    const fast = await slowApp.post('/cds-services/vigil-news2', { ...hookBody(hungUrl, true), fhirServer: undefined });
    expect(fast.status).toBe(200);
    const statuses = await Promise.all(slow.map(async (p) => (await p).status));
    expect(statuses.every((s) => s === 200)).toBe(true);
  });
});

describe('FHIR server faults on the model services (models loaded)', () => {
  let modelApp: RunningVigil;
  beforeAll(async () => {
    modelApp = await startVigil({ HOOK_DEADLINE_MS: String(DEADLINE_MS), PREFETCH_TIMEOUT_MS: '400', RATE_LIMIT_RPS: '0', MODELS_DIR: 'models' });
  }, 60_000);
  afterAll(async () => {
    await modelApp.stop();
  });

  const services = ['vigil-deterioration', 'vigil-heart-disease'];
  it.each(services.flatMap((service) => [
    [service, 'down (connection refused)', () => refusedUrl],
    [service, 'down (connection reset)', () => resetUrl],
    [service, 'hung (accepts, never answers)', () => hungUrl],
  ] as Array<[string, string, () => string]>))('%s, FHIR %s: no 5xx, within the deadline, with and without the patient', async (service, _label, url) => {
    for (const withPatient of [false, true]) {
      const answer = await call(service, hookBody(url(), withPatient), modelApp);
      expectBounded(answer);
      expect([200, 412]).toContain(answer.status);
      if (answer.status === 200) expect(Array.isArray(answer.body.cards)).toBe(true);
    }
  });

  it.each<[string, FakeRoute]>([
    ['HTML instead of FHIR', { status: 200, body: '<html><body>Login</body></html>', contentType: 'text/html' }],
    ['a Bundle of junk entries', { status: 200, body: { resourceType: 'Bundle', type: 'searchset', entry: [{ resource: { resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] }, valueQuantity: { value: 'high' } } }, { resource: null }, 'x'], link: [{ relation: 'next', url: 'javascript:alert(1)' }] } }],
    ['500 with a stack trace', { status: 500, body: 'java.lang.NullPointerException at ...', contentType: 'text/plain' }],
    ['slower than the read time-out', { status: 200, body: PATIENT, delayMs: 1000 }],
  ])('garbage on both model services: %s — never a 5xx, answered in time', async (_label, route) => {
    await withFake(route, async (fake) => {
      for (const service of services) {
        for (const withPatient of [false, true]) {
          const answer = await call(service, hookBody(fake.baseUrl, withPatient), modelApp);
          expectBounded(answer);
          expect([200, 412]).toContain(answer.status);
        }
      }
    });
  });
});
