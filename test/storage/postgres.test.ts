import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ensureSchema, inTransaction } from '../../src/storage/postgres.js';
import { createTestSchema, pgAvailable, type TestSchema } from './pg-test-db.js';

const available = await pgAvailable();

(available ? describe : describe.skip)('PostgreSQL connection helpers', () => {
  let db: TestSchema;
  beforeAll(async () => {
    db = await createTestSchema();
  });
  afterAll(async () => {
    await db.drop();
  });

  it('creates tables once even when replicas start together', async () => {
    const a = db.pool();
    const b = db.pool();
    const ddl = 'CREATE TABLE IF NOT EXISTS probe (id INTEGER PRIMARY KEY); CREATE INDEX IF NOT EXISTS probe_id ON probe (id);';
    await Promise.all([ensureSchema(a, ddl), ensureSchema(b, ddl), ensureSchema(a, ddl)]);
    const { rows } = await a.query<{ n: string }>("SELECT count(*) AS n FROM information_schema.tables WHERE table_name = 'probe' AND table_schema = current_schema()");
    expect(rows[0]?.n).toBe('1');
  });

  it('rolls a failed transaction back', async () => {
    const pool = db.pool();
    await ensureSchema(pool, 'CREATE TABLE IF NOT EXISTS tx_probe (id INTEGER PRIMARY KEY)');
    await expect(
      inTransaction(pool, async (c) => {
        await c.query('INSERT INTO tx_probe (id) VALUES (1)');
        await c.query('INSERT INTO tx_probe (id) VALUES (1)');
      }),
    ).rejects.toThrow(/duplicate key/);
    const { rows } = await pool.query('SELECT id FROM tx_probe');
    expect(rows).toEqual([]);
  });
});
