/**
 * PostgreSQL back end of the jti replay cache (interface in src/smart/replay-cache.ts; CDS Hooks 2.0.1
 * §Trusting CDS Clients, https://cds-hooks.hl7.org/2.0/#trusting-cds-clients): every replica on
 * DATABASE_URL checks one table, so a token replayed to another replica is refused as well.
 *
 * The insert is the check, atomically: `INSERT … ON CONFLICT (key) DO UPDATE … WHERE expires_at <= now
 * RETURNING` returns a row only when the key was new or its earlier token had expired. Two replicas racing
 * on one key serialise on the primary key; the loser sees the winner's live row and gets nothing back.
 * Keys are stored as SHA-256 digests: fixed width, and PostgreSQL text could not hold replayKey's NUL.
 *
 * A failure (database down) rejects with StoreUnavailableError: the caller answers 503 and never accepts
 * a token it could not check (fail closed). Expired rows are swept on a timer by every replica.
 *
 * Durability, as on SQLite (synchronous=NORMAL): by default the claim commits with synchronous_commit=off,
 * so a hook call does not wait for a WAL flush (measured in docs/performance.md). Atomicity and the
 * replicas' agreement are unchanged; only a crash of the PostgreSQL server itself can lose the claims of
 * its last moments (≤ 3 × wal_writer_delay), re-opening replay just for tokens still inside their
 * few-minute lifetime. `synchronousCommit: true` waits for the flush instead.
 */
import { createHash } from 'node:crypto';
import type { ReplayCache } from '../smart/replay-cache.js';
import { pgCall } from './pg-errors.js';
import { lazySchema, type PgPool } from './postgres.js';

export const REPLAY_PG_SCHEMA = `
CREATE TABLE IF NOT EXISTS token_replay (
  key BYTEA PRIMARY KEY,
  expires_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS token_replay_expires ON token_replay (expires_at);
`;

const CLAIM = `
INSERT INTO token_replay (key, expires_at) VALUES ($1, $2)
ON CONFLICT (key) DO UPDATE SET expires_at = EXCLUDED.expires_at WHERE token_replay.expires_at <= $3
RETURNING 1`;

export interface PgReplayCacheOptions {
  /** How often expired rows are deleted. Default 60 s; 0 turns the timer off (call sweep() yourself). */
  sweepIntervalMs?: number;
  /** Wait for the WAL flush on every claim. Default false (see the file comment). */
  synchronousCommit?: boolean;
}

/**
 * The claim with synchronous_commit=off for its own transaction only: SET LOCAL and the INSERT go as one
 * simple-protocol query string, which PostgreSQL runs as one implicit transaction. That protocol takes no
 * parameters, so the values are written in — only a hex digest and integers checked here, never caller text.
 */
function asyncClaim(digest: Buffer, expiresAt: number, now: number): string {
  if (!Number.isSafeInteger(expiresAt) || !Number.isSafeInteger(now)) throw new TypeError('expiresAt and now must be integer epoch seconds');
  return `SET LOCAL synchronous_commit = off;
INSERT INTO token_replay (key, expires_at) VALUES (decode('${digest.toString('hex')}', 'hex'), ${expiresAt})
ON CONFLICT (key) DO UPDATE SET expires_at = EXCLUDED.expires_at WHERE token_replay.expires_at <= ${now}
RETURNING 1`;
}

export class PgReplayCache implements ReplayCache {
  readonly #pool: PgPool;
  readonly #ready: () => Promise<void>;
  readonly #timer: NodeJS.Timeout | undefined;
  readonly #synchronousCommit: boolean;

  /** Cache on `pool` (its table is created on first use). The pool belongs to the caller. */
  constructor(pool: PgPool, options: PgReplayCacheOptions = {}) {
    this.#pool = pool;
    this.#ready = lazySchema(pool, REPLAY_PG_SCHEMA);
    this.#synchronousCommit = options.synchronousCommit ?? false;
    const every = options.sweepIntervalMs ?? 60_000;
    if (every > 0) {
      // A failed sweep (database down) is retried by the next tick; the rows only cost space meanwhile.
      this.#timer = setInterval(() => this.sweep().catch(() => undefined), every);
      this.#timer.unref();
    }
  }

  firstUse(key: string, expiresAt: number, now = Math.floor(Date.now() / 1000)): Promise<boolean> {
    return pgCall(async () => {
      await this.#ready();
      const digest = createHash('sha256').update(key).digest();
      // JWT NumericDates may be fractional; the column holds whole seconds (remember a little longer, not shorter).
      expiresAt = Math.ceil(expiresAt);
      now = Math.floor(now);
      if (this.#synchronousCommit) return (await this.#pool.query(CLAIM, [digest, expiresAt, now])).rowCount === 1;
      // Two statements, two results: the INSERT's is the second.
      const results = (await this.#pool.query(asyncClaim(digest, expiresAt, now))) as unknown as Array<{ rowCount: number | null }>;
      return results[1]?.rowCount === 1;
    });
  }

  /** Deletes rows whose tokens expired at or before `now` (epoch seconds); resolves to how many. */
  sweep(now = Math.floor(Date.now() / 1000)): Promise<number> {
    return pgCall(async () => {
      await this.#ready();
      const result = await this.#pool.query('DELETE FROM token_replay WHERE expires_at <= $1', [now]);
      return result.rowCount ?? 0;
    });
  }

  close(): void {
    if (this.#timer) clearInterval(this.#timer);
  }
}
