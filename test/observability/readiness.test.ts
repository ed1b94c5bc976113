/**
 * GET /readyz (dependencies usable → 200, else 503 with reasons) next to GET /healthz (liveness, always
 * 200 while the process answers), and the Readiness evaluator's time-box and reason hygiene.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Readiness, modelsLoadedCheck } from '../../src/observability/readiness.js';
import { startVigil, waitUntilReady, type RunningVigil } from './helpers.js';

interface ReadyBody {
  status: string;
  checks: Array<{ name: string; ok: boolean; reason?: string }>;
}

let app: RunningVigil;

beforeAll(async () => {
  app = await startVigil();
});
afterAll(async () => {
  await app.stop();
});

describe('GET /readyz', () => {
  it('is ready when the stores answer, naming each check', async () => {
    const res = await waitUntilReady(app.origin);
    expect(res.status).toBe(200);
    const body = (await res.json()) as ReadyBody;
    expect(body.status).toBe('ready');
    expect(body.checks.map((c) => c.name).sort()).toEqual(['feedback-store', 'models', 'security-store']);
    expect(body.checks.every((c) => c.ok)).toBe(true);
  });

  it('answers 503 with the reason while a dependency is down, 200 again once it recovers; /healthz stays 200', async () => {
    let loaded: string[] = ['heart-disease'];
    const remove = app.vigil.readiness.register('models', modelsLoadedCheck(() => loaded, ['deterioration', 'heart-disease']));
    const down = await fetch(`${app.origin}/readyz`);
    expect(down.status).toBe(503);
    const body = (await down.json()) as ReadyBody;
    expect(body.status).toBe('not-ready');
    expect(body.checks.find((c) => c.name === 'models')).toMatchObject({ ok: false, reason: 'models not loaded: deterioration' });
    expect((await fetch(`${app.origin}/healthz`)).status).toBe(200);
    const metrics = await (await fetch(`${app.origin}/metrics`)).text();
    expect(metrics).toMatch(/vigil_readiness_check\{check="models"\} 0/);

    loaded = ['deterioration', 'heart-disease'];
    expect((await fetch(`${app.origin}/readyz`)).status).toBe(200);
    remove();
  });
});

describe('Readiness', () => {
  it('counts a hanging check as failing after its time-out instead of hanging the probe', async () => {
    const readiness = new Readiness({ checkTimeoutMs: 100 });
    readiness.register('hangs', () => new Promise<undefined>(() => undefined));
    readiness.register('fine', () => undefined);
    const started = Date.now();
    const report = await readiness.evaluate();
    expect(Date.now() - started).toBeLessThan(1000);
    expect(report.ready).toBe(false);
    expect(report.checks).toEqual([
      { name: 'hangs', ok: false, reason: 'no answer within 100 ms', ms: expect.any(Number) },
      { name: 'fine', ok: true, ms: expect.any(Number) },
    ]);
  });

  it('turns a thrown error into a reason without credentials from connection strings', async () => {
    const readiness = new Readiness();
    readiness.register('db', () => {
      throw new Error('connect ECONNREFUSED postgres://vigil:hunter2@db.internal:5432/vigil');
    });
    const [check] = (await readiness.evaluate()).checks;
    expect(check!.ok).toBe(false);
    expect(check!.reason).toContain('postgres://***@db.internal');
    expect(check!.reason).not.toContain('hunter2');
  });
});
