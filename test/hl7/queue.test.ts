/**
 * The MessageStore contract (src/hl7/queue.ts), run against every back end: memory, SQLite and
 * PostgreSQL (when the test database answers). Multi-replica behaviour: test/hl7/replicas.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { openMemoryQueue } from '../../src/hl7/memory-queue.js';
import type { MessageStore, NewInbound } from '../../src/hl7/queue.js';
import { QUEUE_BACKENDS, type QueueBackend, type QueueDb } from './queue-backends.js';

const memory: QueueBackend & { durableBackend: false } = {
  name: 'memory' as QueueBackend['name'],
  durableBackend: false,
  async createDb() {
    const store = openMemoryQueue();
    return {
      dir: '',
      open: async () => store,
      storedControlIds: async () => new Set<string>(),
      query: () => Promise.reject(new Error('memory')),
      child: { args: [], env: {} },
      drop: async () => undefined,
    };
  },
};

const msg = (id: string, raw = `MSH|^~\\&|S|F|||||ORU^R01|${id}|P|2.5.1`): NewInbound => ({ key: `S|F|${id}`, event: 'ORU^R01', raw, orderKey: 'sys|P1' });

describe.each([memory, ...QUEUE_BACKENDS.map((b) => ({ ...b, durableBackend: true }))])('MessageStore on $name', (backend) => {
  let db: QueueDb;
  let store: MessageStore;
  beforeEach(async () => {
    db = await backend.createDb();
    store = await db.open();
  });
  afterEach(async () => {
    await store.close();
    await db.drop();
  });

  it('stores a group in order; a key already stored, or twice in one group, is a duplicate', async () => {
    const first = await store.enqueue([msg('A'), msg('B')]);
    expect(first.every((s) => typeof s === 'number')).toBe(true);
    expect(first[1]!).toBeGreaterThan(first[0]!);
    const second = await store.enqueue([msg('B'), msg('C'), msg('C')]);
    expect(second[0]).toBeUndefined();
    expect(second[1]).toBeGreaterThan(first[1]!);
    expect(second[2]).toBeUndefined();
    expect(await store.enqueue([])).toEqual([]);
    expect(await store.counts()).toMatchObject({ pending: 3, applied: 0, failed: 0 });
  });

  it('hands out pending messages oldest first with their raw text intact (Latin-1 letters, a NUL byte)', async () => {
    const raw = 'MSH|^~\\&|S|F|||||ORU^R01|X|P|2.5.1\rPID|1||1^^^H^MR||Müller^Zoë\rNTE|1||a\u0000b';
    const [seq] = await store.enqueue([msg('X', raw), msg('Y')]);
    const claimed = await store.claim(10);
    expect(claimed.map((m) => m.key)).toEqual(['S|F|X', 'S|F|Y']);
    expect(claimed[0]).toMatchObject({ seq, event: 'ORU^R01', raw, attempts: 0 });
    expect((await store.claim(1)).map((m) => m.key)).toEqual(['S|F|X']);
  });

  it('tracks applied, retried and failed messages', async () => {
    const [a, b, c] = (await store.enqueue([msg('A'), msg('B'), msg('C')])) as number[];
    await store.markApplied(a!);
    await store.recordAttempt(b!, 'ServiceUnavailableError: down');
    await store.markFailed(c!, 'refused '.repeat(200));
    const left = await store.claim(10);
    expect(left.map((m) => ({ seq: m.seq, attempts: m.attempts }))).toEqual([{ seq: b, attempts: 1 }]);
    expect(await store.counts()).toMatchObject({ pending: 1, applied: 1, failed: 1 });
    // Applied and failed keys stay known: sending them again is a duplicate.
    expect(await store.enqueue([msg('A'), msg('C')])).toEqual([undefined, undefined]);
  });

  it('keeps outbound results until sent, with next-attempt times', async () => {
    const now = 1_700_000_000_000;
    await store.enqueueOutbound({ controlId: 'O1', raw: 'MSH|one' }, now);
    await store.enqueueOutbound({ controlId: 'O1', raw: 'MSH|one again' }, now);
    await store.enqueueOutbound({ controlId: 'O2', raw: 'MSH|two' }, now + 10);
    expect(await store.nextOutboundDue()).toBe(now);
    const first = await store.nextOutbound(now);
    expect(first).toMatchObject({ controlId: 'O1', raw: 'MSH|one', attempts: 0 });
    await store.retryOutbound(first!.seq, now + 5_000, 'no ACK in time');
    expect(await store.nextOutbound(now + 10)).toMatchObject({ controlId: 'O2' });
    expect(await store.nextOutboundDue()).toBe(now + 10);
    const two = await store.nextOutbound(now + 10);
    await store.markSent(two!.seq);
    expect(await store.nextOutbound(now + 10)).toBeUndefined();
    expect(await store.nextOutboundDue()).toBe(now + 5_000);
    const again = await store.nextOutbound(now + 5_000);
    expect(again).toMatchObject({ controlId: 'O1', attempts: 1 });
    await store.failOutbound(again!.seq, 'receiver answered AR');
    expect(await store.nextOutboundDue()).toBeUndefined();
    expect(await store.counts()).toMatchObject({ outboundPending: 0, outboundSent: 1, outboundFailed: 1 });
  });

  it('keeps everything across a close and reopen (durable back ends)', async () => {
    if (!backend.durableBackend) return;
    const [a] = (await store.enqueue([msg('A'), msg('B')])) as number[];
    await store.markApplied(a!);
    await store.enqueueOutbound({ controlId: 'O1', raw: 'MSH|one' }, 1);
    await store.close();
    store = await db.open();
    expect((await store.claim(10)).map((m) => m.key)).toEqual(['S|F|B']);
    expect(await store.counts()).toMatchObject({ pending: 1, applied: 1, outboundPending: 1 });
  });
});
