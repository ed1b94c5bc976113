/**
 * SQLite back end of the jti replay cache (interface in src/smart/replay-cache.ts): one file
 * `security.sqlite` in DATA_DIR, so a token replayed after a restart, or to another process on the same
 * host, is still refused. Pass ':memory:' for tests.
 *
 * The insert is the check: a primary-key conflict on a live row means the key was seen. Expired rows are
 * swept every SWEEP_EVERY inserts so the table stays as small as the tokens still alive.
 */
import type Database from 'better-sqlite3';
import type { ReplayCache } from '../smart/replay-cache.js';
import { openSqliteFile } from './sqlite.js';

export const SECURITY_DB_FILE = 'security.sqlite';

const SWEEP_EVERY = 500;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS token_replay (
  key TEXT PRIMARY KEY,
  expires_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS token_replay_expires ON token_replay (expires_at);
`;

/** Opens the database file `file` in `dataDir` (creating both when needed), or an in-memory one for ':memory:'. */
export function openSecurityDatabase(dataDir: string, file = SECURITY_DB_FILE): Database.Database {
  // NORMAL in WAL mode: a commit survives a process crash without an fsync on every hook call. A power cut
  // can lose the last moments of jti rows, re-opening replay only for tokens still inside their few-minute
  // lifetime. Audit events, which must not be lost, fsync their own commits (audit-store.ts).
  return openSqliteFile(dataDir, file, { synchronous: 'NORMAL' });
}

export class SqliteReplayCache implements ReplayCache {
  readonly #db: Database.Database;
  readonly #ownsDb: boolean;
  readonly #claim: Database.Statement<[string, number, number]>;
  readonly #sweep: Database.Statement<[number]>;
  #sinceSweep = 0;

  /** `db`: an open database (shared with other security tables), or a DATA_DIR path to open our own. */
  constructor(db: Database.Database | string) {
    this.#ownsDb = typeof db === 'string';
    this.#db = typeof db === 'string' ? openSecurityDatabase(db) : db;
    this.#db.exec(SCHEMA);
    // Insert, or take over a row whose token has expired; a live row makes this a no-op (0 changes).
    this.#claim = this.#db.prepare(
      `INSERT INTO token_replay (key, expires_at) VALUES (?, ?)
       ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at WHERE token_replay.expires_at <= ?`,
    );
    this.#sweep = this.#db.prepare('DELETE FROM token_replay WHERE expires_at <= ?');
  }

  firstUse(key: string, expiresAt: number, now = Math.floor(Date.now() / 1000)): boolean {
    if (++this.#sinceSweep >= SWEEP_EVERY) {
      this.#sinceSweep = 0;
      this.#sweep.run(now);
    }
    return this.#claim.run(key, expiresAt, now).changes === 1;
  }

  close(): void {
    if (this.#ownsDb && this.#db.open) this.#db.close();
  }
}
