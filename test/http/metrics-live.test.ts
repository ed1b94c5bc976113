/**
 * Issue 9 §Observability against the real entry point (`src/server.ts`, what `npm start` runs) in a child
 * process: every /metrics family the issue names exists on a scrape of the running server and moves when the
 * thing it measures happens — request latency per service and hook, model inference latency and batch size,
 * explanation latency and batch size, FHIR read latency and errors, HL7 queue depth (wired in server.ts, so
 * only a running server shows it), and the back end in use. No patient data may appear in any series.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MllpTestClient, ackParts, oruMessage } from '../hl7/helpers.js';
import { startServerProcess, stopServerProcess } from '../e2e/server-process.js';

/** Sandbox patient with an ICU window and a cardiology work-up (data/sandbox/index.json). */
const PATIENT = '0283b437-ef20-41bb-a026-b60a742d536a';

interface HookCall {
  url: string;
  headers: Record<string, string>;
  body: Record<string, unknown>;
}

let child: ChildProcess;
let origin = '';
let hl7Port = 0;
const dataDir = mkdtempSync(path.join(tmpdir(), 'vigil-metrics-live-'));

async function scrape(): Promise<string> {
  const res = await fetch(`${origin}/metrics`);
  expect(res.status).toBe(200);
  return res.text();
}

/** The value of the one series of `name` whose labels include `labels`; undefined when there is none. */
function value(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (want.every((w) => line.includes(w))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

async function hookCall(serviceId: string, prefetch: 'fill' | 'none'): Promise<HookCall> {
  const res = await fetch(`${origin}/sandbox/api/hook-request`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ serviceId, hook: 'patient-view', patientId: PATIENT, prefetch }),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as HookCall;
}

async function fire(call: HookCall): Promise<Array<{ summary: string }>> {
  const res = await fetch(call.url, { method: 'POST', headers: call.headers, body: JSON.stringify(call.body) });
  expect(res.status).toBe(200);
  return ((await res.json()) as { cards: Array<{ summary: string }> }).cards;
}

async function eventually(check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

beforeAll(async () => {
  const server = await startServerProcess(
    // PRECOMPUTE off: every explanation below is computed by the hook itself, on the main thread's metrics.
    // The HL7 interface writes to a FHIR store that refuses every connection (TCP port 0), so an accepted
    // message stays queued: its depth can be seen on a scrape. (With PRECOMPUTE off nothing else uses it.)
    {
      ...process.env,
      PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'info', SANDBOX: 'on', PRECOMPUTE: 'off', RATE_LIMIT_RPS: '0',
      HL7_PORT: '0', FHIR_STORE_URL: 'http://127.0.0.1:0/fhir',
    },
    { waitForHl7: true },
  );
  child = server.child;
  origin = `http://127.0.0.1:${server.ports.http}`;
  hl7Port = server.ports.hl7!;
  // Models load in the background; the ML services need them.
  await eventually(async () => (await fetch(`${origin}/readyz`)).status === 200, 60_000);
}, 90_000);

afterAll(async () => {
  await stopServerProcess(child);
  rmSync(dataDir, { recursive: true, force: true });
});

describe('GET /metrics on the running server (npm start)', () => {
  it('request latency per service and hook, inference and explanation latency and batch sizes, FHIR reads: each moves with a hook call', async () => {
    const before = await scrape();
    const hook = { route: '/cds-services/:id', hook: 'patient-view', status: '200' };
    const count = (text: string, name: string, labels: Record<string, string>) => value(text, name, labels) ?? 0;

    // prefetch "none": the services read the sandbox FHIR server themselves, so FHIR reads are counted too.
    const deterioration = await fire(await hookCall('vigil-deterioration', 'none'));
    expect(deterioration[0]!.summary).toMatch(/^Sepsis risk/);
    const heart = await fire(await hookCall('vigil-heart-disease', 'none'));
    expect(heart.length).toBeGreaterThan(0);
    const after = await scrape();

    for (const service of ['vigil-deterioration', 'vigil-heart-disease']) {
      const labels = { ...hook, service };
      expect(count(after, 'vigil_http_request_duration_seconds_count', labels) - count(before, 'vigil_http_request_duration_seconds_count', labels)).toBe(1);
      // A histogram, not only a counter: the +Inf bucket and the sum are there too.
      expect(value(after, 'vigil_http_request_duration_seconds_bucket', { ...labels, le: '+Inf' })).toBeGreaterThanOrEqual(1);
      expect(value(after, 'vigil_http_request_duration_seconds_sum', labels)).toBeGreaterThan(0);
    }
    for (const model of ['deterioration', 'heart-disease']) {
      expect(count(after, 'vigil_model_inference_duration_seconds_count', { model })).toBeGreaterThan(count(before, 'vigil_model_inference_duration_seconds_count', { model }));
      expect(count(after, 'vigil_model_batch_size_sum', { model })).toBeGreaterThan(count(before, 'vigil_model_batch_size_sum', { model }));
      expect(count(after, 'vigil_explanation_duration_seconds_count', { model })).toBeGreaterThan(count(before, 'vigil_explanation_duration_seconds_count', { model }));
      expect(count(after, 'vigil_explanation_batch_size_sum', { model })).toBeGreaterThan(count(before, 'vigil_explanation_batch_size_sum', { model }));
    }
    const observationsOk = { resource: 'Observation', outcome: 'ok' };
    expect(count(after, 'vigil_fhir_request_duration_seconds_count', observationsOk)).toBeGreaterThan(count(before, 'vigil_fhir_request_duration_seconds_count', observationsOk));
    expect(count(after, 'vigil_fhir_request_duration_seconds_count', { resource: 'Patient', outcome: 'ok' })).toBeGreaterThan(0);

    for (const text of [before, after]) expect(text).not.toContain(PATIENT);
  }, 60_000);

  it('FHIR errors: a FHIR server that refuses connections is counted by resource and failure kind', async () => {
    const labels = { resource: 'Patient', failure: 'network' };
    const before = value(await scrape(), 'vigil_fhir_request_errors_total', labels) ?? 0;
    const call = await hookCall('vigil-news2', 'none');
    // Port 0 cannot be listened on: every connect is refused. (The client JWT covers the URL, not the body.)
    const res = await fetch(call.url, { method: 'POST', headers: call.headers, body: JSON.stringify({ ...call.body, fhirServer: 'http://127.0.0.1:0/fhir' }) });
    expect(res.status).toBe(412);
    expect(value(await scrape(), 'vigil_fhir_request_errors_total', labels)).toBeGreaterThan(before);
  }, 30_000);

  it('the back end in use: exactly one vigil_model_backend_info series, at 1', async () => {
    const lines = (await scrape()).split('\n').filter((l) => l.startsWith('vigil_model_backend_info{'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^vigil_model_backend_info\{backend="(tensorflow-gpu|tensorflow|wasm|cpu)"\} 1$/);
  });

  it('HL7 queue depth per queue, read from the MLLP interface server.ts starts, and it moves', async () => {
    const first = await scrape();
    for (const queue of ['inbound', 'inbound-failed', 'outbound', 'outbound-failed']) {
      expect(value(first, 'vigil_hl7_queue_depth', { queue })).toBeGreaterThanOrEqual(0);
    }
    const waiting = (text: string) => (value(text, 'vigil_hl7_queue_depth', { queue: 'inbound' }) ?? 0) + (value(text, 'vigil_hl7_queue_depth', { queue: 'inbound-failed' }) ?? 0);
    const start = waiting(first);
    // The message is accepted (stored, AA) but cannot be applied while the FHIR store is unreachable: it
    // waits for a retry (or is parked as failed) — either way the depth rises.
    const client = await MllpTestClient.connect(hl7Port);
    try {
      const ack = await client.send(oruMessage('METRICS-LIVE-1'));
      expect(ackParts(ack).code).toBe('AA');
    } finally {
      client.close();
    }
    await eventually(async () => waiting(await scrape()) > start);
  }, 30_000);
});
