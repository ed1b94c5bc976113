import net from 'node:net';
import { describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { openScratchSchema } from '../../bench/pg-scratch.js';
import { openPgPool } from '../../src/storage/postgres.js';
import { PG_TEST_URL, pgAvailable } from '../storage/pg-test-db.js';

const available = await pgAvailable();

async function schemaExists(name: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: PG_TEST_URL });
  await client.connect();
  try {
    const { rows } = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [name]);
    return rows.length === 1;
  } finally {
    await client.end();
  }
}

(available ? describe : describe.skip)('bench scratch schema', () => {
  it('creates an empty schema under the prefix and drops it with its tables', async () => {
    const scratch = await openScratchSchema(PG_TEST_URL, 'bench_test');
    expect(scratch.schema).toMatch(/^bench_test_[0-9a-f]{12}$/);
    expect(await schemaExists(scratch.schema)).toBe(true);
    const pool = openPgPool(PG_TEST_URL, { schema: scratch.schema, max: 1 });
    await pool.query('CREATE TABLE probe (id INTEGER)');
    await pool.end();
    // The admin connection is usable outside the schema (the storage bench reads settings with it).
    expect((await scratch.admin.query('SHOW server_version')).rows).toHaveLength(1);
    await scratch.drop();
    expect(await schemaExists(scratch.schema)).toBe(false);
  });
});

describe('bench scratch schema, database unreachable', () => {
  it('throws the connection error', async () => {
    // A listener that hangs up on every connection: the PostgreSQL handshake fails, whatever else runs.
    const server = net.createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    try {
      await expect(openScratchSchema(`postgres://vigil:vigil@127.0.0.1:${port}/none`)).rejects.toThrow(/terminated|ECONNRESET/);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
