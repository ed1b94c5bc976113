/**
 * PostgreSQL connection for shared state (DATABASE_URL): several replicas behind a load balancer keep
 * feedback, audit events, the jti replay cache, HL7 queues and explanation records in one database.
 *
 * Each store creates its own tables on start-up with `ensureSchema`, under a transaction-scoped advisory
 * lock, so replicas starting at the same moment do not race on CREATE TABLE / CREATE INDEX.
 */
import pg from 'pg';

export type PgPool = pg.Pool;

export interface PgPoolOptions {
  /** Most connections this process opens. Default 10. */
  max?: number;
  /** Longest one statement may run before the server cancels it. Default 5000 ms. */
  statementTimeoutMs?: number;
  /** Longest to wait for a connection from the pool. Default 5000 ms. */
  connectionTimeoutMs?: number;
  /** Schema to use instead of `public` (tests give each suite its own). */
  schema?: string;
}

/** Opens a pool on `url` (postgres://user:pass@host:port/db). Connections are made lazily. */
export function openPgPool(url: string, options: PgPoolOptions = {}): PgPool {
  const settings = [`-c statement_timeout=${options.statementTimeoutMs ?? 5000}`];
  if (options.schema !== undefined) settings.push(`-c search_path=${quoteIdent(options.schema)}`);
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? 10,
    connectionTimeoutMillis: options.connectionTimeoutMs ?? 5000,
    options: settings.join(' '),
    application_name: 'vigil',
  });
  // An idle client losing its connection (database restart) must not crash the process; the next
  // query gets a fresh connection or a clear error.
  pool.on('error', () => undefined);
  return pool;
}

/** Arbitrary key for pg_advisory_xact_lock: "vigil" in ASCII. */
const SCHEMA_LOCK_KEY = 0x766967696c;

/** Runs `ddl` (idempotent CREATE … IF NOT EXISTS statements) in one transaction, one replica at a time. */
export async function ensureSchema(pool: PgPool, ddl: string): Promise<void> {
  await inTransaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK_KEY]);
    await client.query(ddl);
  });
}

/**
 * ensureSchema on first use, and again after a failure: a replica started while the database was down
 * creates its tables once the database answers. Every store operation awaits the returned function first.
 */
export function lazySchema(pool: PgPool, ddl: string): () => Promise<void> {
  let done = false;
  let pending: Promise<void> | undefined;
  return () => {
    if (done) return Promise.resolve();
    pending ??= ensureSchema(pool, ddl).then(
      () => {
        done = true;
      },
      (err: unknown) => {
        pending = undefined;
        throw err;
      },
    );
    return pending;
  };
}

/** Runs `work` in a transaction on one connection; rolls back if it throws. */
export async function inTransaction<T>(pool: PgPool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  // A checked-out client whose connection drops also emits 'error' (the pool listens only to idle ones);
  // unheard, that would crash the process. The failing query rejects with the same error.
  const ignore = () => undefined;
  client.on('error', ignore);
  let failure: Error | undefined;
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    failure = err instanceof Error ? err : new Error(String(err));
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.removeListener('error', ignore);
    // After a failure the connection may be broken: discard it rather than hand it to the next caller.
    client.release(failure);
  }
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
