/**
 * Retention of explanation records (EXPLANATION_RETENTION_DAYS) on every back end: purgeOlderThan deletes by
 * `created` and counts; the periodic job purges at start and on its timer, reports to the metrics counter,
 * survives a failing store, and is off with 0 days.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { createVigil } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import type { ExplanationRecord } from '../../src/explanations/record.js';
import { retentionCutoff, startExplanationRetention } from '../../src/explanations/retention.js';
import { openSqliteExplanationStore } from '../../src/explanations/sqlite-store.js';
import { VigilMetrics } from '../../src/observability/metrics.js';
import { bareRecord } from '../explanations/helpers.js';
import { storageBackends, type StorageTarget } from './backends.js';

const record = (id: string, created: string): ExplanationRecord => bareRecord(id, 'p1', 'deterioration', created);

const DAY = 86_400_000;

describe.each(await storageBackends())('$name explanation retention', (backend) => {
  let target: StorageTarget;
  beforeEach(async () => {
    target = await backend.create();
  });
  afterEach(async () => {
    await target.dispose();
  });

  it('purgeOlderThan deletes the records created before the instant, counts them, and keeps the rest', async () => {
    const store = target.openExplanations();
    await store.save(record('old-1', '2026-10-01T00:00:00.000Z'));
    await store.save(record('old-2', '2026-10-24T23:59:59.999Z'));
    await store.save(record('edge', '2026-10-25T00:00:00.000Z'));
    await store.save(record('new', '2026-11-25T10:00:00.000Z'));
    expect(await store.purgeOlderThan(new Date('2026-10-25T00:00:00.000Z'))).toBe(2);
    expect(await store.get('old-1')).toBeUndefined();
    expect(await store.get('old-2')).toBeUndefined();
    expect(await store.get('edge')).toBeDefined();
    expect((await store.latestByModel('p1')).map((r) => r.id)).toEqual(['new']);
    expect(await target.count('explanation')).toBe(2);
    expect(await store.purgeOlderThan(new Date('2026-10-25T00:00:00.000Z'))).toBe(0);
  });

  it('purges a backlog larger than one batch, batch after batch', async () => {
    const store = target.openExplanations();
    for (let i = 0; i < 7; i++) await store.save(record(`old-${i}`, `2026-01-0${i + 1}T00:00:00.000Z`));
    await store.save(record('kept', '2026-11-01T00:00:00.000Z'));
    expect(await store.purgeOlderThan(new Date('2026-06-01T00:00:00.000Z'), { batchSize: 3 })).toBe(7);
    expect(await target.count('explanation')).toBe(1);
    expect(await store.get('kept')).toBeDefined();
  });

  it('the job purges at start and on its timer, and counts what it deleted', async () => {
    const store = target.openExplanations();
    let now = Date.parse('2026-11-25T12:00:00.000Z');
    await store.save(record('40-days', new Date(now - 40 * DAY).toISOString()));
    await store.save(record('29-days', new Date(now - 29 * DAY).toISOString()));
    await store.save(record('today', new Date(now).toISOString()));
    const metrics = new VigilMetrics({ processMetrics: false });
    const purged: number[] = [];
    const job = startExplanationRetention({
      store,
      retentionDays: 30,
      intervalMs: 50,
      now: () => now,
      onPurged: (n) => {
        purged.push(n);
        metrics.countExplanationsPurged(n);
      },
    })!;
    try {
      await waitFor(() => purged.length >= 1);
      expect(purged[0]).toBe(1);
      expect(await store.get('40-days')).toBeUndefined();
      expect(await store.get('29-days')).toBeDefined();
      // Two days later the 29-day-old record is past retention too; the timer finds it.
      now += 2 * DAY;
      await waitFor(async () => (await store.get('29-days')) === undefined);
      expect(await store.get('today')).toBeDefined();
      expect((await metrics.exposition()).body).toMatch(/^vigil_explanation_records_purged_total 2$/m);
    } finally {
      await job.stop();
    }
  });
});

describe('explanation retention job', () => {
  it('is off with 0 days', () => {
    let calls = 0;
    const job = startExplanationRetention({ store: { purgeOlderThan: async () => ++calls }, retentionDays: 0 });
    expect(job).toBeUndefined();
    expect(calls).toBe(0);
  });

  it('cuts off exactly retentionDays before now', () => {
    expect(retentionCutoff(Date.parse('2026-11-25T12:00:00.000Z'), 30).toISOString()).toBe('2026-10-26T12:00:00.000Z');
  });

  it('keeps going after a failed purge (database down), one purge at a time', async () => {
    let calls = 0;
    let inFlight = 0;
    let maxInFlight = 0;
    const job = startExplanationRetention({
      store: {
        async purgeOlderThan() {
          calls++;
          inFlight++;
          maxInFlight = Math.max(maxInFlight, inFlight);
          await new Promise((r) => setTimeout(r, 30));
          inFlight--;
          if (calls === 1) throw Object.assign(new Error('connection refused'), { code: 'ECONNREFUSED' });
          return 0;
        },
      },
      retentionDays: 1,
      intervalMs: 10,
    })!;
    try {
      await waitFor(() => calls >= 3);
      expect(maxInFlight).toBe(1);
      await expect(job.purge()).resolves.toBe(0);
    } finally {
      await job.stop();
    }
  });

  it('runs in the app: a record past EXPLANATION_RETENTION_DAYS is gone after start-up, and /metrics counts it', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-retention-'));
    try {
      const seed = openSqliteExplanationStore(dataDir);
      await seed.save(record('ancient', new Date(Date.now() - 10 * DAY).toISOString()));
      await seed.save(record('recent', new Date(Date.now() - 2 * DAY).toISOString()));
      await seed.close();
      const vigil = await createVigil(
        loadConfig({ DATA_DIR: dataDir, SANDBOX: 'off', LOG_LEVEL: 'silent', PRECOMPUTE: 'off', HL7_PORT: 'off', EXPLANATION_RETENTION_DAYS: '7', MODELS_DIR: path.join(dataDir, 'no-models') }),
      );
      const server = vigil.app.listen(0, '127.0.0.1');
      await new Promise<void>((resolve) => server.once('listening', () => resolve()));
      try {
        const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
        let body = '';
        await waitFor(async () => {
          body = await (await fetch(`${origin}/metrics`)).text();
          return /^vigil_explanation_records_purged_total 1$/m.test(body);
        });
        const check = openSqliteExplanationStore(dataDir);
        expect(await check.get('ancient')).toBeUndefined();
        expect(await check.get('recent')).toBeDefined();
        await check.close();
      } finally {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        await vigil.close();
      }
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  }, 30_000);
});

async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
