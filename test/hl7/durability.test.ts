/**
 * No ACKed message is lost: a listener process is SIGKILLed while four connections send; every
 * control id it answered AA is in the queue (read straight from the SQLite file or PostgreSQL) and
 * is applied afterwards — by the restarted instance (SQLite) or by another replica on the shared
 * PostgreSQL queue, which also takes over the rows the dead one had claimed.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FhirStore } from '../../src/sandbox/fhir/store.js';
import { startHl7Interface, type Hl7Interface } from '../../src/hl7/index.js';
import { storeWriter } from '../../src/hl7/store-writer.js';
import { ackParts, MllpTestClient, oruMessage, quietLogger } from './helpers.js';
import { PG_BACKEND, pgReady, QUEUE_BACKENDS, type QueueDb } from './queue-backends.js';

const here = path.dirname(fileURLToPath(import.meta.url));

function startChild(db: QueueDb, options: { paused: boolean; env?: Record<string, string> }): Promise<{ child: ChildProcess; port: number }> {
  const args = ['--import', 'tsx', path.join(here, 'child-listener.ts'), ...db.child.args, options.paused ? 'paused' : 'running'];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...db.child.env, ...options.env } });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /PORT (\d+)/.exec(out);
      if (m) resolve({ child, port: Number(m[1]) });
    });
    child.once('exit', (code) => reject(new Error(`child exited early (${code})`)));
  });
}

/**
 * Four connections send as fast as ACKs come back; once at least `minAcked` were ACKed (or 10 s
 * passed) the child is SIGKILLed under them. Returns the control ids answered AA.
 */
async function sendUntilKilled(child: ChildProcess, port: number, minAcked: number): Promise<Set<string>> {
  const acked = new Set<string>();
  let sent = 0;
  let stop = false;
  const senders = Array.from({ length: 4 }, async (_, c) => {
    const client = await MllpTestClient.connect(port);
    try {
      while (!stop) {
        const id = `K${c}-${sent++}`;
        const ack = ackParts(await client.send(oruMessage(id, { mrn: `P${c}` })));
        if (ack.code === 'AA') acked.add(ack.controlId);
      }
    } catch {
      // Connection reset by the kill: the in-flight message was not ACKed.
    }
  });
  const deadline = Date.now() + 10_000;
  while (acked.size < minAcked && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
  stop = true;
  await Promise.all(senders);
  return acked;
}

async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.each(QUEUE_BACKENDS)('crash during ingest (SIGKILL) — $name', (backend) => {
  let db: QueueDb;
  beforeEach(async () => {
    db = await backend.createDb();
  });
  afterEach(async () => {
    await db.drop();
  });

  it('loses no ACKed message: every AA is in the queue after the kill and is applied after restart', async () => {
    const { child, port } = await startChild(db, { paused: true });
    const acked = await sendUntilKilled(child, port, 40);
    expect(acked.size).toBeGreaterThanOrEqual(20);

    // Straight from the file / database: every ACKed control id is stored.
    const stored = await db.storedControlIds();
    expect([...acked].filter((id) => !stored.has(id))).toEqual([]);

    // Restart on the same queue (for PostgreSQL: another replica): the queue replays into the FHIR store.
    const store = new FhirStore();
    const hl7 = await startHl7Interface({ port: 0, host: '127.0.0.1', dataDir: db.dir, store: await db.open(), writer: storeWriter(store), logger: quietLogger });
    await hl7.worker.idle();
    expect((await hl7.store.counts()).pending).toBe(0);
    const applied = (await hl7.store.counts()).applied;
    expect(applied).toBeGreaterThanOrEqual(acked.size);
    expect(store.count('Observation')).toBe(2 * applied);
    // A sender retrying an ACKed message after the crash is answered AA and not applied again.
    const client = await MllpTestClient.connect(hl7.port);
    const again = [...acked][0]!;
    expect(ackParts(await client.send(oruMessage(again, { mrn: 'P0' }))).code).toBe('AA');
    client.close();
    await hl7.worker.idle();
    expect((await hl7.store.counts()).applied).toBe(applied);
    await hl7.close();
  }, 60_000);
});

(pgReady ? describe : describe.skip)('replica failover (PostgreSQL)', () => {
  let db: QueueDb;
  let replicaB: Hl7Interface | undefined;
  beforeEach(async () => {
    db = await PG_BACKEND.createDb();
  });
  afterEach(async () => {
    await replicaB?.close();
    replicaB = undefined;
    await db.drop();
  });

  it('messages ACKed by listener A are applied by replica B after A is SIGKILLed, including the rows A had claimed', async () => {
    // B is up beside A on the same queue, its worker held back until A dies so that A (1 s claim lease,
    // 30 ms per FHIR write, always behind) certainly holds claims then.
    const storeB = new FhirStore();
    replicaB = await startHl7Interface({
      port: 0,
      host: '127.0.0.1',
      dataDir: db.dir,
      store: await db.open({ leaseMs: 1000, instanceId: 'replica-B' }),
      pollMs: 100,
      writer: storeWriter(storeB),
      logger: quietLogger,
      applyPaused: true,
    });
    const { child, port } = await startChild(db, { paused: false, env: { VIGIL_TEST_LEASE_MS: '1000', VIGIL_TEST_APPLY_DELAY_MS: '30' } });
    const acked = await sendUntilKilled(child, port, 60);
    expect(acked.size).toBeGreaterThanOrEqual(20);
    const appliedAtKill = (await replicaB.store.counts()).applied;
    // A was behind (slow FHIR writes): it died holding claims.
    const { rows } = await db.query("SELECT count(*)::int AS n FROM hl7_inbound WHERE state = 'pending' AND claimed_by IS NOT NULL");
    expect(rows[0]?.n).toBeGreaterThan(0);
    replicaB.worker.start();

    // A's claims lapse after the lease; B polls and applies everything that is left.
    await until(async () => (await replicaB!.store.counts()).pending === 0, 20_000);
    const stored = await db.storedControlIds();
    expect([...acked].filter((id) => !stored.has(id))).toEqual([]);
    const counts = await replicaB.store.counts();
    expect(counts).toMatchObject({ pending: 0, failed: 0 });
    expect(counts.applied).toBeGreaterThanOrEqual(acked.size);
    // Whatever A had not marked applied when it died, B applied (its own FHIR store holds them).
    expect(storeB.count('Observation') / 2).toBeGreaterThanOrEqual(counts.applied - appliedAtKill);
  }, 60_000);
});
