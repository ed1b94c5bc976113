/**
 * The storage back ends every store test runs against (issue 9 §State that scales): SQLite in a temp
 * DATA_DIR, and PostgreSQL in a fresh schema when pgAvailable() (always in CI: VIGIL_TEST_PG_REQUIRED=1).
 *
 * A target is one empty database. Each open* call opens a new store on it the way a restart or another
 * replica would: on SQLite a new connection to the same files, on PostgreSQL a new pool on the same schema.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { openPgExplanationStore } from '../../src/explanations/pg-store.js';
import { EXPLANATIONS_DB_FILE, openSqliteExplanationStore } from '../../src/explanations/sqlite-store.js';
import type { ExplanationStore } from '../../src/explanations/store.js';
import type { ReplayCache } from '../../src/smart/replay-cache.js';
import { createAuditStore, type AuditStore, type AuditStoreOptions } from '../../src/storage/audit-store.js';
import { openPgAuditStore } from '../../src/storage/audit-store-pg.js';
import { FEEDBACK_DB_FILE, openFeedbackStore, type FeedbackStore } from '../../src/storage/feedback-store.js';
import { openPgFeedbackStore } from '../../src/storage/feedback-store-pg.js';
import { PgReplayCache } from '../../src/storage/replay-cache-pg.js';
import { openSecurityDatabase, SECURITY_DB_FILE, SqliteReplayCache } from '../../src/storage/replay-cache-sqlite.js';
import { createTestSchema, pgAvailable } from './pg-test-db.js';

export type StoreTable = 'feedback' | 'audit_event' | 'token_replay' | 'explanation';

export interface StorageTarget {
  openFeedback(): FeedbackStore;
  openAudit(options?: AuditStoreOptions): AuditStore;
  openReplayCache(): ReplayCache;
  openExplanations(): ExplanationStore;
  /** Rows in `table`, read around the stores (what is durable, not what a store buffers). */
  count(table: StoreTable): Promise<number>;
  /** Closes what was opened here and deletes the database. */
  dispose(): Promise<void>;
}

export interface StorageBackend {
  name: 'sqlite' | 'postgresql';
  create(): Promise<StorageTarget>;
}

const SQLITE_FILES: Record<StoreTable, string> = {
  feedback: FEEDBACK_DB_FILE,
  audit_event: SECURITY_DB_FILE,
  token_replay: SECURITY_DB_FILE,
  explanation: EXPLANATIONS_DB_FILE,
};

const sqlite: StorageBackend = {
  name: 'sqlite',
  async create() {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-stores-'));
    const closers: Array<() => unknown> = [];
    return {
      openFeedback() {
        const store = openFeedbackStore(dir);
        closers.push(() => store.close());
        return store;
      },
      openAudit(options) {
        const db = openSecurityDatabase(dir);
        const store = createAuditStore(db, options);
        closers.push(async () => {
          await store.close().catch(() => undefined);
          db.close();
        });
        return store;
      },
      openReplayCache() {
        const cache = new SqliteReplayCache(dir);
        closers.push(() => cache.close());
        return cache;
      },
      openExplanations() {
        const store = openSqliteExplanationStore(dir);
        closers.push(() => store.close());
        return store;
      },
      async count(table) {
        const file = path.join(dir, SQLITE_FILES[table]);
        if (!fs.existsSync(file)) return 0;
        const db = new Database(file, { readonly: true });
        try {
          return (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
        } finally {
          db.close();
        }
      },
      async dispose() {
        for (const close of closers.reverse()) await close();
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  },
};

const postgresql: StorageBackend = {
  name: 'postgresql',
  async create() {
    const schema = await createTestSchema();
    const closers: Array<() => unknown> = [];
    const reader = schema.pool({ max: 1 });
    return {
      openFeedback: () => openPgFeedbackStore(schema.pool({ max: 2 })),
      openAudit(options) {
        const store = openPgAuditStore(schema.pool({ max: 2 }), options);
        closers.push(() => store.close().catch(() => undefined));
        return store;
      },
      openReplayCache() {
        const cache = new PgReplayCache(schema.pool({ max: 4 }), { sweepIntervalMs: 0 });
        closers.push(() => cache.close());
        return cache;
      },
      openExplanations: () => openPgExplanationStore(schema.pool({ max: 2 })),
      async count(table) {
        const exists = await reader.query<{ t: string | null }>('SELECT to_regclass($1) AS t', [table]);
        if (exists.rows[0]?.t === null) return 0;
        const { rows } = await reader.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`);
        return Number(rows[0]!.n);
      },
      async dispose() {
        for (const close of closers.reverse()) await close();
        await schema.drop();
      },
    };
  },
};

/** SQLite always; PostgreSQL when the test database answers. */
export async function storageBackends(): Promise<StorageBackend[]> {
  return (await pgAvailable()) ? [sqlite, postgresql] : [sqlite];
}
