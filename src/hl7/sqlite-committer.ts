/**
 * The inbound INSERT + fsync of the SQLite queue, run on a worker thread. better-sqlite3 is
 * synchronous: committed on the main thread, every group commit froze the event loop for its fsync
 * (~10–15% of the loop's time at 2,000 msg/s), so no frame was parsed while the disk flushed. Here
 * the listener goes on parsing the next messages while the previous batch is flushed; an ACK is still
 * written only after its batch's commit returned (durable before ACK, unchanged).
 *
 * Batches are committed strictly in the order they were posted (one thread, one connection), so
 * seqs grow in arrival order as before.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { NewInbound } from './queue.js';

export interface InboundCommitter {
  /** Inserts the batch in one transaction (synchronous=FULL); seq per item, undefined for a duplicate. */
  commit(items: readonly NewInbound[]): Promise<Array<number | undefined>>;
  /**
   * Finishes batches already posted, closes the connection and ends the thread; resolves once the
   * thread has exited, so the database files are released (a caller may delete them next).
   */
  close(): Promise<void>;
}

// Plain JavaScript evaluated in the thread (no TypeScript loader there, under tsx, jest or node).
const THREAD_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = FULL');
db.pragma('busy_timeout = 5000');
const insert = db.prepare('INSERT OR IGNORE INTO inbound (message_key, event, received_at, raw) VALUES (?, ?, ?, ?)');
const insertAll = db.transaction((items) => {
  const now = Date.now();
  return items.map((m) => {
    const r = insert.run(m.key, m.event, now, m.raw);
    return r.changes === 1 ? Number(r.lastInsertRowid) : null;
  });
});
parentPort.on('message', (msg) => {
  if (msg.close) {
    db.close();
    parentPort.close();
    return;
  }
  try {
    parentPort.postMessage({ id: msg.id, seqs: insertAll(msg.items) });
  } catch (err) {
    parentPort.postMessage({ id: msg.id, error: String((err && err.message) || err) });
  }
});
`;

interface Reply {
  id: number;
  seqs?: Array<number | null>;
  error?: string;
}

interface Pending {
  resolve: (seqs: Array<number | undefined>) => void;
  reject: (err: Error) => void;
}

/** Starts the committer thread on `file` (the schema must exist: the main connection creates it). */
export function startInboundCommitter(file: string): InboundCommitter {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(THREAD_SOURCE, { eval: true, workerData: { driver, file } });
  const pending = new Map<number, Pending>();
  let nextId = 0;
  let exited = false;
  const exitedPromise = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  // Idle, the thread must not keep the process alive; while a commit is awaited it must.
  worker.unref();

  const failAll = (err: Error) => {
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };
  worker.on('message', (reply: Reply) => {
    const p = pending.get(reply.id);
    if (!p) return;
    pending.delete(reply.id);
    if (pending.size === 0) worker.unref();
    if (reply.error !== undefined) p.reject(new Error(`HL7 queue commit failed: ${reply.error}`));
    else p.resolve((reply.seqs ?? []).map((s) => (s === null ? undefined : s)));
  });
  worker.on('error', (err) => failAll(err));
  worker.on('exit', () => {
    exited = true;
    failAll(new Error('HL7 queue committer stopped'));
  });

  return {
    commit(items) {
      if (exited) return Promise.reject(new Error('HL7 queue committer stopped'));
      return new Promise((resolve, reject) => {
        const id = ++nextId;
        pending.set(id, { resolve, reject });
        if (pending.size === 1) worker.ref();
        worker.postMessage({ id, items: items.map((m) => ({ key: m.key, event: m.event, raw: m.raw })) });
      });
    },
    async close() {
      if (!exited) {
        // The thread must be allowed to keep the process alive until it has closed its connection.
        worker.ref();
        worker.postMessage({ close: true });
      }
      await exitedPromise;
    },
  };
}
