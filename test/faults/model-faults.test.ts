/**
 * A model that fails to load (issue 9): /readyz reports it (503 with the reason) so the instance leaves
 * the load balancer, /healthz stays 200 (restarting would not fix a broken artefact), NEWS2 keeps
 * answering, and the model services answer without a 5xx.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startVigil, type RunningVigil } from '../observability/helpers.js';

let app: RunningVigil;
let modelsDir: string;

beforeAll(async () => {
  modelsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-broken-models-'));
  fs.cpSync(path.resolve('models/heart-disease'), path.join(modelsDir, 'heart-disease'), { recursive: true });
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
});
