/**
 * `npx tsx bench/hl7-counts.ts [--rows 100000] [--reps 50] [--database-url URL]`
 *
 * What the HL7 queue-depth gauge costs per /metrics scrape (issue 9 §State that scales): `counts()` on a
 * queue holding `--rows` inbound messages (1% failed, 0.5% pending, the rest applied) and as many outbound
 * results (0.2% pending, 0.1% failed, the rest sent), on SQLite and PostgreSQL.
 * - before: the former query (GROUP BY state over both whole tables) on the former schema (without the
 *   `*_finished` partial indexes, dropped for this step);
 * - after: `counts()` as shipped (partial indexes, applied/sent capped at COUNT_CAP).
 * Then the retention purge of every finished row in batches of 500: rows per second and the longest batch
 * (how long one batch holds the write lock / its transaction).
 *
 * Reports p50/p99/mean ms and the load average before and after (other work shares the cores).
 * PostgreSQL runs in a scratch schema dropped at the end (VACUUM ANALYZE after filling, as autovacuum would).
 * No TensorFlow.js back end is involved.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { HL7_DB_FILE, openSqliteQueue } from '../src/hl7/sqlite-queue.js';
import { openPgQueue } from '../src/hl7/pg-queue.js';
import type { MessageStore } from '../src/hl7/queue.js';
import { openPgPool } from '../src/storage/postgres.js';
import { percentile } from './percentile.js';
import { BENCH_DATABASE_URL, openScratchSchema } from './pg-scratch.js';

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '100000' },
    reps: { type: 'string', default: '50' },
    'database-url': { type: 'string', default: BENCH_DATABASE_URL },
  },
});
const ROWS = Number(args.rows);
const REPS = Number(args.reps);

const RAW =
  'MSH|^~\\&|MONITOR|WARD7|VIGIL|HOSP|20240101120000||ORU^R01|ID|P|2.5.1\rPID|1||123456^^^HOSP^MR||Doe^Jane||19600101|F\r' +
  'OBR|1|||vitals\r' +
  ['8867-4^Heart rate^LN|NM|92|/min', '9279-1^Resp rate^LN|NM|18|/min', '8310-5^Body temp^LN|NM|37.2|Cel', '2708-6^SpO2^LN|NM|95|%']
    .map((v, i) => `OBX|${i + 1}|${v}|||||F|||20240101115500`)
    .join('\r');

interface Target {
  name: string;
  store: MessageStore;
  /** SQL straight on the queue's database (bypassing the store). */
  sql(text: string): Promise<void>;
  time(text: string): Promise<void>;
  fillOutbound(rows: number): Promise<void>;
  close(): Promise<void>;
}

async function fillInbound(store: MessageStore, rows: number): Promise<void> {
  const group = 1000;
  const seqs: number[] = [];
  for (let start = 0; start < rows; start += group) {
    const items = Array.from({ length: Math.min(group, rows - start) }, (_, i) => ({ key: `MONITOR|WARD7|${start + i}`, event: 'ORU^R01', raw: RAW, orderKey: `p${(start + i) % 500}` }));
    for (const s of await store.enqueue(items)) seqs.push(s!);
  }
  const failedEvery = 100;
  const pendingEvery = 200;
  for (let i = 0; i < seqs.length; i++) {
    if (i % pendingEvery === 1) continue;
    if (i % failedEvery === 0) await store.markFailed(seqs[i]!, 'Hl7ContentError: refused');
    else await store.markApplied(seqs[i]!);
  }
  await store.counts(); // writes the grouped "applied" marks
}

const OLD_COUNTS = (inbound: string, outbound: string) =>
  `SELECT 'in' AS tbl, state, COUNT(*) AS n FROM ${inbound} GROUP BY state UNION ALL SELECT 'out', state, COUNT(*) FROM ${outbound} GROUP BY state`;

async function sqliteTarget(): Promise<Target> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vigil-bench-hl7c-'));
  const store = openSqliteQueue(dir);
  const db = new Database(path.join(dir, HL7_DB_FILE));
  db.pragma('busy_timeout = 5000');
  return {
    name: 'SQLite',
    store,
    sql: async (text) => void db.exec(text),
    time: async (text) => void db.prepare(text).all(),
    async fillOutbound(rows) {
      const insert = db.prepare('INSERT INTO outbound (control_id, created_at, raw, state, attempts, next_attempt_at) VALUES (?, ?, ?, ?, 1, ?)');
      db.transaction(() => {
        for (let i = 0; i < rows; i++) insert.run(`OUT${i}`, 1_700_000_000_000 + i, RAW, i % 500 === 1 ? 'pending' : i % 1000 === 2 ? 'failed' : 'sent', 1_700_000_000_000 + i);
      })();
    },
    async close() {
      db.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function pgTarget(url: string): Promise<Target> {
  const scratch = await openScratchSchema(url, 'bench_hl7c');
  const pool = openPgPool(url, { schema: scratch.schema, max: 5 });
  const store = await openPgQueue(pool);
  return {
    name: 'PostgreSQL',
    store,
    sql: async (text) => void (await pool.query(text)),
    time: async (text) => void (await pool.query(text)),
    async fillOutbound(rows) {
      await pool.query(
        `INSERT INTO hl7_outbound (control_id, created_at, raw, state, attempts, next_attempt_at)
         SELECT 'OUT' || i, 1700000000000 + i, $2, CASE WHEN i % 500 = 1 THEN 'pending' WHEN i % 1000 = 2 THEN 'failed' ELSE 'sent' END, 1, 1700000000000 + i
         FROM generate_series(0, $1 - 1) AS i`,
        [rows, RAW],
      );
      await pool.query('VACUUM ANALYZE hl7_inbound');
      await pool.query('VACUUM ANALYZE hl7_outbound');
    },
    async close() {
      await store.close();
      await pool.end();
      await scratch.drop();
    },
  };
}

function stats(ms: number[]): string {
  const s = [...ms].sort((a, b) => a - b);
  return `p50 ${percentile(s, 0.5).toFixed(2)} ms, p99 ${percentile(s, 0.99).toFixed(2)} ms, mean ${(s.reduce((a, b) => a + b, 0) / s.length).toFixed(2)} ms`;
}

async function timeIt(reps: number, fn: () => Promise<unknown>): Promise<number[]> {
  for (let i = 0; i < 3; i++) await fn();
  const out: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t = process.hrtime.bigint();
    await fn();
    out.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return out;
}

async function run(target: Target): Promise<void> {
  const fillStart = Date.now();
  await fillInbound(target.store, ROWS);
  await target.fillOutbound(ROWS);
  console.log(`${target.name}: filled ${ROWS} inbound + ${ROWS} outbound rows in ${((Date.now() - fillStart) / 1000).toFixed(1)} s`);
  const inTable = target.name === 'SQLite' ? 'inbound' : 'hl7_inbound';
  const outTable = target.name === 'SQLite' ? 'outbound' : 'hl7_outbound';

  await target.sql(`DROP INDEX ${inTable}_finished; DROP INDEX ${outTable}_finished`);
  const before = await timeIt(REPS, () => target.time(OLD_COUNTS(inTable, outTable)));
  console.log(`${target.name} before (GROUP BY over whole tables, former schema): ${stats(before)}`);
  await target.sql(
    `CREATE INDEX ${inTable}_finished ON ${inTable} (state, received_at) WHERE state <> 'pending'; CREATE INDEX ${outTable}_finished ON ${outTable} (state, created_at) WHERE state <> 'pending'`,
  );
  if (target.name === 'PostgreSQL') {
    await target.sql(`VACUUM ANALYZE ${inTable}`);
    await target.sql(`VACUUM ANALYZE ${outTable}`);
  }
  const after = await timeIt(REPS, () => target.store.counts());
  console.log(`${target.name} after (counts(): partial indexes, capped): ${stats(after)}; counts ${JSON.stringify(await target.store.counts())}`);

  const batches: number[] = [];
  let purged = 0;
  const purgeStart = process.hrtime.bigint();
  for (;;) {
    const t = process.hrtime.bigint();
    const r = await target.store.purgeBatch(Date.now() + 60_000, 500);
    batches.push(Number(process.hrtime.bigint() - t) / 1e6);
    purged += r.inbound + r.outbound;
    if (r.inbound < 500 && r.outbound < 500) break;
  }
  const secs = Number(process.hrtime.bigint() - purgeStart) / 1e9;
  console.log(
    `${target.name} purge: ${purged} rows in ${batches.length} batches, ${Math.round(purged / secs)} rows/s; batch ${stats(batches)}, longest ${Math.max(...batches).toFixed(1)} ms; counts after ${JSON.stringify(await target.store.counts())}`,
  );
}

console.log(`load average before: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} (${os.cpus().length} cores); rows ${ROWS}, reps ${REPS}`);
const sqlite = await sqliteTarget();
try {
  await run(sqlite);
} finally {
  await sqlite.close();
}
let postgres: Target | undefined;
try {
  postgres = await pgTarget(args['database-url']!);
} catch (err) {
  console.log(`PostgreSQL skipped: ${(err as Error).message}`);
}
if (postgres) {
  try {
    await run(postgres);
  } finally {
    await postgres.close();
  }
}
console.log(`load average after: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
