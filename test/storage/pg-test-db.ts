/**
 * PostgreSQL for the storage tests. `.ci/run` starts PostgreSQL 15 and sets VIGIL_TEST_DATABASE_URL and
 * VIGIL_TEST_PG_REQUIRED=1, so CI runs every storage test against both back ends. On a machine without
 * PostgreSQL the PostgreSQL variants are skipped with a notice, unless VIGIL_TEST_PG_REQUIRED=1.
 *
 * Each caller gets its own schema (dropped by `drop()`), so suites running in parallel never see each
 * other's rows.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { openPgPool, quoteIdent, type PgPool, type PgPoolOptions } from '../../src/storage/postgres.js';

export const PG_TEST_URL = process.env.VIGIL_TEST_DATABASE_URL ?? 'postgres://vigil:vigil@127.0.0.1:5432/vigil_test';
const REQUIRED = process.env.VIGIL_TEST_PG_REQUIRED === '1';

let availability: Promise<boolean> | undefined;

/** Whether the test database answers; throws when it does not and VIGIL_TEST_PG_REQUIRED=1. */
export function pgAvailable(): Promise<boolean> {
  availability ??= (async () => {
    const client = new pg.Client({ connectionString: PG_TEST_URL, connectionTimeoutMillis: 2000 });
    try {
      await client.connect();
      await client.query('SELECT 1');
      return true;
    } catch (err) {
      if (REQUIRED) throw new Error(`VIGIL_TEST_PG_REQUIRED=1 but PostgreSQL at ${PG_TEST_URL} is unreachable: ${(err as Error).message}`);
      console.warn(`PostgreSQL tests skipped: ${PG_TEST_URL} unreachable (${(err as Error).message})`);
      return false;
    } finally {
      await client.end().catch(() => undefined);
    }
  })();
  return availability;
}

export interface TestSchema {
  /** Schema name, unique per call. */
  schema: string;
  /** A pool whose search_path is this schema. */
  pool(options?: PgPoolOptions): PgPool;
  /** Closes the pools made here and drops the schema. */
  drop(): Promise<void>;
}

/** Creates an empty schema for one suite (call only when pgAvailable() is true). */
export async function createTestSchema(): Promise<TestSchema> {
  const schema = `t_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
  const admin = new pg.Client({ connectionString: PG_TEST_URL });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${quoteIdent(schema)}`);
  await admin.end();
  const pools: PgPool[] = [];
  return {
    schema,
    pool(options = {}) {
      const p = openPgPool(PG_TEST_URL, { ...options, schema });
      pools.push(p);
      return p;
    },
    async drop() {
      await Promise.all(pools.map((p) => p.end().catch(() => undefined)));
      const c = new pg.Client({ connectionString: PG_TEST_URL });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`);
      await c.end();
    },
  };
}
