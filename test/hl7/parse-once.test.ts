/**
 * Parse once (issue 6): the plan the listener built for the ACK reaches the worker in memory; after a
 * restart the worker parses the raw text from the queue (SQLite, PostgreSQL). Durable before ACK and duplicates
 * are unchanged.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { Ingest } from '../../src/hl7/ingest.js';
import { Hl7Worker } from '../../src/hl7/worker.js';
import { PlanHandoff } from '../../src/hl7/plan-handoff.js';
import { openMemoryQueue } from '../../src/hl7/memory-queue.js';
import { loadLocalCodes } from '../../src/hl7/local-codes.js';
import type { IngestPlan } from '../../src/hl7/plan.js';
import type { MessageStore } from '../../src/hl7/queue.js';
import { quietLogger } from './helpers.js';
import { QUEUE_BACKENDS, type QueueDb } from './queue-backends.js';

const local = loadLocalCodes();

function oru(id: string): Buffer {
  const t = '20260101120000+0000';
  return Buffer.from(
    [
      `MSH|^~\\&|MON|WARD|VIGIL|HOSP|${t}||ORU^R01^ORU_R01|${id}|P|2.5.1`,
      'PID|1||MRN1^^^HOSP^MR||Test^Pat||19600101|F',
      `OBX|1|NM|8867-4^Heart rate^LN||72|/min^^UCUM|||||F|||${t}`,
    ].join('\r'),
  );
}

interface Applied {
  raw: string;
  plan: IngestPlan | undefined;
}

function startWorker(store: MessageStore, handoff: PlanHandoff | undefined, applied: Applied[]): Hl7Worker {
  const worker = new Hl7Worker({
    store,
    logger: quietLogger,
    ...(handoff ? { handoff } : {}),
    apply: async (raw, plan) => {
      applied.push({ raw, plan });
      return { event: 'ORU^R01', patientId: 'p', observations: 1 };
    },
  });
  worker.start();
  return worker;
}


describe.each(QUEUE_BACKENDS)('parse once on the $name queue', (backend) => {
  let db: QueueDb;
  beforeEach(async () => {
    db = await backend.createDb();
  });
  afterEach(async () => {
    await db.drop();
  });

  it('hands the ACK-time plan to the worker; the raw message is committed before the AA', async () => {
    const store = await db.open();
    const handoff = new PlanHandoff();
    const applied: Applied[] = [];
    const worker = startWorker(store, handoff, applied);
    const ingest = new Ingest({ local, store, logger: quietLogger, handoff, onStored: () => worker.notify() });

    const outcomes = await Promise.all(['A1', 'A2', 'A3'].map((id) => ingest.receive(oru(id))));
    expect(outcomes.map((o) => o.decision.code)).toEqual(['AA', 'AA', 'AA']);
    // Every ACKed message is in the queue file already (another connection sees it).
    const atAck = await store.counts();
    const pendingAtAck = atAck.pending + atAck.applied;
    expect(pendingAtAck).toBe(3);

    await worker.idle();
    expect(applied.map((a) => a.plan?.messageKey)).toEqual(['MON|WARD|A1', 'MON|WARD|A2', 'MON|WARD|A3']);
    expect(applied[0]!.plan!.observations[0]!.valueQuantity?.value).toBe(72);
    expect(handoff.size).toBe(0);

    // A duplicate is ACKed, not stored, not handed over, not applied.
    const dup = await ingest.receive(oru('A2'));
    expect(dup).toMatchObject({ duplicate: true, decision: { code: 'AA' } });
    await worker.idle();
    expect(applied).toHaveLength(3);
    expect(handoff.size).toBe(0);
    expect(await store.counts()).toMatchObject({ pending: 0, applied: 3 });
    await worker.stop();
    await store.close();
  });

  it('after a restart the worker parses the queued raw text (no plan survives)', async () => {
    const first = await db.open();
    const handoff = new PlanHandoff();
    const ingest = new Ingest({ local, store: first, logger: quietLogger, handoff });
    for (const id of ['R1', 'R2']) expect((await ingest.receive(oru(id))).decision.code).toBe('AA');
    expect(handoff.size).toBe(2);
    await first.close(); // "crash" before the worker ran

    const second = await db.open();
    const applied: Applied[] = [];
    const worker = startWorker(second, new PlanHandoff(), applied);
    await worker.idle();
    expect(applied.map((a) => a.plan)).toEqual([undefined, undefined]);
    expect(applied.map((a) => a.raw)).toEqual([oru('R1').toString(), oru('R2').toString()]);
    expect(await second.counts()).toMatchObject({ pending: 0, applied: 2 });
    await worker.stop();
    await second.close();
  });
});

describe('parse once', () => {
  it('keeps a plan across a transient failure and releases it once the message is set aside', async () => {
    const store = openMemoryQueue();
    const handoff = new PlanHandoff();
    const seen: Array<IngestPlan | undefined> = [];
    let calls = 0;
    const { ServiceUnavailableError } = await import('../../src/errors.js');
    const worker = new Hl7Worker({
      store,
      logger: quietLogger,
      handoff,
      retryBaseMs: 1,
      apply: async (_raw, plan) => {
        seen.push(plan);
        if (++calls === 1) throw new ServiceUnavailableError('store down');
        throw new Error('refused');
      },
    });
    const ingest = new Ingest({ local, store, logger: quietLogger, handoff, onStored: () => worker.notify() });
    worker.start();
    expect((await ingest.receive(oru('T1'))).decision.code).toBe('AA');
    await worker.idle();
    expect(seen).toHaveLength(2);
    expect(seen[0]?.messageKey).toBe('MON|WARD|T1');
    expect(seen[1]).toBe(seen[0]);
    expect(handoff.size).toBe(0);
    expect(await store.counts()).toMatchObject({ failed: 1, pending: 0 });
    await worker.stop();
  });

  it('is bounded: past its limit plans are not kept and those messages are parsed when applied', () => {
    const handoff = new PlanHandoff(2);
    const plan = { messageKey: 'k' } as IngestPlan;
    handoff.put(1, plan);
    handoff.put(2, plan);
    handoff.put(3, plan);
    expect([handoff.get(1), handoff.get(2), handoff.get(3)]).toEqual([plan, plan, undefined]);
    handoff.release(1);
    handoff.put(4, plan);
    expect(handoff.get(4)).toBe(plan);
  });
});
