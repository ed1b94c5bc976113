/**
 * PostgreSQL back end of the HL7 message store (DATABASE_URL): one queue shared by every replica, so
 * each can run an MLLP listener and a worker, and a message ACKed by one is applied by another if the
 * first dies. Same semantics as the SQLite back end (src/hl7/sqlite-queue.ts); see docs/hl7.md.
 *
 * Durability: a group of messages (src/hl7/ingest.ts batches one event-loop turn) is one INSERT
 * statement, hence one transaction; node-postgres resolves it only after the server reported the
 * COMMIT, and the ACK waits for that. With the server's synchronous_commit on (its default; `off` is
 * refused at start) the COMMIT has reached the WAL on disk. Duplicates: `ON CONFLICT DO NOTHING
 * RETURNING seq` — a key already stored (by any replica) comes back without a seq.
 *
 * Claims: a worker applies only rows it claimed (`claimed_by` = this instance, `claimed_until` = a
 * lease renewed every third of its length while the process lives). A crashed replica stops renewing
 * and its claims lapse, so another replica takes its rows over. Claims are taken one worker at a
 * time under a transaction-scoped advisory lock, and a row is not claimed while another live claim
 * holds an earlier row with the same ordering key (the patient): per-patient order holds across
 * replicas, and two workers never apply the same row while their leases are live. A replica frozen
 * for longer than the lease can apply a row a second time after another took it over; that rewrites
 * the same resources (ids derive from the message), like a replay after a crash.
 *
 * "Applied" marks are written in groups (before the next claim, state change, `counts` or `close`),
 * one UPDATE per group instead of a round trip per message; a crash loses at most one group, whose
 * messages are then applied once more (same resources).
 *
 * Raw text is stored as bytea: PostgreSQL text cannot hold NUL, and a NUL in one message must not
 * make its whole group fail.
 *
 * Retention (`purgeBatch`, src/hl7/retention.ts) and `counts()` go through the `*_finished` partial
 * indexes: a purge batch is one short transaction behind a try-lock (one replica purges at a time), and a
 * scrape never scans the tables (QueueCounts in src/hl7/queue.ts).
 */
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { ensureSchema, inTransaction, type PgPool } from '../storage/postgres.js';
import { Hl7QueueUnavailableError } from './errors.js';
import { COUNT_CAP, type InboundMessage, type MessageStore, type NewInbound, type OutboundMessage, type QueueCounts } from './queue.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS hl7_inbound (
  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  message_key TEXT NOT NULL UNIQUE,
  event TEXT NOT NULL,
  order_key TEXT NOT NULL,
  received_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  raw BYTEA NOT NULL,
  state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'applied', 'failed')),
  attempts INTEGER NOT NULL DEFAULT 0,
  error TEXT,
  claimed_by TEXT,
  claimed_until TIMESTAMPTZ
);
CREATE INDEX IF NOT EXISTS hl7_inbound_pending ON hl7_inbound (seq) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS hl7_inbound_claims ON hl7_inbound (claimed_by, order_key) WHERE state = 'pending' AND claimed_by IS NOT NULL;
CREATE INDEX IF NOT EXISTS hl7_inbound_finished ON hl7_inbound (state, received_at) WHERE state <> 'pending';
CREATE TABLE IF NOT EXISTS hl7_outbound (
  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  control_id TEXT NOT NULL UNIQUE,
  created_at BIGINT NOT NULL,
  raw TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'failed')),
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at BIGINT NOT NULL,
  error TEXT,
  claimed_by TEXT,
  claimed_until TIMESTAMPTZ
);
CREATE INDEX IF NOT EXISTS hl7_outbound_due ON hl7_outbound (next_attempt_at, seq) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS hl7_outbound_finished ON hl7_outbound (state, created_at) WHERE state <> 'pending';
`;

const ENQUEUE = `
INSERT INTO hl7_inbound (message_key, event, order_key, raw)
SELECT k, e, o, r FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[]) WITH ORDINALITY AS m(k, e, o, r, n) ORDER BY n
ON CONFLICT (message_key) DO NOTHING
RETURNING seq, message_key`;

// Rows of a patient another live claim holds are left alone, so that worker keeps their order.
const CLAIM = `
WITH busy AS (
  SELECT DISTINCT order_key FROM hl7_inbound
  WHERE state = 'pending' AND claimed_by IS NOT NULL AND claimed_by <> $1 AND claimed_until > now()
), picked AS (
  SELECT seq FROM hl7_inbound
  WHERE state = 'pending' AND (claimed_by IS NULL OR claimed_by = $1 OR claimed_until <= now())
    AND order_key NOT IN (SELECT order_key FROM busy)
  ORDER BY seq LIMIT $2
)
UPDATE hl7_inbound i SET claimed_by = $1, claimed_until = now() + make_interval(secs => $3)
FROM picked WHERE i.seq = picked.seq AND i.state = 'pending'
RETURNING i.seq, i.message_key, i.event, i.order_key, i.raw, i.attempts`;

const NEXT_OUTBOUND = `
UPDATE hl7_outbound SET claimed_by = $1, claimed_until = now() + make_interval(secs => $3)
WHERE seq = (
  SELECT seq FROM hl7_outbound
  WHERE state = 'pending' AND next_attempt_at <= $2 AND (claimed_by IS NULL OR claimed_by = $1 OR claimed_until <= now())
  ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED
)
RETURNING seq, control_id, raw, attempts`;

// Retention, one batch per table. Rows under a live claim are left to their holder; SKIP LOCKED
// passes over rows another transaction is updating right now.
const PURGE_INBOUND = `
DELETE FROM hl7_inbound WHERE seq IN (
  SELECT seq FROM hl7_inbound
  WHERE state IN ('applied', 'failed') AND received_at < to_timestamp($1::double precision / 1000)
    AND (claimed_by IS NULL OR claimed_until <= now())
  LIMIT $2 FOR UPDATE SKIP LOCKED
)`;
const PURGE_OUTBOUND = `
DELETE FROM hl7_outbound WHERE seq IN (
  SELECT seq FROM hl7_outbound
  WHERE state IN ('sent', 'failed') AND created_at < $1 AND (claimed_by IS NULL OR claimed_until <= now())
  LIMIT $2 FOR UPDATE SKIP LOCKED
)`;

// Each figure reads one partial index (SCHEMA), and the capped ones stop at the cap (QueueCounts).
const COUNTS = `SELECT
  (SELECT count(*) FROM hl7_inbound WHERE state = 'pending')::int AS "pending",
  (SELECT count(*) FROM (SELECT 1 FROM hl7_inbound WHERE state = 'applied' LIMIT $1) c)::int AS "applied",
  (SELECT count(*) FROM hl7_inbound WHERE state = 'failed')::int AS "failed",
  (SELECT count(*) FROM hl7_outbound WHERE state = 'pending')::int AS "outboundPending",
  (SELECT count(*) FROM (SELECT 1 FROM hl7_outbound WHERE state = 'sent' LIMIT $1) c)::int AS "outboundSent",
  (SELECT count(*) FROM hl7_outbound WHERE state = 'failed')::int AS "outboundFailed"`;

export interface PgQueueOptions {
  /** How long a claim lasts without renewal (a crashed replica's rows come back after it). Default 30 s. */
  leaseMs?: number;
  /** This instance's name in `claimed_by`. Default host:pid:random. */
  instanceId?: string;
  /** End the pool on close (the pool was opened for this store alone). Default false. */
  ownsPool?: boolean;
  /** Where `applied` and `outboundSent` stop counting (QueueCounts). Default COUNT_CAP. */
  countCap?: number;
}

export const DEFAULT_LEASE_MS = 30_000;

interface InRow {
  seq: string;
  message_key: string;
  event: string;
  order_key: string;
  raw: Buffer;
  attempts: number;
}

/** synchronous_commit=off: a COMMIT can return before its WAL is on disk. A configuration error. */
export class UnsafeCommitSettingError extends Error {
  constructor() {
    super('PostgreSQL synchronous_commit=off: a committed HL7 message could be lost after its AA; turn it on for the Vigil role or database');
    this.name = 'UnsafeCommitSettingError';
  }
}

/**
 * Opens the store and creates the tables if needed (any replica, any number at once). A database that
 * is down now does not stop the start: the listener answers AR until it answers, and the tables are
 * created on first use. synchronous_commit=off is refused (UnsafeCommitSettingError).
 */
export async function openPgQueue(pool: PgPool, options: PgQueueOptions = {}): Promise<MessageStore> {
  let ready = false;
  let preparing: Promise<void> | undefined;
  const prepare = (): Promise<void> => {
    if (ready) return Promise.resolve();
    preparing ??= (async () => {
      const { rows } = await pool.query<{ v: string }>("SELECT current_setting('synchronous_commit') AS v");
      if (rows[0]?.v === 'off') throw new UnsafeCommitSettingError();
      await ensureSchema(pool, SCHEMA);
      ready = true;
    })().finally(() => {
      preparing = undefined;
    });
    return preparing;
  };
  try {
    await prepare();
  } catch (err) {
    if (err instanceof UnsafeCommitSettingError) throw err;
    // The database cannot be reached now: every operation below prepares first, and fails (AR, worker
    // backoff) until it can.
  }

  const me = options.instanceId ?? `${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
  const leaseSecs = leaseMs / 1000;
  // Per schema, so test suites (one schema each) do not wait on each other.
  const claimLock = "SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.hl7_inbound_claim'))";
  const purgeLock = "SELECT pg_try_advisory_xact_lock(hashtext(current_schema() || '.hl7_purge')) AS got";
  const countCap = options.countCap ?? COUNT_CAP;

  let appliedMarks: number[] = [];
  let closed = false;
  // One flush at a time, and every caller waits for the one in flight: a claim must not see rows
  // whose "applied" UPDATE (started by `counts`, say) has not committed yet.
  let flushing: Promise<void> = Promise.resolve();
  const flushMarks = (): Promise<void> => {
    flushing = flushing.catch(() => undefined).then(writeMarks);
    return flushing;
  };
  const writeMarks = async () => {
    if (appliedMarks.length === 0) return;
    const seqs = appliedMarks;
    appliedMarks = [];
    try {
      await pool.query({
        name: 'hl7-applied',
        text: "UPDATE hl7_inbound SET state = 'applied', attempts = attempts + 1, error = NULL, claimed_by = NULL, claimed_until = NULL WHERE seq = ANY($1::bigint[]) AND state = 'pending'",
        values: [seqs],
      });
    } catch (err) {
      appliedMarks = seqs.concat(appliedMarks);
      throw err;
    }
  };

  // Keeps this instance's claims alive; stops with the process (or `close`), and they lapse.
  const renew = async () => {
    await pool.query('UPDATE hl7_inbound SET claimed_until = now() + make_interval(secs => $2) WHERE claimed_by = $1 AND state = \'pending\'', [me, leaseSecs]);
    await pool.query('UPDATE hl7_outbound SET claimed_until = now() + make_interval(secs => $2) WHERE claimed_by = $1 AND state = \'pending\'', [me, leaseSecs]);
  };
  const renewal = setInterval(() => void renew().catch(() => undefined), Math.max(50, Math.floor(leaseMs / 3)));
  renewal.unref();

  const toInbound = (r: InRow): InboundMessage => ({ seq: Number(r.seq), key: r.message_key, event: r.event, orderKey: r.order_key, raw: r.raw.toString('utf8'), attempts: r.attempts });
  const trim = (error: string) => error.slice(0, 500);

  return {
    durable: true,
    shared: true,
    async enqueue(items: readonly NewInbound[]) {
      if (items.length === 0) return [];
      let stored: Array<{ seq: string; message_key: string }>;
      try {
        await prepare();
        const result = await pool.query<{ seq: string; message_key: string }>({
          name: 'hl7-enqueue',
          text: ENQUEUE,
          values: [items.map((m) => m.key), items.map((m) => m.event), items.map((m) => m.orderKey ?? m.key), items.map((m) => Buffer.from(m.raw, 'utf8'))],
        });
        stored = result.rows;
      } catch (err) {
        throw new Hl7QueueUnavailableError('HL7 queue commit failed (PostgreSQL)', { cause: err });
      }
      const seqByKey = new Map(stored.map((r) => [r.message_key, Number(r.seq)]));
      // A key twice in one group: the first is stored, the second is its duplicate.
      return items.map((m) => {
        const seq = seqByKey.get(m.key);
        seqByKey.delete(m.key);
        return seq;
      });
    },
    async claim(limit) {
      await prepare();
      await flushMarks();
      const rows = await inTransaction(pool, async (client) => {
        await client.query(claimLock);
        return (await client.query<InRow>({ name: 'hl7-claim', text: CLAIM, values: [me, limit, leaseSecs] })).rows;
      });
      return rows.map(toInbound).sort((a, b) => a.seq - b.seq);
    },
    markApplied: async (seq) => void appliedMarks.push(seq),
    async recordAttempt(seq, error) {
      await prepare();
      await flushMarks();
      await pool.query('UPDATE hl7_inbound SET attempts = attempts + 1, error = $2 WHERE seq = $1', [seq, trim(error)]);
    },
    async markFailed(seq, error) {
      await prepare();
      await flushMarks();
      await pool.query(
        "UPDATE hl7_inbound SET state = 'failed', attempts = attempts + 1, error = $2, claimed_by = NULL, claimed_until = NULL WHERE seq = $1 AND state = 'pending'",
        [seq, trim(error)],
      );
    },
    async enqueueOutbound(item, now) {
      await prepare();
      await pool.query('INSERT INTO hl7_outbound (control_id, created_at, raw, next_attempt_at) VALUES ($1, $2, $3, $2) ON CONFLICT (control_id) DO NOTHING', [item.controlId, now, item.raw]);
    },
    async nextOutbound(now): Promise<OutboundMessage | undefined> {
      await prepare();
      const { rows } = await pool.query<{ seq: string; control_id: string; raw: string; attempts: number }>(NEXT_OUTBOUND, [me, now, leaseSecs]);
      const r = rows[0];
      return r ? { seq: Number(r.seq), controlId: r.control_id, raw: r.raw, attempts: r.attempts } : undefined;
    },
    async nextOutboundDue() {
      await prepare();
      // Rows another live claim holds are that replica's to send: not due for us.
      const { rows } = await pool.query<{ due: string | null }>(
        "SELECT MIN(next_attempt_at) AS due FROM hl7_outbound WHERE state = 'pending' AND (claimed_by IS NULL OR claimed_by = $1 OR claimed_until <= now())",
        [me],
      );
      const due = rows[0]?.due;
      return due === null || due === undefined ? undefined : Number(due);
    },
    async markSent(seq) {
      await pool.query("UPDATE hl7_outbound SET state = 'sent', attempts = attempts + 1, error = NULL, claimed_by = NULL, claimed_until = NULL WHERE seq = $1", [seq]);
    },
    async retryOutbound(seq, at, error) {
      await pool.query('UPDATE hl7_outbound SET attempts = attempts + 1, next_attempt_at = $2, error = $3, claimed_by = NULL, claimed_until = NULL WHERE seq = $1', [seq, at, trim(error)]);
    },
    async failOutbound(seq, error) {
      await pool.query("UPDATE hl7_outbound SET state = 'failed', attempts = attempts + 1, error = $2, claimed_by = NULL, claimed_until = NULL WHERE seq = $1", [seq, trim(error)]);
    },
    async counts(): Promise<QueueCounts> {
      await prepare();
      await flushMarks();
      const { rows } = await pool.query<QueueCounts>({ name: 'hl7-counts', text: COUNTS, values: [countCap] });
      return { ...rows[0]! };
    },
    async purgeBatch(before, limit) {
      await prepare();
      await flushMarks();
      // One short transaction per batch: the row locks and the purge lock last one batch only, and a
      // replica that finds the lock taken leaves the purge to the one holding it.
      return inTransaction(pool, async (client) => {
        const { rows } = await client.query<{ got: boolean }>(purgeLock);
        if (!rows[0]?.got) return { inbound: 0, outbound: 0, busy: true };
        const inbound = (await client.query(PURGE_INBOUND, [before, limit])).rowCount ?? 0;
        const outbound = (await client.query(PURGE_OUTBOUND, [before, limit])).rowCount ?? 0;
        return { inbound, outbound, busy: false };
      });
    },
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(renewal);
      try {
        await flushMarks();
        // Hand our unfinished rows to the other replicas now rather than when the lease lapses.
        await pool.query("UPDATE hl7_inbound SET claimed_by = NULL, claimed_until = NULL WHERE claimed_by = $1 AND state = 'pending'", [me]);
        await pool.query("UPDATE hl7_outbound SET claimed_by = NULL, claimed_until = NULL WHERE claimed_by = $1 AND state = 'pending'", [me]);
      } catch {
        // Database gone: the marks are lost (those messages are applied once more) and the claims lapse.
      }
      if (options.ownsPool) await pool.end().catch(() => undefined);
    },
  };
}
