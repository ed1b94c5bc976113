/**
 * SQLite back end of the HL7 message store (better-sqlite3), one file under DATA_DIR.
 *
 * Durability: WAL journal with synchronous=FULL — every commit fsyncs the WAL before `enqueue`
 * returns, so a message we ACK survives a process crash *and* a power cut. (synchronous=NORMAL in WAL
 * mode survives a process crash but may lose the last commits on power loss, which would break the
 * promise an AA makes.) The cost, one fsync per commit, is shared by every message in a group commit
 * (src/hl7/ingest.ts batches all messages that arrive in one event-loop turn). The inbound inserts
 * and their fsync run on a worker thread (src/hl7/sqlite-committer.ts) so the event loop keeps
 * parsing while the disk flushes; the worker only sees rows whose commit the main thread has been
 * told of (`confirmed`), so a row is never applied before its plan was handed over.
 *
 * The worker's bookkeeping (applied / attempt / failed) goes through a second connection with
 * synchronous=NORMAL: no fsync per applied message (which would block the event loop, and with it
 * every ACK, for a disk flush each time). Losing such an update in a power cut only means the message
 * is applied again on restart, which writes the same resources (ids derive from the message).
 * "Applied" marks are written in groups (before the next `claim`, `counts`, other state change or
 * `close`): every write on this connection waits for the committer thread's write lock, and
 * SQLite's busy wait sleeps a whole millisecond at a time. A crash loses at most one group of marks
 * (≤ the worker's batch), which, as above, only means those messages are applied once more.
 *
 * Retention (`purgeBatch`) and `counts()` read the `*_finished` partial indexes, never the whole tables.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database, { type Database as Db, type Statement } from 'better-sqlite3';
import { COUNT_CAP, type InboundMessage, type MessageStore, type OutboundMessage, type QueueCounts } from './queue.js';
import { startInboundCommitter } from './sqlite-committer.js';
import { Hl7QueueUnavailableError } from './errors.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS inbound (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  message_key TEXT NOT NULL UNIQUE,
  event TEXT NOT NULL,
  received_at INTEGER NOT NULL,
  raw TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'applied', 'failed')),
  attempts INTEGER NOT NULL DEFAULT 0,
  error TEXT
);
CREATE INDEX IF NOT EXISTS inbound_pending ON inbound (seq) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS inbound_finished ON inbound (state, received_at) WHERE state <> 'pending';
CREATE TABLE IF NOT EXISTS outbound (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  control_id TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL,
  raw TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'failed')),
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  error TEXT
);
CREATE INDEX IF NOT EXISTS outbound_due ON outbound (next_attempt_at, seq) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS outbound_finished ON outbound (state, created_at) WHERE state <> 'pending';
`;

export const HL7_DB_FILE = 'hl7.sqlite';

export function openSqliteQueue(dataDir: string, options: { file?: string; countCap?: number } = {}): MessageStore {
  mkdirSync(dataDir, { recursive: true });
  const file = path.join(dataDir, options.file ?? HL7_DB_FILE);
  const db: Db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 5000');
  db.exec(SCHEMA);
  const stateDb: Db = new Database(file);
  stateDb.pragma('synchronous = NORMAL');
  stateDb.pragma('busy_timeout = 5000');

  const committer = startInboundCommitter(file);
  // Highest seq whose commit the main thread knows of: rows above it may be committed already but
  // their enqueue has not returned yet (no ACK, no plan handed over).
  let confirmed = (db.prepare('SELECT COALESCE(MAX(seq), 0) AS m FROM inbound').get() as { m: number }).m;
  const pendingStmt: Statement<[number, number], { seq: number; message_key: string; event: string; raw: string; attempts: number }> = db.prepare(
    "SELECT seq, message_key, event, raw, attempts FROM inbound WHERE state = 'pending' AND seq <= ? ORDER BY seq LIMIT ?",
  );
  const applied = stateDb.prepare("UPDATE inbound SET state = 'applied', attempts = attempts + 1, error = NULL WHERE seq = ?");
  const attempt = stateDb.prepare('UPDATE inbound SET attempts = attempts + 1, error = ? WHERE seq = ?');
  const failed = stateDb.prepare("UPDATE inbound SET state = 'failed', attempts = attempts + 1, error = ? WHERE seq = ?");
  let appliedMarks: number[] = [];
  let closed = false;
  const writeMarks = stateDb.transaction((seqs: readonly number[]) => {
    for (const seq of seqs) applied.run(seq);
  });
  const flushMarks = () => {
    if (appliedMarks.length === 0) return;
    const seqs = appliedMarks;
    appliedMarks = [];
    writeMarks(seqs);
  };

  const insertOut = db.prepare('INSERT OR IGNORE INTO outbound (control_id, created_at, raw, next_attempt_at) VALUES (?, ?, ?, ?)');
  const nextOut: Statement<[number], { seq: number; control_id: string; raw: string; attempts: number }> = db.prepare(
    "SELECT seq, control_id, raw, attempts FROM outbound WHERE state = 'pending' AND next_attempt_at <= ? ORDER BY seq LIMIT 1",
  );
  const dueOut: Statement<[], { due: number | null }> = db.prepare("SELECT MIN(next_attempt_at) AS due FROM outbound WHERE state = 'pending'");
  const sentOut = db.prepare("UPDATE outbound SET state = 'sent', attempts = attempts + 1, error = NULL WHERE seq = ?");
  const retryOut = db.prepare('UPDATE outbound SET attempts = attempts + 1, next_attempt_at = ?, error = ? WHERE seq = ?');
  const failOut = db.prepare("UPDATE outbound SET state = 'failed', attempts = attempts + 1, error = ? WHERE seq = ?");
  // Each figure reads one partial index (SCHEMA), and the capped ones stop at the cap (QueueCounts).
  // `state <> 'pending'` repeats the index's WHERE, which SQLite needs literally to use a partial index.
  const countStmt: Statement<[number, number], QueueCounts> = db.prepare(`SELECT
    (SELECT COUNT(*) FROM inbound WHERE state = 'pending') AS pending,
    (SELECT COUNT(*) FROM (SELECT 1 FROM inbound WHERE state = 'applied' AND state <> 'pending' LIMIT ?)) AS applied,
    (SELECT COUNT(*) FROM inbound WHERE state = 'failed' AND state <> 'pending') AS failed,
    (SELECT COUNT(*) FROM outbound WHERE state = 'pending') AS outboundPending,
    (SELECT COUNT(*) FROM (SELECT 1 FROM outbound WHERE state = 'sent' AND state <> 'pending' LIMIT ?)) AS outboundSent,
    (SELECT COUNT(*) FROM outbound WHERE state = 'failed' AND state <> 'pending') AS outboundFailed`);
  const countCap = options.countCap ?? COUNT_CAP;

  // Retention: on the NORMAL connection (a purge lost in a power cut is simply done again), one short
  // write transaction per batch so the committer thread never waits long for the lock.
  const purgeIn = stateDb.prepare(
    "DELETE FROM inbound WHERE seq IN (SELECT seq FROM inbound WHERE state IN ('applied', 'failed') AND state <> 'pending' AND received_at < ? LIMIT ?)",
  );
  const purgeOut = stateDb.prepare(
    "DELETE FROM outbound WHERE seq IN (SELECT seq FROM outbound WHERE state IN ('sent', 'failed') AND state <> 'pending' AND created_at < ? LIMIT ?)",
  );
  const purge = stateDb.transaction((before: number, limit: number) => ({
    inbound: purgeIn.run(before, limit).changes,
    outbound: purgeOut.run(before, limit).changes,
  }));

  return {
    durable: true,
    shared: false,
    async enqueue(items) {
      if (items.length === 0) return [];
      let seqs: Array<number | undefined>;
      try {
        seqs = await committer.commit(items);
      } catch (err) {
        throw new Hl7QueueUnavailableError('HL7 queue commit failed', { cause: err });
      }
      for (const s of seqs) if (s !== undefined && s > confirmed) confirmed = s;
      return seqs;
    },
    async claim(limit): Promise<InboundMessage[]> {
      flushMarks();
      return pendingStmt.all(confirmed, limit).map((r) => ({ seq: r.seq, key: r.message_key, event: r.event, raw: r.raw, attempts: r.attempts }));
    },
    markApplied: async (seq) => void appliedMarks.push(seq),
    async recordAttempt(seq, error) {
      flushMarks();
      attempt.run(error.slice(0, 500), seq);
    },
    async markFailed(seq, error) {
      flushMarks();
      failed.run(error.slice(0, 500), seq);
    },
    enqueueOutbound: async (item, now) => void insertOut.run(item.controlId, now, item.raw, now),
    async nextOutbound(now): Promise<OutboundMessage | undefined> {
      const r = nextOut.get(now);
      return r ? { seq: r.seq, controlId: r.control_id, raw: r.raw, attempts: r.attempts } : undefined;
    },
    nextOutboundDue: async () => dueOut.get()?.due ?? undefined,
    markSent: async (seq) => void sentOut.run(seq),
    retryOutbound: async (seq, at, error) => void retryOut.run(at, error.slice(0, 500), seq),
    failOutbound: async (seq, error) => void failOut.run(error.slice(0, 500), seq),
    async counts(): Promise<QueueCounts> {
      flushMarks();
      return { ...countStmt.get(countCap, countCap)! };
    },
    async purgeBatch(before, limit) {
      flushMarks();
      return { ...purge(before, limit), busy: false };
    },
    async close() {
      if (closed) return;
      closed = true;
      flushMarks();
      await committer.close();
      stateDb.close();
      db.close();
    },
  };
}
