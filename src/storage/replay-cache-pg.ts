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
}

export class PgReplayCache implements ReplayCache {
  readonly #pool: PgPool;
  readonly #ready: () => Promise<void>;
  readonly #timer: NodeJS.Timeout | undefined;

  /** Cache on `pool` (its table is created on first use). The pool belongs to the caller. */
  constructor(pool: PgPool, options: PgReplayCacheOptions = {}) {
    this.#pool = pool;
    this.#ready = lazySchema(pool, REPLAY_PG_SCHEMA);
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
      const result = await this.#pool.query(CLAIM, [digest, expiresAt, now]);
      return result.rowCount === 1;
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
