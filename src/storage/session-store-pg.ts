/**
 * PostgreSQL back end of the explanation view's SessionStore (src/smart/app-launch/session-store.ts), shared
 * by every replica on DATABASE_URL: a launch completed on one replica is served by any other, so `/app` needs
 * no session affinity.
 *
 * Nothing in the table can be used by someone who reads it (docs/security.md §6):
 * - the session (SMART access and refresh tokens, launch context) is sealed with AES-256-GCM under
 *   SESSION_KEYS, bound to its session id (session-seal.ts);
 * - the row key is the SHA-256 of the session id, never the id: the id is the browser's cookie, and a
 *   readable id would be a usable session.
 * A row that does not open (altered, moved to another id, sealed with a key no longer configured) reads as
 * no session — the user re-launches — and is logged with the reason only.
 *
 * Expiry: `expires_at` (epoch ms) is checked on every read, so an expired row is never returned; every replica
 * deletes expired rows on a timer. Sliding expiry (`touch`) changes only `expires_at`; whole-session writes are
 * last-writer-wins (two launches finishing at the same instant in one browser on two replicas keep one).
 *
 * `exclusive` (a token refresh) holds a transaction-scoped advisory lock on one pooled connection for the
 * refresh's duration; a second replica waits for it (up to the pool's statement_timeout, then 503) and then
 * finds the refreshed grant instead of spending the rotated-out refresh token.
 */
import { createHash } from 'node:crypto';
import type { Logger } from '../logger.js';
import type { AppSession, SessionStore } from '../smart/app-launch/session-store.js';
import { SessionSealer } from '../smart/app-launch/session-seal.js';
import { pgCall } from './pg-errors.js';
import { inTransaction, lazySchema, type PgPool } from './postgres.js';

export const SESSION_PG_SCHEMA = `
CREATE TABLE IF NOT EXISTS app_session (
  id_hash BYTEA PRIMARY KEY,
  sealed TEXT NOT NULL,
  expires_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS app_session_expires ON app_session (expires_at);
`;

const UPSERT = `
INSERT INTO app_session (id_hash, sealed, expires_at) VALUES ($1, $2, $3)
ON CONFLICT (id_hash) DO UPDATE SET sealed = EXCLUDED.sealed, expires_at = EXCLUDED.expires_at`;

export interface PgSessionStoreOptions {
  /** SESSION_KEYS: 32-byte AES keys; the first seals, every one opens. */
  keys: readonly Buffer[];
  logger?: Logger;
  /** How often expired rows are deleted. Default 10 min; 0 turns the timer off (call sweep() yourself). */
  sweepIntervalMs?: number;
  now?: () => number;
}

/** The row key of a session id. */
export function sessionRowKey(id: string): Buffer {
  return createHash('sha256').update(id, 'utf8').digest();
}

/** pg_advisory_xact_lock key (a signed 64-bit integer, as text) for an `exclusive` key. */
function lockKeyOf(key: string): string {
  return createHash('sha256').update('vigil-app-session-lock\u0000').update(key, 'utf8').digest().readBigInt64BE(0).toString();
}

export class PgSessionStore implements SessionStore {
  readonly #pool: PgPool;
  readonly #ready: () => Promise<void>;
  readonly #sealer: SessionSealer;
  readonly #logger: Logger | undefined;
  readonly #now: () => number;
  readonly #timer: NodeJS.Timeout | undefined;

  /** Store on `pool` (its table is created on first use). The pool belongs to the caller. */
  constructor(pool: PgPool, options: PgSessionStoreOptions) {
    this.#pool = pool;
    this.#ready = lazySchema(pool, SESSION_PG_SCHEMA);
    this.#sealer = new SessionSealer(options.keys);
    this.#logger = options.logger;
    this.#now = options.now ?? Date.now;
    const every = options.sweepIntervalMs ?? 600_000;
    if (every > 0) {
      // A failed sweep (database down) is retried by the next tick; expired rows are invisible meanwhile.
      this.#timer = setInterval(() => this.sweep().catch(() => undefined), every);
      this.#timer.unref();
    }
  }

  get(id: string): Promise<AppSession | undefined> {
    return pgCall(async () => {
      await this.#ready();
      const { rows } = await this.#pool.query<{ sealed: string }>('SELECT sealed FROM app_session WHERE id_hash = $1 AND expires_at > $2', [
        sessionRowKey(id),
        this.#now(),
      ]);
      if (!rows[0]) return undefined;
      const opened = this.#sealer.open(id, rows[0].sealed);
      if (!opened.ok) {
        this.#logger?.warn({ reason: opened.reason }, 'app session could not be opened; treated as absent (re-launch)');
        return undefined;
      }
      return JSON.parse(opened.plaintext) as AppSession;
    });
  }

  save(session: AppSession, ttlSeconds: number): Promise<void> {
    return pgCall(async () => {
      await this.#ready();
      const sealed = this.#sealer.seal(session.id, JSON.stringify(session));
      await this.#pool.query(UPSERT, [sessionRowKey(session.id), sealed, this.#now() + ttlSeconds * 1000]);
    });
  }

  touch(id: string, ttlSeconds: number): Promise<void> {
    return pgCall(async () => {
      await this.#ready();
      const now = this.#now();
      await this.#pool.query('UPDATE app_session SET expires_at = $2 WHERE id_hash = $1 AND expires_at > $3', [sessionRowKey(id), now + ttlSeconds * 1000, now]);
    });
  }

  delete(id: string): Promise<void> {
    return pgCall(async () => {
      await this.#ready();
      await this.#pool.query('DELETE FROM app_session WHERE id_hash = $1', [sessionRowKey(id)]);
    });
  }

  exclusive<T>(key: string, work: () => Promise<T>): Promise<T> {
    // Errors of `work` pass through pgCall unchanged (only PostgreSQL failures are translated).
    return pgCall(() =>
      inTransaction(this.#pool, async (client) => {
        await client.query('SELECT pg_advisory_xact_lock($1::bigint)', [lockKeyOf(key)]);
        return work();
      }),
    );
  }

  /** Deletes sessions expired at `now` (epoch ms); resolves to how many. */
  sweep(now = this.#now()): Promise<number> {
    return pgCall(async () => {
      await this.#ready();
      const result = await this.#pool.query('DELETE FROM app_session WHERE expires_at <= $1', [now]);
      return result.rowCount ?? 0;
    });
  }

  close(): void {
    if (this.#timer) clearInterval(this.#timer);
  }
}
