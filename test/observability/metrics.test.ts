/**
 * GET /metrics: request histograms by route template, service and hook; FHIR read latency and errors;
 * model inference through the registry seam; HL7 queue depth and back-end gauges; no patient data in
 * any label.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { startFakeFhir, type FakeFhirServer } from '../cds-hooks/helpers.js';
import { VigilMetrics, resourceTypeOf } from '../../src/observability/metrics.js';
import { backendName, openModelRegistry } from '../../src/models/index.js';
import { loadConfig } from '../../src/config.js';
import { startVigil, type RunningVigil } from './helpers.js';

const PATIENT_ID = 'pt-secret-4711';
let app: RunningVigil;
let fhir: FakeFhirServer;

function series(text: string, name: string, labels: Record<string, string>): number | undefined {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (want.every((w) => line.includes(w))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

async function scrape(): Promise<string> {
  const res = await fetch(`${app.origin}/metrics`);
  expect(res.status).toBe(200);
  // Prometheus text exposition format 0.0.4 (parameter order is not significant).
  expect(res.headers.get('content-type')).toMatch(/^text\/plain;.*version=0\.0\.4/);
  return res.text();
}

beforeAll(async () => {
  fhir = await startFakeFhir({ [`Patient/${PATIENT_ID}`]: { body: { resourceType: 'Patient', id: PATIENT_ID, birthDate: '1950-01-01' } } });
  app = await startVigil();
});

afterAll(async () => {
  await app.stop();
  await fhir.close();
});

describe('GET /metrics', () => {
  it('counts requests by route template, service and hook, and FHIR reads by resource type and outcome', async () => {
    expect((await fetch(`${app.origin}/healthz`)).status).toBe(200);
    const body = {
      hook: 'patient-view',
      hookInstance: randomUUID(),
      fhirServer: fhir.baseUrl,
      context: { userId: 'Practitioner/u1', patientId: PATIENT_ID },
    };
    const res = await app.post('/cds-services/vigil-news2', body);
    expect(res.status).toBe(200);
    // An unknown service id must not create a series of its own.
    expect((await app.post('/cds-services/svc-unknown-0815', body)).status).toBe(404);

    const text = await scrape();
    // The app wires its audit store into the pending-events gauge.
    expect(text).toMatch(/^vigil_audit_events_pending \d+$/m);
    expect(series(text, 'vigil_http_request_duration_seconds_count', { method: 'GET', route: '/healthz', status: '200' })).toBe(1);
    expect(
      series(text, 'vigil_http_request_duration_seconds_count', {
        method: 'POST', route: '/cds-services/:id', status: '200', service: 'vigil-news2', hook: 'patient-view',
      }),
    ).toBe(1);
    expect(series(text, 'vigil_fhir_request_duration_seconds_count', { resource: 'Patient', outcome: 'ok' })).toBe(1);
    // The fake answers 404 to every Observation/Condition search.
    expect(series(text, 'vigil_fhir_request_errors_total', { resource: 'Observation', failure: 'not-found' })).toBeGreaterThanOrEqual(7);
    expect(series(text, 'process_resident_memory_bytes', {})).toBeGreaterThan(0);
    expect(text).not.toContain(PATIENT_ID);
    expect(text).not.toContain('svc-unknown-0815');
    expect(text).not.toContain('Practitioner');
  });

  it('reports HL7 queue depth from a registered source at scrape time, and stops when it is unregistered', async () => {
    let pending = 3;
    const unregister = app.vigil.metrics.registerQueueDepth('hl7', () => ({ inbound: pending, outbound: 1 }));
    expect(series(await scrape(), 'vigil_hl7_queue_depth', { queue: 'inbound' })).toBe(3);
    pending = 0;
    expect(series(await scrape(), 'vigil_hl7_queue_depth', { queue: 'inbound' })).toBe(0);
    unregister();
    expect(series(await scrape(), 'vigil_hl7_queue_depth', { queue: 'inbound' })).toBeUndefined();
    // A failing source does not break the scrape.
    const broken = app.vigil.metrics.registerQueueDepth('broken', () => {
      throw new Error('store closed');
    });
    expect(await scrape()).toContain('vigil_http_request_duration_seconds');
    broken();
  });

  it('records model inference latency and batch size through the registry seam, and the back end in use', async () => {
    const registry = await openModelRegistry({ ...loadConfig({}), backend: 'cpu', modelMaxWaitMs: 1 });
    try {
      const model = registry.get('heart-disease');
      const input = { age: 60, sex: 1, cp: 4, trestbps: 140, chol: 260, fbs: 0, restecg: 2, thalach: 130, exang: 1, oldpeak: 2.1, slope: 2, ca: 1, thal: 7 };
      await Promise.all([model.predict(input), model.predict(input), model.predict(input)]);
      const text = await scrape();
      expect(series(text, 'vigil_model_inference_duration_seconds_count', { model: 'heart-disease' })).toBeGreaterThanOrEqual(1);
      expect(series(text, 'vigil_model_batch_size_sum', { model: 'heart-disease' })).toBe(3);
      // The process has one tfjs engine: whichever back end the first initBackend() chose (the app's, here).
      expect(series(text, 'vigil_model_backend_info', { backend: backendName()! })).toBe(1);
    } finally {
      await registry.close();
    }
  });
});

describe('VigilMetrics', () => {
  it('labels FHIR reads by resource type only, never by id or query', () => {
    expect(resourceTypeOf('Observation?patient=123&code=x')).toBe('Observation');
    expect(resourceTypeOf('Patient/123')).toBe('Patient');
    expect(resourceTypeOf('123/Patient')).toBe('other');
    expect(resourceTypeOf('?_id=1')).toBe('other');
    expect(resourceTypeOf('patient-name-jane')).toBe('other');
  });

  it('reports uncommitted audit events from the audit store at scrape time', async () => {
    const m = new VigilMetrics({ processMetrics: false });
    let pending = 0;
    m.setAuditPendingSource(() => pending);
    expect((await m.exposition()).body).toMatch(/^vigil_audit_events_pending 0$/m);
    pending = 42;
    expect((await m.exposition()).body).toMatch(/^vigil_audit_events_pending 42$/m);
  });

  it('keeps separate registries per instance and records explanations', async () => {
    const a = new VigilMetrics({ processMetrics: false });
    const b = new VigilMetrics({ processMetrics: false });
    a.observeExplanation('deterioration', 'integrated-gradients', 4, 0.2);
    const textA = (await a.exposition()).body;
    expect(textA).toMatch(/vigil_explanation_duration_seconds_count\{model="deterioration",method="integrated-gradients"\} 1/);
    expect(textA).toMatch(/vigil_explanation_batch_size_sum\{model="deterioration",method="integrated-gradients"\} 4/);
    expect((await b.exposition()).body).not.toMatch(/vigil_explanation_duration_seconds_count\{/);
  });
});
