/**
 * A scratch PostgreSQL schema for one bench run, so a bench never touches tables a test or another bench
 * uses on the same database, and leaves nothing behind.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { quoteIdent } from '../src/storage/postgres.js';

/** The database the PostgreSQL benches use unless `--database-url` names another: CI's test database. */
export const BENCH_DATABASE_URL = process.env.VIGIL_TEST_DATABASE_URL ?? 'postgres://vigil:vigil@127.0.0.1:5432/vigil_test';

export interface ScratchSchema {
  /** `<prefix>_<12 hex>`; open pools with `openPgPool(url, { schema })`. */
  schema: string;
  /** A connection outside the schema (e.g. for SHOW of server settings); ended by drop(). */
  admin: pg.Client;
  /** Drops the schema with everything in it and ends `admin`. Close the pools on it first. */
  drop(): Promise<void>;
}

/** Creates an empty schema on `url`; on failure nothing is left open and the error is thrown. */
export async function openScratchSchema(url: string, prefix = 'bench'): Promise<ScratchSchema> {
  const schema = `${prefix}_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  const admin = new pg.Client({ connectionString: url });
  try {
    await admin.connect();
    await admin.query(`CREATE SCHEMA ${quoteIdent(schema)}`);
  } catch (err) {
    await admin.end().catch(() => undefined);
    throw err;
  }
  return {
    schema,
    admin,
    async drop() {
      await admin.query(`DROP SCHEMA ${quoteIdent(schema)} CASCADE`);
      await admin.end();
    },
  };
}
