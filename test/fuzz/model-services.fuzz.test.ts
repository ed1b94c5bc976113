/**
 * Fuzzing the model services' hook endpoints (issue 9, "Bad input") with the shipped models loaded: valid
 * requests for a sandbox patient on each service's own hook (patient-view; order-select and order-sign with
 * the sandbox's draft orders) — context and prefetch built as the sandbox EHR builds them — mutated at
 * random paths (wrong types, junk Bundle entries, malformed Observations, huge strings, deletions). Their
 * handlers read far more of the prefetch than NEWS2 (test/fuzz/cds-hook.fuzz.test.ts), and a null Bundle
 * entry once made vigil-heart-disease answer 500. Property: 200 with cards or a documented client error,
 * never a 5xx; the services still score the unmutated request afterwards.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';
import fc from 'fast-check';
import type { FhirResource } from 'fhir/r4';
import { createCdsHooksRouter } from '../../src/cds-hooks/router.js';
import { createServices } from '../../src/cds-hooks/services/index.js';
import { fillPrefetchTemplate } from '../../src/cds-hooks/prefetch-template.js';
import type { CdsService } from '../../src/cds-hooks/types.js';
import { ExplanationCache } from '../../src/explain/cache.js';
import { ExplanationEngine } from '../../src/explanations/engine.js';
import { modelProviderOf } from '../../src/explanations/model-provider.js';
import { openSqliteExplanationStore } from '../../src/explanations/sqlite-store.js';
import type { ExplanationStore } from '../../src/explanations/store.js';
import type { ModelRegistry } from '../../src/models/index.js';
import { shippedTracings } from '../../src/sandbox/ehr/ecg-filing.js';
import { buildHookContext, fillPrefetch, type HookRequestInput } from '../../src/sandbox/ehr/hook-request.js';
import { openFeedbackStore, type FeedbackStore } from '../../src/storage/feedback-store.js';
import { silentLogger, testConfig } from '../cds-hooks/helpers.js';
import { FHIR_BASE, loadSandboxFixture, openShippedRegistry } from '../cds-hooks/services/deterioration-fixtures.js';
import { mutate, pathsOf, replacement } from './mutate.js';

/** A sandbox patient with an ICU window and a cardiology work-up (data/sandbox/index.json). */
const PATIENT = '0283b437-ef20-41bb-a026-b60a742d536a';
const CLIENT_ERRORS = [400, 404, 412, 413, 415];
/** Each model service on its hook, with the draft orders the sandbox would send, and its fuzz budget. */
const SERVICES: Array<{ id: string; hook: HookRequestInput['hook']; draftOrders?: string[]; runs: number }> = [
  { id: 'vigil-deterioration', hook: 'patient-view', runs: 40 },
  { id: 'vigil-heart-disease', hook: 'patient-view', runs: 100 },
  { id: 'vigil-ecg-rhythm', hook: 'patient-view', runs: 100 },
  { id: 'vigil-heart-disease-order', hook: 'order-select', draftOrders: ['stress-test', 'ecg', 'aspirin'], runs: 100 },
  { id: 'vigil-sepsis-bundle', hook: 'order-sign', draftOrders: ['lactate', 'blood-cultures'], runs: 60 },
];
const NOW = new Date();

let registry: ModelRegistry;
let explanations: ExplanationStore;
let feedback: FeedbackStore;
let server: Server;
let origin: string;
const calls = new Map<string, { context: Record<string, unknown>; prefetch: Record<string, FhirResource | null> }>();

beforeAll(async () => {
  registry = await openShippedRegistry();
  explanations = openSqliteExplanationStore(':memory:');
  feedback = openFeedbackStore(':memory:');
  const services: CdsService[] = createServices({ models: modelProviderOf(registry), explanations, engine: new ExplanationEngine({ cache: new ExplanationCache() }) });
  const { store } = loadSandboxFixture(NOW);
  for (const { id, hook, draftOrders } of SERVICES) {
    const definition = services.find((s) => s.definition.id === id)!.definition;
    expect(definition.hook).toBe(hook);
    // The ECG service needs a patient with a shipped tracing (the others: PATIENT's ICU data and work-up).
    const patientId = id === 'vigil-ecg-rhythm' ? shippedTracings(store)[0]!.patientId : PATIENT;
    const context = buildHookContext({ serviceId: id, hook, patientId, ...(draftOrders ? { draftOrders } : {}) }, NOW);
    const prefetch = await fillPrefetch(definition.prefetch ?? {}, context, { fill: fillPrefetchTemplate, source: store, fhirServer: FHIR_BASE });
    // A JSON round trip: plain objects, as the router would parse them (the store's are frozen).
    calls.set(id, JSON.parse(JSON.stringify({ context, prefetch })) as { context: Record<string, unknown>; prefetch: Record<string, FhirResource | null> });
  }
  const app = express();
  app.use('/cds-services', createCdsHooksRouter({ config: testConfig({ bodyLimit: '5mb', prefetchTimeoutMs: 500, hookDeadlineMs: 5000 }), logger: silentLogger, services, feedbackStore: feedback }));
  server = app.listen(0, '127.0.0.1');
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}, 60_000);

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await feedback.close();
  await explanations.close();
  await registry.close();
});

/** A valid request for the service; no fhirServer, so nothing is ever fetched. */
function validRequest(service: string): Record<string, unknown> {
  const { context, prefetch } = structuredClone(calls.get(service)!);
  return { hook: SERVICES.find((s) => s.id === service)!.hook, hookInstance: randomUUID(), context, prefetch };
}

async function post(service: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${origin}/cds-services/${service}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

function expectWellFormed(answer: { status: number; json: Record<string, unknown> }): void {
  expect(answer.status).toBeLessThan(500);
  if (answer.status === 200) expect(Array.isArray(answer.json.cards)).toBe(true);
  else {
    expect(CLIENT_ERRORS).toContain(answer.status);
    expect(typeof answer.json.error).toBe('string');
  }
}

describe.each(SERVICES.map((s) => [s.id, s.runs] as const))('fuzzing %s with the models loaded', (service, runs) => {
  it('answers the unmutated request 200 (the fuzz baseline)', async () => {
    const answer = await post(service, validRequest(service));
    expect(answer.status).toBe(200);
    expect(Array.isArray(answer.json.cards)).toBe(true);
  });

  it('reads a null in any element of a prefetched resource as absent: never a 5xx', async () => {
    // FHIR JSON forbids null, but servers send "display": null; src/fhir/shape.ts lets it through, so every
    // element of one resource per prefetch key (the first entry of a Bundle) is set to null in turn.
    const base = validRequest(service);
    const targets: Array<Array<string | number>> = [];
    for (const [key, value] of Object.entries(base.prefetch as Record<string, { resourceType?: string; entry?: unknown[] } | null>)) {
      if (!value) continue;
      const root: Array<string | number> = value.resourceType === 'Bundle' ? (value.entry?.length ? [key, 'entry', 0, 'resource'] : []) : [key];
      if (!root.length) continue;
      let node: unknown = base.prefetch;
      for (const k of root) node = (node as Record<string | number, unknown>)[k];
      for (const p of pathsOf(node)) if (p[0] !== 'resourceType') targets.push([...root, ...p]);
    }
    expect(targets.length).toBeGreaterThan(5);
    for (const target of targets) {
      const body = validRequest(service);
      let node = body.prefetch as Record<string | number, unknown>;
      for (const k of target.slice(0, -1)) node = node[k] as Record<string | number, unknown>;
      node[target[target.length - 1]!] = null;
      const answer = await post(service, body);
      if (answer.status >= 500) throw new Error(`null at prefetch.${target.join('.')} answered ${answer.status}`);
      expectWellFormed(answer);
    }
  }, 180_000);

  it('never answers 5xx to mutated requests, and still scores afterwards', async () => {
    // Mutations anywhere, or aimed at the prefetch or the context (what the handlers read).
    const mutation = fc.tuple(fc.nat(), replacement);
    await fc.assert(
      fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 4 }), fc.constantFrom('anywhere', 'prefetch', 'context'), async (mutations, where) => {
        const body = validRequest(service);
        if (where === 'anywhere') mutate(body, mutations);
        else mutate(body[where] as Record<string, unknown>, mutations);
        expectWellFormed(await post(service, body));
      }),
      { numRuns: runs, seed: 31 },
    );
    expect((await post(service, validRequest(service))).status).toBe(200);
  }, 180_000);
});
