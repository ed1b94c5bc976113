import { afterEach, describe, expect, it } from '@jest/globals';
import type { Bundle, Observation } from 'fhir/r4';
import { allWithDeadline, createFhirClient, retryAfterMs } from '../../src/fhir/fhir-client.js';
import { FhirReadError } from '../../src/fhir/fhir-reader.js';
import { startFakeServer, type FakeServer } from './fake-fhir-server.js';

let server: FakeServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const patient = { resourceType: 'Patient', id: 'p1' };
const noJitter = () => 1;

async function failureOf(p: Promise<unknown>): Promise<FhirReadError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(FhirReadError);
    return err as FhirReadError;
  }
  throw new Error('expected FhirReadError');
}

describe('createFhirClient: retries', () => {
  it('retries 429 honouring Retry-After (seconds), then succeeds', async () => {
    let n = 0;
    server = await startFakeServer(() => (n++ === 0 ? { status: 429, headers: { 'retry-after': '1' }, body: { resourceType: 'OperationOutcome', issue: [] } } : { body: patient }));
    const client = createFhirClient({ baseUrl: server.baseUrl, backoffBaseMs: 1, random: noJitter });
    const started = Date.now();
    await expect(client.read('Patient', 'p1')).resolves.toEqual(patient);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(server.requests.filter((r) => r.url === 'Patient/p1')).toHaveLength(2);
  });

  it('retries 503 with backoff and gives up after the retry budget with the upstream status', async () => {
    server = await startFakeServer(() => ({ status: 503, body: { resourceType: 'OperationOutcome', issue: [] } }));
    const client = createFhirClient({ baseUrl: server.baseUrl, retries: 2, backoffBaseMs: 5, random: noJitter });
    const err = await failureOf(client.get('Patient/p1'));
    expect(err).toMatchObject({ failure: 'http-error', upstreamStatus: 503 });
    expect(server.requests.filter((r) => r.url === 'Patient/p1')).toHaveLength(3);
  });

  it('stops waiting in the retry back-off when the caller aborts: FhirReadError aborted', async () => {
    server = await startFakeServer(() => ({ status: 503, body: { resourceType: 'OperationOutcome', issue: [] } }));
    const client = createFhirClient({ baseUrl: server.baseUrl, retries: 3, backoffBaseMs: 60_000, random: noJitter });
    const controller = new AbortController();
    const failing = failureOf(client.read('Patient', 'p1', { signal: controller.signal }));
    await new Promise((r) => setTimeout(r, 200));
    controller.abort();
    expect(await failing).toMatchObject({ failure: 'aborted' });
    expect(server.requests.filter((r) => r.url === 'Patient/p1')).toHaveLength(1);
  });

  it('does not wait for a Retry-After beyond the cap: fails as throttled at once', async () => {
    server = await startFakeServer(() => ({ status: 429, headers: { 'retry-after': '3600' } }));
    // A cap well above any scheduling delay on busy CI cores: waiting even the cap (not just the hour) fails.
    const client = createFhirClient({ baseUrl: server.baseUrl, maxRetryAfterMs: 6000 });
    const started = Date.now();
    expect((await failureOf(client.get('Patient/p1'))).failure).toBe('throttled');
    expect(Date.now() - started).toBeLessThan(4000);
    expect(server.requests.filter((r) => r.url === 'Patient/p1')).toHaveLength(1);
  });

  it('times out a slow answer and retries idempotent GETs, but not a POST', async () => {
    server = await startFakeServer((req) => ({ delayMs: 300, body: req.method === 'POST' ? { resourceType: 'Bundle', type: 'transaction-response' } : patient }));
    const client = createFhirClient({ baseUrl: server.baseUrl, timeoutMs: 80, retries: 1, backoffBaseMs: 1 });
    expect((await failureOf(client.get('Patient/p1'))).failure).toBe('timeout');
    expect(server.requests.filter((r) => r.url === 'Patient/p1')).toHaveLength(2);
    expect((await failureOf(client.transaction({ resourceType: 'Bundle', type: 'transaction' }))).failure).toBe('timeout');
    expect(server.requests.filter((r) => r.method === 'POST')).toHaveLength(1);
  });

  it('does not retry 4xx', async () => {
    server = await startFakeServer(() => ({ status: 404, body: { resourceType: 'OperationOutcome', issue: [] } }));
    const client = createFhirClient({ baseUrl: server.baseUrl });
    await expect(client.read('Patient', 'nope')).resolves.toBeUndefined();
    expect(server.requests.filter((r) => r.url === 'Patient/nope')).toHaveLength(1);
  });

  it('parses Retry-After as seconds or an HTTP date', () => {
    expect(retryAfterMs('7')).toBe(7000);
    expect(retryAfterMs(new Date(Date.now() + 2000).toUTCString())).toBeGreaterThan(500);
    expect(retryAfterMs('soon')).toBeUndefined();
  });
});

describe('createFhirClient: tokens, versions, URLs', () => {
  it('asks the token provider on every call (a refreshed token is used)', async () => {
    server = await startFakeServer(() => ({ body: patient }));
    let n = 0;
    const client = createFhirClient({ baseUrl: server.baseUrl, token: async () => `t${++n}` });
    await client.get('Patient/p1');
    await client.get('Patient/p1');
    expect(server.requests.filter((r) => r.url === 'Patient/p1').map((r) => r.authorization)).toEqual(['Bearer t2', 'Bearer t3']);
  });

  it('refuses a server that is not FHIR R4 with a clear error, before any data request', async () => {
    server = await startFakeServer(() => ({ body: patient }), { metadata: { resourceType: 'CapabilityStatement', fhirVersion: '3.0.2' } });
    const err = await failureOf(createFhirClient({ baseUrl: server.baseUrl }).get('Patient/p1'));
    expect(err.failure).toBe('unsupported-version');
    expect(err.message).toMatch(/FHIR 3\.0\.2; Vigil needs FHIR R4/);
    expect(server.requests.map((r) => r.url)).toEqual(['metadata']);
  });

  it('checks the version once per client', async () => {
    server = await startFakeServer(() => ({ body: patient }));
    const client = createFhirClient({ baseUrl: server.baseUrl });
    await client.get('Patient/p1');
    await client.get('Patient/p1');
    expect(server.requests.map((r) => r.url)).toEqual(['metadata', 'Patient/p1', 'Patient/p1']);
  });

  it.each(['http://evil.example/Patient/1', '/Patient/1', '../x', ''])('refuses non-relative URL %j without sending', async (url) => {
    server = await startFakeServer(() => ({ body: patient }));
    const client = createFhirClient({ baseUrl: server.baseUrl, token: 'secret' });
    expect((await failureOf(client.get(url))).failure).toBe('invalid-url');
    expect(server.requests).toHaveLength(0);
  });
});

describe('createFhirClient: search paging', () => {
  const obs = (i: number): Observation => ({ resourceType: 'Observation', id: `o${i}`, status: 'final', code: { text: 'x' } });
  function pagedServer(pages: number, perPage: number, nextBase?: string): Promise<FakeServer> {
    return startFakeServer((req) => {
      const page = Number(/[?&]page=(\d+)/.exec(req.url)?.[1] ?? '0');
      const bundle: Bundle = {
        resourceType: 'Bundle',
        type: 'searchset',
        total: pages * perPage,
        entry: Array.from({ length: perPage }, (_, i) => ({ resource: obs(page * perPage + i), search: { mode: 'match' as const } })),
        link: page + 1 < pages ? [{ relation: 'next', url: `${nextBase ?? server!.baseUrl}/Observation?patient=p1&page=${page + 1}` }] : [],
      };
      return { body: bundle };
    });
  }

  it('follows next links, sends _count and _elements, and reports the total', async () => {
    server = await pagedServer(3, 2);
    const client = createFhirClient({ baseUrl: server.baseUrl });
    const result = await client.search<Observation>('Observation', { patient: 'p1' }, { count: 2, elements: ['code', 'valueQuantity'] });
    expect(result).toMatchObject({ total: 6, truncated: false, pages: 3 });
    expect(result.resources.map((r) => r.id)).toEqual(['o0', 'o1', 'o2', 'o3', 'o4', 'o5']);
    expect(server.requests.find((r) => r.url.startsWith('Observation?'))!.url).toBe('Observation?patient=p1&_count=2&_elements=code,valueQuantity');
  });

  it('stops at the page cap and says the result is truncated', async () => {
    server = await pagedServer(50, 1);
    const result = await createFhirClient({ baseUrl: server.baseUrl }).search('Observation', { patient: 'p1' }, { maxPages: 4 });
    expect(result).toMatchObject({ truncated: true, pages: 4 });
    expect(result.resources).toHaveLength(4);
  });

  it('refuses to follow a next link to another host (the token would leak)', async () => {
    server = await pagedServer(2, 1, 'http://evil.example/fhir');
    const err = await failureOf(createFhirClient({ baseUrl: server.baseUrl, token: 'secret' }).search('Observation', { patient: 'p1' }));
    expect(err.failure).toBe('invalid-response');
  });
});

describe('allWithDeadline', () => {
  it('runs queries in parallel, settles each, and aborts the slow ones at the deadline', async () => {
    server = await startFakeServer((req) => (req.url.includes('slow') ? { delayMs: 2000, body: patient } : req.url.includes('bad') ? { status: 500 } : { body: patient }));
    const client = createFhirClient({ baseUrl: server.baseUrl, retries: 0 });
    const started = Date.now();
    const results = await allWithDeadline(
      {
        fast: (signal) => client.get('Patient/fast', { signal }),
        slow: (signal) => client.get('Patient/slow', { signal }),
        bad: (signal) => client.get('Patient/bad', { signal }),
      },
      300,
    );
    expect(Date.now() - started).toBeLessThan(1500);
    expect(results.fast).toEqual({ ok: true, value: patient });
    expect(results.slow.ok).toBe(false);
    expect((results.slow as { error: FhirReadError }).error.failure).toBe('aborted');
    expect((results.bad as { error: FhirReadError }).error.upstreamStatus).toBe(500);
  });
});
