/**
 * Fuzzing the CDS hook endpoint (issue 9, "Bad input") with fast-check over real HTTP: random JSON,
 * mutated valid CDS Hooks requests (wrong types, missing and extra fields, huge strings), deep nesting,
 * non-UTF-8 bytes and oversized bodies. Properties: the process never crashes, a client error is never
 * answered 5xx, every answer is a JSON body of the documented shape, and the heap stays bounded over a
 * few thousand requests.
 *
 * Most runs go to the CDS Hooks router alone (no JWT to mint per request, so thousands of runs stay fast);
 * a smaller run goes through the whole app with client authentication and random Authorization headers.
 * No fhirServer is ever sent except the localhost fake, so nothing leaves the machine.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';
import fc from 'fast-check';
import { createCdsHooksRouter } from '../../src/cds-hooks/router.js';
import { createServices } from '../../src/cds-hooks/services/index.js';
import { openFeedbackStore, type FeedbackStore } from '../../src/storage/feedback-store.js';
import { silentLogger, startFakeFhir, testConfig, type FakeFhirServer } from '../cds-hooks/helpers.js';
import { startVigil, type RunningVigil } from '../observability/helpers.js';
import { heapAfterGc } from './heap.js';
import { mutate, replacement } from './mutate.js';

const SERVICE = '/cds-services/vigil-news2';
const CLIENT_ERRORS = [400, 401, 404, 412, 413, 415, 429];

let server: Server;
let origin: string;
let feedback: FeedbackStore;
let fhir: FakeFhirServer;

beforeAll(async () => {
  fhir = await startFakeFhir({ 'Patient/p1': { body: { resourceType: 'Patient', id: 'p1', birthDate: '1950-01-01', gender: 'female' } } });
  feedback = openFeedbackStore(':memory:');
  const app = express();
  app.use('/cds-services', createCdsHooksRouter({ config: testConfig({ bodyLimit: '1mb', prefetchTimeoutMs: 500, hookDeadlineMs: 2000 }), logger: silentLogger, services: createServices(), feedbackStore: feedback }));
  server = app.listen(0, '127.0.0.1');
  // fetch reuses idle sockets; on a loaded CI machine Node's 5 s keep-alive close can race a reused
  // socket's next request (ECONNRESET on the client, not an answer from us). Keep idle sockets open longer.
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await feedback.close();
  await fhir.close();
});

async function post(path: string, body: string | Uint8Array, contentType = 'application/json'): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${origin}${path}`, { method: 'POST', headers: { 'content-type': contentType }, body: typeof body === 'string' ? body : new Blob([body as Uint8Array<ArrayBuffer>]) });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json };
}

/** The documented answer shapes: `{ cards: [...] }` on 200, `{ error, message, details }` otherwise. */
function expectWellFormed(answer: { status: number; json: unknown }): void {
  expect(answer.status).toBeLessThan(500);
  const body = answer.json as Record<string, unknown> | undefined;
  expect(body).toBeDefined();
  if (answer.status === 200) expect(Array.isArray(body!.cards)).toBe(true);
  else {
    expect(CLIENT_ERRORS).toContain(answer.status);
    expect(typeof body!.error).toBe('string');
    expect(Array.isArray(body!.details)).toBe(true);
  }
}

function validRequest(): Record<string, unknown> {
  return {
    hook: 'patient-view',
    hookInstance: randomUUID(),
    context: { userId: 'Practitioner/u1', patientId: 'p1', encounterId: 'e1' },
    prefetch: {
      patient: { resourceType: 'Patient', id: 'p1', birthDate: '1950-01-01' },
      heartRate: {
        resourceType: 'Bundle',
        type: 'searchset',
        entry: [
          {
            resource: {
              resourceType: 'Observation',
              id: 'hr1',
              status: 'final',
              code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
              subject: { reference: 'Patient/p1' },
              effectiveDateTime: new Date(Date.now() - 3_600_000).toISOString(),
              valueQuantity: { value: 131, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
            },
          },
        ],
      },
    },
  };
}

/** One to four mutations of a valid request at random paths; fhirServer is never set (no network). */
const mutatedRequest = fc
  .tuple(fc.array(fc.tuple(fc.nat(), replacement), { minLength: 1, maxLength: 4 }), fc.boolean())
  .map(([mutations, withFhir]) => {
    const body = validRequest();
    if (withFhir) body.fhirServer = fhir.baseUrl;
    mutate(body, mutations, ['fhirServer']);
    return body;
  });

describe('fuzzing POST /cds-services/{id}', () => {
  it('answers a valid request 200 (the fuzz baseline)', async () => {
    const answer = await post(SERVICE, JSON.stringify(validRequest()));
    expect(answer.status).toBe(200);
    expectWellFormed(answer);
  });

  it('never answers 5xx to mutated CDS Hooks requests (wrong types, missing fields, huge strings)', async () => {
    await fc.assert(
      fc.asyncProperty(mutatedRequest, async (body) => {
        expectWellFormed(await post(SERVICE, JSON.stringify(body)));
      }),
      { numRuns: 600, seed: 9 },
    );
  }, 120_000);

  it('never answers 5xx to random JSON documents, on the service and the feedback endpoint', async () => {
    await fc.assert(
      fc.asyncProperty(fc.jsonValue({ maxDepth: 6 }), fc.boolean(), async (value, feedbackPath) => {
        expectWellFormed(await post(feedbackPath ? `${SERVICE}/feedback` : SERVICE, JSON.stringify(value)));
      }),
      { numRuns: 400, seed: 10 },
    );
  }, 120_000);

  it('answers 400 to random bytes, including invalid UTF-8, and 415 to unsupported charsets', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 2048 }), async (bytes) => {
        const answer = await post(SERVICE, bytes);
        expectWellFormed(answer);
      }),
      { numRuns: 300, seed: 11 },
    );
    // Lone continuation bytes and overlongs inside an otherwise valid document.
    const broken = Buffer.concat([Buffer.from('{"hook":"patient-view","hookInstance":"'), Buffer.from([0xc0, 0xaf, 0x80, 0xff]), Buffer.from('"}')]);
    expectWellFormed(await post(SERVICE, new Uint8Array(broken)));
    const latin1 = await post(SERVICE, JSON.stringify(validRequest()), 'application/json; charset=iso-8859-1');
    expect(latin1.status).toBe(415);
  });

  it('survives deep nesting: 400 or 200, never a stack overflow', async () => {
    for (const depth of [1_000, 10_000, 100_000]) {
      const nested = `${'['.repeat(depth)}${']'.repeat(depth)}`;
      expectWellFormed(await post(SERVICE, `{"hook":"patient-view","hookInstance":"${randomUUID()}","context":{"userId":"Practitioner/u1","patientId":"p1","deep":${nested}}}`));
      expectWellFormed(await post(SERVICE, `{"hook":"patient-view","extension":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}`));
    }
  });

  it('refuses a body over BODY_LIMIT with 413 and accepts one just under it', async () => {
    const over = JSON.stringify({ ...validRequest(), extension: { padding: 'x'.repeat(1024 * 1024) } });
    expect((await post(SERVICE, over)).status).toBe(413);
    const under = JSON.stringify({ ...validRequest(), extension: { padding: 'x'.repeat(1000 * 1000) } });
    expectWellFormed(await post(SERVICE, under));
  });

  it('keeps the heap bounded over a few thousand bad requests', async () => {
    const bodies = fc.sample(fc.oneof(mutatedRequest.map((b) => JSON.stringify(b)), fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v))), { numRuns: 300, seed: 12 });
    const round = async () => {
      for (let i = 0; i < bodies.length; i += 30) {
        await Promise.all(bodies.slice(i, i + 30).map(async (b) => expect((await post(SERVICE, b)).status).toBeLessThan(500)));
      }
    };
    await round(); // warm-up: JIT, caches, pools
    const before = heapAfterGc();
    for (let r = 0; r < 8; r++) await round();
    const growth = heapAfterGc() - before;
    // 2400 requests; a per-request leak of even 10 kB would exceed this.
    expect(growth).toBeLessThan(16 * 1024 * 1024);
  }, 120_000);
});

describe('fuzzing through the whole app (client authentication, rate limits, error handlers)', () => {
  let app: RunningVigil;
  beforeAll(async () => {
    app = await startVigil({ RATE_LIMIT_RPS: '0', BODY_LIMIT: '256kb' });
  });
  afterAll(async () => {
    await app.stop();
  });

  it('never answers 5xx to random Authorization headers, paths and content types', async () => {
    const header = fc.oneof(
      fc.constant(''),
      fc.string({ maxLength: 200 }).map((s) => `Bearer ${s}`),
      fc.tuple(fc.base64String(), fc.base64String(), fc.base64String()).map(([a, b, c]) => `Bearer ${a}.${b}.${c}`),
      fc.constant(`Bearer ${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{"iss":"x"}').toString('base64url')}.`),
      fc.string({ unit: 'grapheme-ascii', maxLength: 100 }),
    );
    const path = fc.constantFrom(SERVICE, `${SERVICE}/feedback`, '/cds-services/%00', '/cds-services/..%2f..%2fetc', '/cds-services/' + 'a'.repeat(5000));
    const type = fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded', 'application/fhir+json', 'multipart/form-data; boundary=x');
    await fc.assert(
      fc.asyncProperty(header, path, type, fc.jsonValue({ maxDepth: 3 }), async (authorization, p, contentType, value) => {
        const res = await fetch(`${app.origin}${p}`, {
          method: 'POST',
          headers: { 'content-type': contentType, ...(authorization ? { authorization } : {}) },
          body: JSON.stringify(value),
        });
        expect(res.status).toBeLessThan(500);
        await res.arrayBuffer();
      }),
      { numRuns: 200, seed: 13 },
    );
  }, 60_000);

  it('never answers 5xx to mutated requests from an authenticated client', async () => {
    await fc.assert(
      fc.asyncProperty(mutatedRequest, async (body) => {
        const res = await app.post(SERVICE, body);
        expect(res.status).toBeLessThan(500);
        await res.arrayBuffer();
      }),
      { numRuns: 150, seed: 14 },
    );
    // Still serving afterwards.
    expect((await app.post(SERVICE, validRequest())).status).toBe(200);
  }, 60_000);
});
