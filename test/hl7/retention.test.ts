/**
 * The HL7 retention runner (src/hl7/retention.ts): batches until nothing is left, stops when another
 * replica holds the purge lock, feeds the purged-rows counter; per-back-end purge semantics are in
 * test/hl7/queue.test.ts.
 */
import { describe, expect, it } from '@jest/globals';
import { openMemoryQueue } from '../../src/hl7/memory-queue.js';
import type { MessageStore, PurgeResult } from '../../src/hl7/queue.js';
import { startHl7Retention } from '../../src/hl7/retention.js';
import { VigilMetrics } from '../../src/observability/metrics.js';

const DAY_MS = 86_400_000;

async function filledStore(n: number): Promise<MessageStore> {
  const store = openMemoryQueue();
  const seqs = (await store.enqueue(Array.from({ length: n }, (_, i) => ({ key: `S|F|${i}`, event: 'ORU^R01', raw: 'MSH|x' })))) as number[];
  for (const s of seqs.slice(0, n - 1)) await store.markApplied(s);
  return store;
}

describe('HL7 retention runner', () => {
  it('purges in batches until none is left, keeps the pending message, and counts what it deleted', async () => {
    const store = await filledStore(12);
    const batches: PurgeResult[] = [];
    const counting: Pick<MessageStore, 'purgeBatch'> = {
      async purgeBatch(before, limit) {
        const r = await store.purgeBatch(before, limit);
        batches.push(r);
        return r;
      },
    };
    const metrics = new VigilMetrics({ processMetrics: false });
    // "Now" is 8 days on, so everything finished is past a 7-day window.
    const retention = startHl7Retention({
      store: counting,
      retentionDays: 7,
      batchSize: 5,
      pauseMs: 1,
      now: () => Date.now() + 8 * DAY_MS,
      onPurged: (p) => metrics.countHl7Purged(p),
    })!;
    // The start-up run is in flight; a second call joins it.
    expect(await retention.purge()).toEqual({ inbound: 11, outbound: 0 });
    await retention.stop();
    expect(batches.map((b) => b.inbound)).toEqual([5, 5, 1]);
    expect(await store.counts()).toMatchObject({ pending: 1, applied: 0 });
    const { body } = await metrics.exposition();
    expect(body).toContain('vigil_hl7_messages_purged_total{queue="inbound"} 11');
  });

  it('keeps recent messages, and does nothing at all with retention 0', async () => {
    const store = await filledStore(3);
    expect(startHl7Retention({ store, retentionDays: 0 })).toBeUndefined();
    const retention = startHl7Retention({ store, retentionDays: 7 })!;
    expect(await retention.purge()).toEqual({ inbound: 0, outbound: 0 });
    await retention.stop();
    expect(await store.counts()).toMatchObject({ pending: 1, applied: 2 });
  });

  it('stops a run when another replica holds the purge lock', async () => {
    let calls = 0;
    const busy: Pick<MessageStore, 'purgeBatch'> = {
      purgeBatch: async () => {
        calls++;
        return { inbound: 0, outbound: 0, busy: true };
      },
    };
    const retention = startHl7Retention({ store: busy, retentionDays: 1, batchSize: 1 })!;
    expect(await retention.purge()).toEqual({ inbound: 0, outbound: 0 });
    await retention.stop();
    expect(calls).toBe(1);
  });
});
