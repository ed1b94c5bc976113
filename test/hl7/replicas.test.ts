/**
 * Several replicas on one PostgreSQL queue (issue 9 §State that scales): each message applied by
 * exactly one worker, per-patient order across workers, a dead replica's claims taken over,
 * duplicates across listeners ACKed but not applied again, and AR (never AA) while PostgreSQL is
 * unreachable. The crash of a listener process: test/hl7/durability.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import net, { type AddressInfo } from 'node:net';
import { FhirStore } from '../../src/sandbox/fhir/store.js';
import { startHl7FromConfig, startHl7Interface, type Hl7Interface } from '../../src/hl7/index.js';
import { loadConfig } from '../../src/config.js';
import { storeWriter } from '../../src/hl7/store-writer.js';
import type { FhirWriter } from '../../src/hl7/fhir-writer.js';
import { Hl7Worker } from '../../src/hl7/worker.js';
import { openPgQueue } from '../../src/hl7/pg-queue.js';
import type { MessageStore, NewInbound } from '../../src/hl7/queue.js';
import { openPgPool } from '../../src/storage/postgres.js';
import { createTestSchema, pgAvailable, PG_TEST_URL, type TestSchema } from '../storage/pg-test-db.js';
import { ackParts, MllpTestClient, oruMessage, quietLogger } from './helpers.js';

const available = await pgAvailable();

const item = (i: number, patient: number): NewInbound => ({ key: `S|F|M${i}`, event: 'ORU^R01', raw: `M${i}|P${patient}`, orderKey: `sys|P${patient}` });

async function until(check: () => Promise<boolean> | boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A TCP relay to PostgreSQL that the test can cut (database unreachable) and restore. */
async function startRelay(): Promise<{ url: string; cut(): Promise<void>; restore(): Promise<void>; close(): Promise<void> }> {
  const target = new URL(PG_TEST_URL);
  const sockets = new Set<net.Socket>();
  // The port stays bound from start to end (closing it and binding it again on restore would race any other
  // process for it): while cut, every connection is reset at once.
  let cutOff = false;
  const server = net.createServer((client) => {
    if (cutOff) {
      client.resetAndDestroy();
      return;
    }
    const upstream = net.connect({ host: target.hostname, port: Number(target.port || 5432) });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => {
        sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as AddressInfo).port;
  const cut = async () => {
    cutOff = true;
    for (const s of sockets) s.destroy();
  };
  const restore = async () => {
    cutOff = false;
  };
  const close = async () => {
    await cut();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  const url = new URL(PG_TEST_URL);
  url.port = String(port);
  return { url: url.toString(), cut, restore, close };
}

(available ? describe : describe.skip)('HL7 queue shared by replicas (PostgreSQL)', () => {
  let schema: TestSchema;
  const cleanups: Array<() => Promise<unknown>> = [];
  beforeEach(async () => {
    schema = await createTestSchema();
  });
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
    await schema.drop();
  });

  async function openStore(options: { leaseMs?: number } = {}): Promise<MessageStore> {
    const store = await openPgQueue(schema.pool({ max: 5 }), options);
    cleanups.push(() => store.close());
    return store;
  }

  it('two workers draining one queue apply each message exactly once, each patient in arrival order', async () => {
    const [s1, s2] = [await openStore(), await openStore()];
    const applied: Array<{ worker: number; id: number; patient: number }> = [];
    const workers = [s1, s2].map((store, w) => {
      const worker = new Hl7Worker({
        store,
        logger: quietLogger,
        batchSize: 10,
        pollMs: 20,
        apply: async (raw) => {
          const [, id, patient] = /^M(\d+)\|P(\d+)$/.exec(raw)!.map(Number);
          applied.push({ worker: w, id: id!, patient: patient! });
          // An FHIR write takes a while: lets the two workers interleave.
          await new Promise((r) => setTimeout(r, id! % 3));
          return { event: 'ORU^R01', patientId: `p${patient}`, observations: 0 };
        },
      });
      cleanups.push(() => worker.stop());
      return worker;
    });
    const n = 400;
    const patients = 20;
    // Half queued before the workers start, half while they run (in groups, as the listener commits).
    for (let i = 0; i < n / 2; i += 25) await s1.enqueue(Array.from({ length: 25 }, (_, k) => item(i + k, (i + k) % patients)));
    for (const w of workers) w.start();
    for (let i = n / 2; i < n; i += 25) {
      await (i % 50 === 0 ? s1 : s2).enqueue(Array.from({ length: 25 }, (_, k) => item(i + k, (i + k) % patients)));
      for (const w of workers) w.notify();
    }
    await until(async () => (await s1.counts()).pending === 0, 30_000);

    const ids = applied.map((a) => a.id).sort((a, b) => a - b);
    expect(ids).toEqual(Array.from({ length: n }, (_, i) => i));
    expect(new Set(applied.map((a) => a.worker))).toEqual(new Set([0, 1]));
    for (let p = 0; p < patients; p++) {
      const order = applied.filter((a) => a.patient === p).map((a) => a.id);
      expect(order).toEqual([...order].sort((a, b) => a - b));
    }
    expect(await s2.counts()).toMatchObject({ pending: 0, applied: n, failed: 0 });
  }, 60_000);

  it("takes over a dead replica's claims once its lease lapses; a closing replica hands them over at once", async () => {
    const deadPool = openPgPool(PG_TEST_URL, { schema: schema.schema, max: 2 });
    const dying = await openPgQueue(deadPool, { leaseMs: 400 });
    await dying.enqueue([item(1, 1), item(2, 2), item(3, 1)]);
    expect((await dying.claim(10)).map((m) => m.raw)).toEqual(['M1|P1', 'M2|P2', 'M3|P1']);

    const other = await openStore({ leaseMs: 400 });
    expect(await other.claim(10)).toEqual([]);
    // The process dies: no more renewals, no release.
    await deadPool.end();
    await until(async () => (await other.claim(10)).length === 3, 5_000);

    // `other` closes cleanly: a third replica gets the rows without waiting for the lease.
    await other.close();
    const third = await openStore({ leaseMs: 60_000 });
    expect((await third.claim(10)).map((m) => m.raw)).toEqual(['M1|P1', 'M2|P2', 'M3|P1']);
  });

  it('a renewed claim is not taken over, and one claimed outbound result is sent by one replica only', async () => {
    // Two lease lengths: long enough for a lapse, with renewals (every third of a lease) to spare on busy cores.
    const [a, b] = [await openStore({ leaseMs: 1000 }), await openStore({ leaseMs: 1000 })];
    await a.enqueue([item(1, 1)]);
    expect(await a.claim(10)).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 2000));
    expect(await b.claim(10)).toEqual([]);

    await a.enqueueOutbound({ controlId: 'O1', raw: 'MSH|result' }, 1000);
    const mine = await a.nextOutbound(2000);
    expect(mine).toMatchObject({ controlId: 'O1' });
    expect(await b.nextOutbound(2000)).toBeUndefined();
    expect(await b.nextOutboundDue()).toBeUndefined();
    await a.retryOutbound(mine!.seq, 1500, 'no ACK in time');
    expect(await b.nextOutbound(2000)).toMatchObject({ controlId: 'O1', attempts: 1 });
  });

  it('startHl7FromConfig puts the queue in PostgreSQL when DATABASE_URL is set (here: a pool given instead)', async () => {
    const fhir = new FhirStore();
    const config = loadConfig({ HL7_PORT: '0', HOST: '127.0.0.1', DATA_DIR: '/nonexistent-vigil-data' });
    const hl7 = await startHl7FromConfig(config, { logger: quietLogger, sandboxStore: fhir, pgPool: schema.pool({ max: 5 }) });
    cleanups.push(() => hl7!.close());
    expect(hl7!.store).toMatchObject({ durable: true, shared: true });
    const client = await MllpTestClient.connect(hl7!.port);
    expect(ackParts(await client.send(oruMessage('CFG1'))).code).toBe('AA');
    client.close();
    await hl7!.worker.idle();
    expect(fhir.count('Observation')).toBe(2);
    const { rows } = await schema.pool({ max: 1 }).query<{ state: string }>('SELECT state FROM hl7_inbound');
    expect(rows).toEqual([{ state: 'applied' }]);
  });

  describe('two listeners on one queue', () => {
    let fhir: FhirStore;
    let writes: number;
    let writer: FhirWriter;
    const replicas: Hl7Interface[] = [];
    beforeEach(() => {
      fhir = new FhirStore();
      writes = 0;
      const base = storeWriter(fhir);
      writer = { ...base, write: async (r) => void (writes++, await base.write(r)) };
    });
    afterEach(async () => {
      for (const r of replicas.splice(0)) await r.close();
    });

    async function replica(store?: MessageStore): Promise<Hl7Interface> {
      const hl7 = await startHl7Interface({ port: 0, host: '127.0.0.1', dataDir: '/nonexistent', store: store ?? (await openPgQueue(schema.pool({ max: 5 }))), pollMs: 50, retryBaseMs: 20, writer, logger: quietLogger });
      replicas.push(hl7);
      return hl7;
    }

    it('ACKs a duplicate sent to the other replica with AA and applies it once', async () => {
      const [a, b] = [await replica(), await replica()];
      const [ca, cb] = [await MllpTestClient.connect(a.port), await MllpTestClient.connect(b.port)];
      expect(ackParts(await ca.send(oruMessage('DUP1', { hr: 88 })))).toMatchObject({ code: 'AA', controlId: 'DUP1' });
      expect(ackParts(await cb.send(oruMessage('DUP1', { hr: 150 })))).toMatchObject({ code: 'AA', controlId: 'DUP1' });
      // The same message sent to both at once: both ACKed, stored once.
      const both = await Promise.all([ca.send(oruMessage('DUP2')), cb.send(oruMessage('DUP2'))]);
      expect(both.map((ack) => ackParts(ack).code)).toEqual(['AA', 'AA']);
      ca.close();
      cb.close();
      await until(async () => (await a.store.counts()).pending === 0, 10_000);
      await Promise.all([a.worker.idle(), b.worker.idle()]);
      expect(writes).toBe(2);
      expect(await b.store.counts()).toMatchObject({ applied: 2, pending: 0 });
      const hr = fhir.search('Observation', new URLSearchParams({ code: '8867-4', _count: '10' }), { baseUrl: 'x' }).entry ?? [];
      expect(hr.map((e) => (e.resource as { valueQuantity?: { value?: number } }).valueQuantity?.value)).toEqual([88, 88]);
    });

    it('answers AR 207 (never AA) while PostgreSQL is unreachable, and AA again once it is back', async () => {
      const relay = await startRelay();
      cleanups.push(() => relay.close());
      const pool = openPgPool(relay.url, { schema: schema.schema, max: 5, connectionTimeoutMs: 2000 });
      const hl7 = await replica(await openPgQueue(pool, { ownsPool: true }));
      const client = await MllpTestClient.connect(hl7.port);
      expect(ackParts(await client.send(oruMessage('UP1'))).code).toBe('AA');

      await relay.cut();
      const down = ackParts(await client.send(oruMessage('DOWN1')));
      expect(down).toMatchObject({ code: 'AR', controlId: 'DOWN1', errCode: '207' });
      expect(down.errText).toMatch(/send it again/);

      await relay.restore();
      // The sender resends the refused message: now stored, ACKed and applied, once.
      expect(ackParts(await client.send(oruMessage('DOWN1'))).code).toBe('AA');
      client.close();
      await until(async () => (await hl7.store.counts().catch(() => ({ pending: 1 }))).pending === 0, 15_000);
      expect(await hl7.store.counts()).toMatchObject({ applied: 2, pending: 0 });
      expect(writes).toBe(2);
    }, 30_000);

    it('starts while PostgreSQL is down: AR 207 until it answers, then AA (tables created on first use)', async () => {
      const relay = await startRelay();
      cleanups.push(() => relay.close());
      await relay.cut();
      const pool = openPgPool(relay.url, { schema: schema.schema, max: 5, connectionTimeoutMs: 2000 });
      const hl7 = await replica(await openPgQueue(pool, { ownsPool: true }));
      const client = await MllpTestClient.connect(hl7.port);
      expect(ackParts(await client.send(oruMessage('EARLY1')))).toMatchObject({ code: 'AR', errCode: '207' });
      await relay.restore();
      expect(ackParts(await client.send(oruMessage('EARLY1'))).code).toBe('AA');
      client.close();
      await until(async () => (await hl7.store.counts().catch(() => ({ pending: 1 }))).pending === 0, 15_000);
      expect(writes).toBe(1);
    }, 30_000);
  });
});
