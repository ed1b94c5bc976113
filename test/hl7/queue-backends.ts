/**
 * The durable HL7 queue back ends the tests run against: SQLite always, PostgreSQL when the test
 * database answers (test/storage/pg-test-db.ts; required in CI). Each `createDb()` is an empty queue
 * of its own — a temp directory, or a fresh PostgreSQL schema — that any number of stores (replicas)
 * can open.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { HL7_DB_FILE, openSqliteQueue } from '../../src/hl7/sqlite-queue.js';
import { openPgQueue, type PgQueueOptions } from '../../src/hl7/pg-queue.js';
import type { MessageStore } from '../../src/hl7/queue.js';
import { createTestSchema, pgAvailable, PG_TEST_URL } from '../storage/pg-test-db.js';

export interface QueueDb {
  /** DATA_DIR for startHl7Interface (holds the SQLite file; unused by PostgreSQL). */
  dir: string;
  /** Opens one more store (one replica) on this queue. */
  open(options?: Pick<PgQueueOptions, 'leaseMs' | 'instanceId' | 'countCap'>): Promise<MessageStore>;
  /** MSH-10 of every stored inbound message, read straight from the file or database. */
  storedControlIds(): Promise<Set<string>>;
  /** argv and env for test/hl7/child-listener.ts to open this queue in another process. */
  child: { args: string[]; env: Record<string, string> };
  /** PostgreSQL only: a query on this queue's schema. */
  query(sql: string): Promise<{ rows: Array<Record<string, unknown>> }>;
  drop(): Promise<void>;
}

export interface QueueBackend {
  name: 'SQLite' | 'PostgreSQL';
  createDb(): Promise<QueueDb>;
}

// message_key is MSH-3|MSH-4|MSH-10.
const controlIds = (keys: string[]) => new Set(keys.map((k) => k.split('|')[2]!));

const tempDir = () => mkdtempSync(path.join(os.tmpdir(), 'vigil-hl7-q-'));

const sqlite: QueueBackend = {
  name: 'SQLite',
  async createDb() {
    const dir = tempDir();
    return {
      dir,
      open: async (options = {}) => openSqliteQueue(dir, options.countCap !== undefined ? { countCap: options.countCap } : {}),
      async storedControlIds() {
        const db = new Database(path.join(dir, HL7_DB_FILE), { readonly: true });
        try {
          return controlIds((db.prepare('SELECT message_key FROM inbound').all() as { message_key: string }[]).map((r) => r.message_key));
        } finally {
          db.close();
        }
      },
      child: { args: [dir], env: {} },
      query: () => Promise.reject(new Error('SQLite queue: no SQL access here')),
      drop: async () => rmSync(dir, { recursive: true, force: true }),
    };
  },
};

const postgres: QueueBackend = {
  name: 'PostgreSQL',
  async createDb() {
    const dir = tempDir();
    const schema = await createTestSchema();
    return {
      dir,
      open: (options = {}) => openPgQueue(schema.pool({ max: 5 }), options),
      async storedControlIds() {
        const { rows } = await schema.pool({ max: 1 }).query<{ message_key: string }>('SELECT message_key FROM hl7_inbound');
        return controlIds(rows.map((r) => r.message_key));
      },
      query: (sql) => schema.pool({ max: 1 }).query(sql),
      child: { args: [dir], env: { DATABASE_URL: PG_TEST_URL, VIGIL_TEST_PG_SCHEMA: schema.schema } },
      async drop() {
        await schema.drop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
};

export const pgReady = await pgAvailable();

/** SQLite, and PostgreSQL when available: for `describe.each(QUEUE_BACKENDS)('… ($name)', …)`. */
export const QUEUE_BACKENDS: QueueBackend[] = pgReady ? [sqlite, postgres] : [sqlite];
export const PG_BACKEND = postgres;
