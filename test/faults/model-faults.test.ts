/**
 * A model that fails to load (issue 9): /readyz reports it (503 with the reason) so the instance leaves
 * the load balancer, /healthz stays 200 (restarting would not fix a broken artefact), NEWS2 and the
 * services of the models that did load keep answering with real scores, and the broken model's service
 * answers without a 5xx.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startVigil, type RunningVigil } from '../observability/helpers.js';
import { fillPrefetchTemplate } from '../../src/cds-hooks/prefetch-template.js';
import { fillPrefetch } from '../../src/sandbox/ehr/hook-request.js';
import { ModelRegistry } from '../../src/models/index.js';
import { FHIR_BASE, loadSandboxFixture } from '../cds-hooks/services/deterioration-fixtures.js';

let app: RunningVigil;
let modelsDir: string;

beforeAll(async () => {
  modelsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-broken-models-'));
  // Two models: one broken below, one intact (its service must keep working).
  for (const id of ['heart-disease', 'deterioration']) fs.cpSync(path.resolve(`models/${id}`), path.join(modelsDir, id), { recursive: true });
  // Half the weights: the artefact is there, but cannot be loaded.
  const weights = path.join(modelsDir, 'heart-disease', 'weights.bin');
  fs.truncateSync(weights, Math.floor(fs.statSync(weights).size / 2));
  app = await startVigil({ MODELS_DIR: modelsDir, RATE_LIMIT_RPS: '0' });
});

afterAll(async () => {
  await app.stop();
  fs.rmSync(modelsDir, { recursive: true, force: true });
});

async function readyz(): Promise<{ status: number; body: { checks: Array<{ name: string; ok: boolean; reason?: string }> } }> {
  const res = await fetch(`${app.origin}/readyz`);
  return { status: res.status, body: (await res.json()) as never };
}

const patientView = () => ({
  hook: 'patient-view',
  hookInstance: randomUUID(),
  context: { userId: 'Practitioner/u1', patientId: 'p1' },
  prefetch: { patient: { resourceType: 'Patient', id: 'p1', birthDate: '1950-01-01', gender: 'male' } },
});

describe('a model that fails to load', () => {
  it('makes /readyz 503 with the reason (after loading settles) while /healthz stays 200', async () => {
    let ready = await readyz();
    for (let i = 0; i < 200 && ready.body.checks.find((c) => c.name === 'models')?.reason === 'models are still loading'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      ready = await readyz();
    }
    expect(ready.status).toBe(503);
    const models = ready.body.checks.find((c) => c.name === 'models')!;
    expect(models.ok).toBe(false);
    expect(models.reason).toMatch(/^models could not be loaded: /);
    expect(models.reason).toContain('heart-disease');
    expect(models.reason).not.toContain('deterioration');
    expect(ready.body.checks.filter((c) => c.name !== 'models').every((c) => c.ok)).toBe(true);
    expect((await fetch(`${app.origin}/healthz`)).status).toBe(200);
  });

  it('leaves NEWS2 working and the model services answering without a 5xx', async () => {
    const news2 = await app.post('/cds-services/vigil-news2', patientView());
    expect(news2.status).toBe(200);
    for (const id of ['vigil-heart-disease', 'vigil-deterioration']) {
      const res = await app.post(`/cds-services/${id}`, patientView());
      expect(res.status).toBeLessThan(500);
      await res.arrayBuffer();
    }
  });

  it('the service of the model that did load still scores a real patient', async () => {
    // A septic sandbox patient (data/sandbox/index.json), prefetch filled as the sandbox EHR fills it.
    const patientId = '7aa15a43-3a41-4d3d-a9c5-7ef941757531';
    const { services } = (await (await fetch(`${app.origin}/cds-services`)).json()) as { services: Array<{ id: string; prefetch?: Record<string, string> }> };
    const definition = services.find((s) => s.id === 'vigil-deterioration')!;
    const context = { userId: 'Practitioner/u1', patientId };
    const prefetch = await fillPrefetch(definition.prefetch ?? {}, context, { fill: fillPrefetchTemplate, source: loadSandboxFixture(new Date()).store, fhirServer: FHIR_BASE });
    const res = await app.post('/cds-services/vigil-deterioration', { hook: 'patient-view', hookInstance: randomUUID(), context, prefetch });
    expect(res.status).toBe(200);
    const { cards } = (await res.json()) as { cards: Array<{ summary: string }> };
    expect(cards[0]!.summary).toMatch(/^Sepsis risk \d+\.\d % within 6 h/);

    const heart = await app.post('/cds-services/vigil-heart-disease', patientView());
    expect(heart.status).toBe(200);
    const unavailable = (await heart.json()) as { cards: Array<{ summary: string }> };
    // Said, not silently dropped: the broken model's service tells the clinician it could not score.
    expect(unavailable.cards.map((c) => c.summary).join(' ')).toMatch(/unavailable|not available|could not/i);
  });
});

describe('ModelRegistry.open over a folder with a broken model', () => {
  it("throws by default (tools), serves the rest with brokenModels: 'skip' and lists the broken one until a reload mends it", async () => {
    await expect(ModelRegistry.open({ dir: modelsDir })).rejects.toThrow();
    const registry = await ModelRegistry.open({ dir: modelsDir, brokenModels: 'skip' });
    try {
      expect(registry.ids()).toEqual(['deterioration']);
      expect([...registry.failures().keys()]).toEqual(['heart-disease']);
      fs.copyFileSync(path.resolve('models/heart-disease/weights.bin'), path.join(modelsDir, 'heart-disease', 'weights.bin'));
      await registry.reload('heart-disease');
      expect(registry.ids()).toEqual(['deterioration', 'heart-disease']);
      expect(registry.failures().size).toBe(0);
    } finally {
      await registry.close();
    }
  });
});
