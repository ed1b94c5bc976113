/**
 * The MessageStore contract (src/hl7/queue.ts), run against every back end: memory, SQLite and
 * PostgreSQL (when the test database answers). Multi-replica behaviour: test/hl7/replicas.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { openMemoryQueue } from '../../src/hl7/memory-queue.js';
import type { MessageStore, NewInbound } from '../../src/hl7/queue.js';
import { PG_BACKEND, pgReady, QUEUE_BACKENDS, type QueueBackend, type QueueDb } from './queue-backends.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const memory: QueueBackend & { durableBackend: false } = {
  name: 'memory' as QueueBackend['name'],
  durableBackend: false,
  async createDb() {
    let store: MessageStore | undefined;
    return {
      dir: '',
      // One store per "database": a reopen finds the same (nothing is durable, nothing is lost either).
      open: async (options = {}) => (store ??= openMemoryQueue(options.countCap !== undefined ? { countCap: options.countCap } : {})),
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
  it('purges applied and failed messages received before the cutoff, never pending or recent ones', async () => {
    const [a, b, c, d] = (await store.enqueue([msg('A'), msg('B'), msg('C'), msg('D')])) as number[];
    await store.markApplied(a!);
    await store.markApplied(b!);
    await store.markFailed(c!, 'refused');
    // D stays pending, however old.
    await sleep(60);
    const cutoff = Date.now();
    await sleep(60);
    const [e, f] = (await store.enqueue([msg('E'), msg('F')])) as number[];
    await store.markApplied(e!);
    await store.markFailed(f!, 'refused');
    expect(await store.counts()).toMatchObject({ pending: 1, applied: 3, failed: 2 });

    expect(await store.purgeBatch(cutoff, 100)).toEqual({ inbound: 3, outbound: 0, busy: false });
    expect(await store.counts()).toMatchObject({ pending: 1, applied: 1, failed: 1 });
    expect((await store.claim(10)).map((m) => m.seq)).toEqual([d]);
    expect(await store.purgeBatch(cutoff, 100)).toEqual({ inbound: 0, outbound: 0, busy: false });
    // A purged key is forgotten: the same message is stored (and applied) again; recent keys still are duplicates.
    const again = await store.enqueue([msg('A'), msg('D'), msg('E')]);
    expect(typeof again[0]).toBe('number');
    expect(again[0]!).toBeGreaterThan(f!);
    expect(again.slice(1)).toEqual([undefined, undefined]);
    expect(await store.counts()).toMatchObject({ pending: 2, applied: 1, failed: 1 });
    // Everything finished goes once the cutoff passes it; pending rows stay.
    expect(await store.purgeBatch(Date.now() + 60_000, 100)).toMatchObject({ inbound: 2 });
    expect(await store.counts()).toMatchObject({ pending: 2, applied: 0, failed: 0 });
  });

  it('purges at most `limit` rows per table per batch', async () => {
    const seqs = (await store.enqueue(['1', '2', '3', '4', '5'].map((id) => msg(id)))) as number[];
    for (const s of seqs) await store.markApplied(s);
    const now = 1_700_000_000_000;
    for (const id of ['O1', 'O2', 'O3']) {
      await store.enqueueOutbound({ controlId: id, raw: `MSH|${id}` }, now);
      await store.markSent((await store.nextOutbound(now))!.seq);
    }
    const later = Date.now() + 60_000;
    expect(await store.purgeBatch(later, 2)).toEqual({ inbound: 2, outbound: 2, busy: false });
    expect(await store.counts()).toMatchObject({ applied: 3, outboundSent: 1 });
    expect(await store.purgeBatch(later, 2)).toEqual({ inbound: 2, outbound: 1, busy: false });
    expect(await store.purgeBatch(later, 2)).toEqual({ inbound: 1, outbound: 0, busy: false });
    expect(await store.counts()).toMatchObject({ pending: 0, applied: 0, failed: 0, outboundSent: 0 });
  });

  it('purges sent and failed outbound results created before the cutoff, never pending ones', async () => {
    const t = 1_700_000_000_000;
    for (const [id, at] of [['O1', t], ['O2', t + 1], ['O3', t + 2], ['O4', t + 10_000]] as const) await store.enqueueOutbound({ controlId: id, raw: `MSH|${id}` }, at);
    const o1 = await store.nextOutbound(t);
    await store.markSent(o1!.seq);
    const o2 = await store.nextOutbound(t + 1);
    await store.failOutbound(o2!.seq, 'receiver answered AR');
    // O3 stays pending; O4 is sent but recent.
    const o4 = await store.nextOutbound(t + 10_000);
    expect(o4).toMatchObject({ controlId: 'O3' });
    await store.retryOutbound(o4!.seq, t + 20_000, 'no ACK in time');
    const o4b = await store.nextOutbound(t + 10_000);
    expect(o4b).toMatchObject({ controlId: 'O4' });
    await store.markSent(o4b!.seq);
    expect(await store.counts()).toMatchObject({ outboundPending: 1, outboundSent: 2, outboundFailed: 1 });
    expect(await store.purgeBatch(t + 5_000, 100)).toEqual({ inbound: 0, outbound: 2, busy: false });
    expect(await store.counts()).toMatchObject({ outboundPending: 1, outboundSent: 1, outboundFailed: 0 });
    expect(await store.nextOutbound(t + 20_000)).toMatchObject({ controlId: 'O3' });
    // A purged control id may be queued again (a new result would have a new one anyway).
    await store.enqueueOutbound({ controlId: 'O1', raw: 'MSH|O1' }, t + 30_000);
    expect(await store.counts()).toMatchObject({ outboundPending: 2 });
  });

  it('counts applied and sent rows only up to the cap; pending and failed exactly', async () => {
    await store.close();
    await db.drop();
    db = await backend.createDb();
    store = await db.open({ countCap: 3 });
    const seqs = (await store.enqueue(['1', '2', '3', '4', '5', '6', '7'].map((id) => msg(id)))) as number[];
    for (const s of seqs.slice(0, 5)) await store.markApplied(s);
    await store.markFailed(seqs[5]!, 'refused');
    for (const id of ['O1', 'O2', 'O3', 'O4']) {
      await store.enqueueOutbound({ controlId: id, raw: `MSH|${id}` }, 1);
      await store.markSent((await store.nextOutbound(1))!.seq);
    }
    await store.enqueueOutbound({ controlId: 'O5', raw: 'MSH|O5' }, 1);
    expect(await store.counts()).toEqual({ pending: 1, applied: 3, failed: 1, outboundPending: 1, outboundSent: 3, outboundFailed: 0 });
    await store.purgeBatch(Date.now() + 60_000, 3);
    expect(await store.counts()).toEqual({ pending: 1, applied: 2, failed: 1, outboundPending: 1, outboundSent: 1, outboundFailed: 0 });
  });
});

(pgReady ? describe : describe.skip)('HL7 retention on PostgreSQL across replicas', () => {
  let db: QueueDb;
  let a: MessageStore;
  beforeEach(async () => {
    db = await PG_BACKEND.createDb();
    a = await db.open({ instanceId: 'replica-a' });
  });
  afterEach(async () => {
    await a.close();
    await db.drop();
  });

  it("leaves rows under another replica's live claim alone, and purges nothing while another replica holds the purge lock", async () => {
    const [x, y] = (await a.enqueue([msg('X'), msg('Y')])) as number[];
    await a.markApplied(x!);
    await a.markApplied(y!);
    await a.counts();
    // A claim that outlived its row's state change (not made by this code, but never to be purged under a holder).
    await db.query(`UPDATE hl7_inbound SET claimed_by = 'replica-b', claimed_until = now() + interval '1 minute' WHERE seq = ${Number(y)}`);
    const later = Date.now() + 60_000;
    expect(await a.purgeBatch(later, 100)).toEqual({ inbound: 1, outbound: 0, busy: false });
    expect((await db.query('SELECT seq FROM hl7_inbound')).rows.map((r) => Number(r.seq))).toEqual([y]);
    // Lapsed, the claim no longer protects it.
    await db.query(`UPDATE hl7_inbound SET claimed_until = now() - interval '1 second' WHERE seq = ${Number(y)}`);
    // Another replica mid-purge: its lock makes this batch a no-op.
    await db.query("SELECT pg_advisory_lock(hashtext(current_schema() || '.hl7_purge'))");
    expect(await a.purgeBatch(later, 100)).toEqual({ inbound: 0, outbound: 0, busy: true });
  });
});
