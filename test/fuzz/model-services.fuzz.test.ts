/**
 * Fuzzing the model services' hook endpoints (issue 9, "Bad input") with the shipped models loaded: valid
 * patient-view requests for a sandbox patient — prefetch filled as the sandbox EHR fills it — mutated at
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
import { fillPrefetch } from '../../src/sandbox/ehr/hook-request.js';
import { openFeedbackStore, type FeedbackStore } from '../../src/storage/feedback-store.js';
import { silentLogger, testConfig } from '../cds-hooks/helpers.js';
import { FHIR_BASE, loadSandboxFixture, openShippedRegistry } from '../cds-hooks/services/deterioration-fixtures.js';
import { mutate, replacement } from './mutate.js';

/** A sandbox patient with an ICU window and a cardiology work-up (data/sandbox/index.json). */
const PATIENT = '0283b437-ef20-41bb-a026-b60a742d536a';
const CLIENT_ERRORS = [400, 404, 412, 413, 415];
const SERVICES = ['vigil-deterioration', 'vigil-heart-disease'] as const;

let registry: ModelRegistry;
let explanations: ExplanationStore;
let feedback: FeedbackStore;
let server: Server;
let origin: string;
const prefetches = new Map<string, Record<string, FhirResource | null>>();

beforeAll(async () => {
  registry = await openShippedRegistry();
  explanations = openSqliteExplanationStore(':memory:');
  feedback = openFeedbackStore(':memory:');
  const services: CdsService[] = createServices({ models: modelProviderOf(registry), explanations, engine: new ExplanationEngine({ cache: new ExplanationCache() }) });
  const { store } = loadSandboxFixture(new Date());
  for (const id of SERVICES) {
    const definition = services.find((s) => s.definition.id === id)!.definition;
    prefetches.set(id, await fillPrefetch(definition.prefetch ?? {}, context(), { fill: fillPrefetchTemplate, source: store, fhirServer: FHIR_BASE }));
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

function context(): Record<string, unknown> {
  return { userId: 'Practitioner/u1', patientId: PATIENT };
}

/** A valid request for the service; no fhirServer, so nothing is ever fetched. */
function validRequest(service: string): Record<string, unknown> {
  return { hook: 'patient-view', hookInstance: randomUUID(), context: context(), prefetch: structuredClone(prefetches.get(service)!) };
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

describe.each(SERVICES)('fuzzing %s with the models loaded', (service) => {
  it('scores the unmutated request (the fuzz baseline)', async () => {
    const answer = await post(service, validRequest(service));
    expect(answer.status).toBe(200);
    expect((answer.json.cards as unknown[]).length).toBeGreaterThan(0);
  });

  it('never answers 5xx to mutated requests, and still scores afterwards', async () => {
    // Mutations aimed at the prefetch (what the handlers read) twice as often as anywhere else.
    const mutation = fc.tuple(fc.nat(), replacement);
    await fc.assert(
      fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 4 }), fc.boolean(), async (mutations, prefetchOnly) => {
        const body = validRequest(service);
        if (prefetchOnly) mutate(body.prefetch as Record<string, unknown>, mutations);
        else mutate(body, mutations);
        expectWellFormed(await post(service, body));
      }),
      { numRuns: service === 'vigil-deterioration' ? 60 : 150, seed: 31 },
    );
    expect((await post(service, validRequest(service))).status).toBe(200);
  }, 180_000);
});
