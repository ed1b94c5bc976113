/**
 * SQLite back end of the HL7 message store (better-sqlite3), one file under DATA_DIR.
 *
 * Durability: WAL journal with synchronous=FULL — every commit fsyncs the WAL before `enqueue`
 * returns, so a message we ACK survives a process crash *and* a power cut. (synchronous=NORMAL in WAL
 * mode survives a process crash but may lose the last commits on power loss, which would break the
 * promise an AA makes.) The cost, one fsync per commit, is shared by every message in a group commit
 * (src/hl7/ingest.ts batches all messages that arrive in one event-loop turn).
 *
 * The worker's bookkeeping (applied / attempt / failed) goes through a second connection with
 * synchronous=NORMAL: no fsync per applied message (which would block the event loop, and with it
 * every ACK, for a disk flush each time). Losing such an update in a power cut only means the message
 * is applied again on restart, which writes the same resources (ids derive from the message).
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database, { type Database as Db, type Statement } from 'better-sqlite3';
import type { InboundMessage, MessageStore, NewInbound, OutboundMessage, QueueCounts } from './queue.js';

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
`;

export const HL7_DB_FILE = 'hl7.sqlite';

export function openSqliteQueue(dataDir: string, options: { file?: string } = {}): MessageStore {
  mkdirSync(dataDir, { recursive: true });
  const db: Db = new Database(path.join(dataDir, options.file ?? HL7_DB_FILE));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 5000');
  db.exec(SCHEMA);
  const stateDb: Db = new Database(path.join(dataDir, options.file ?? HL7_DB_FILE));
  stateDb.pragma('synchronous = NORMAL');
  stateDb.pragma('busy_timeout = 5000');

  const insert = db.prepare('INSERT OR IGNORE INTO inbound (message_key, event, received_at, raw) VALUES (?, ?, ?, ?)');
  const insertAll = db.transaction((items: readonly NewInbound[]) => {
    const now = Date.now();
    return items.map((m) => {
      const r = insert.run(m.key, m.event, now, m.raw);
      return r.changes === 1 ? Number(r.lastInsertRowid) : undefined;
    });
  });
  const pendingStmt: Statement<[number, number], { seq: number; message_key: string; event: string; raw: string; attempts: number }> = db.prepare(
    "SELECT seq, message_key, event, raw, attempts FROM inbound WHERE state = 'pending' AND seq > ? ORDER BY seq LIMIT ?",
  );
  const applied = stateDb.prepare("UPDATE inbound SET state = 'applied', attempts = attempts + 1, error = NULL WHERE seq = ?");
  const attempt = stateDb.prepare('UPDATE inbound SET attempts = attempts + 1, error = ? WHERE seq = ?');
  const failed = stateDb.prepare("UPDATE inbound SET state = 'failed', attempts = attempts + 1, error = ? WHERE seq = ?");

  const insertOut = db.prepare('INSERT OR IGNORE INTO outbound (control_id, created_at, raw, next_attempt_at) VALUES (?, ?, ?, ?)');
  const nextOut: Statement<[number], { seq: number; control_id: string; raw: string; attempts: number }> = db.prepare(
    "SELECT seq, control_id, raw, attempts FROM outbound WHERE state = 'pending' AND next_attempt_at <= ? ORDER BY seq LIMIT 1",
  );
  const dueOut: Statement<[], { due: number | null }> = db.prepare("SELECT MIN(next_attempt_at) AS due FROM outbound WHERE state = 'pending'");
  const sentOut = db.prepare("UPDATE outbound SET state = 'sent', attempts = attempts + 1, error = NULL WHERE seq = ?");
  const retryOut = db.prepare('UPDATE outbound SET attempts = attempts + 1, next_attempt_at = ?, error = ? WHERE seq = ?');
  const failOut = db.prepare("UPDATE outbound SET state = 'failed', attempts = attempts + 1, error = ? WHERE seq = ?");
  const countStmt: Statement<[], { tbl: string; state: string; n: number }> = db.prepare(
    "SELECT 'in' AS tbl, state, COUNT(*) AS n FROM inbound GROUP BY state UNION ALL SELECT 'out', state, COUNT(*) FROM outbound GROUP BY state",
  );

  return {
    durable: true,
    enqueue: (items) => (items.length ? insertAll(items) : []),
    pending(afterSeq, limit): InboundMessage[] {
      return pendingStmt.all(afterSeq, limit).map((r) => ({ seq: r.seq, key: r.message_key, event: r.event, raw: r.raw, attempts: r.attempts }));
    },
    markApplied: (seq) => void applied.run(seq),
    recordAttempt: (seq, error) => void attempt.run(error.slice(0, 500), seq),
    markFailed: (seq, error) => void failed.run(error.slice(0, 500), seq),
    enqueueOutbound: (item, now) => void insertOut.run(item.controlId, now, item.raw, now),
    nextOutbound(now): OutboundMessage | undefined {
      const r = nextOut.get(now);
      return r ? { seq: r.seq, controlId: r.control_id, raw: r.raw, attempts: r.attempts } : undefined;
    },
    nextOutboundDue: () => dueOut.get()?.due ?? undefined,
    markSent: (seq) => void sentOut.run(seq),
    retryOutbound: (seq, at, error) => void retryOut.run(at, error.slice(0, 500), seq),
    failOutbound: (seq, error) => void failOut.run(error.slice(0, 500), seq),
    counts(): QueueCounts {
      const c: QueueCounts = { pending: 0, applied: 0, failed: 0, outboundPending: 0, outboundSent: 0, outboundFailed: 0 };
      for (const row of countStmt.all()) {
        if (row.tbl === 'in') {
          if (row.state === 'pending' || row.state === 'applied' || row.state === 'failed') c[row.state] = row.n;
        } else if (row.state === 'pending') c.outboundPending = row.n;
        else if (row.state === 'sent') c.outboundSent = row.n;
        else if (row.state === 'failed') c.outboundFailed = row.n;
      }
      return c;
    },
    close: () => {
      stateDb.close();
      db.close();
    },
  };
}
