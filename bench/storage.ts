/**
 * `npx tsx bench/storage.ts [--n 2000] [--concurrency 16] [--dir DIR] [--database-url URL] [--json OUT]`
 *
 * Latency of the two store operations on a hook call's or feedback POST's path, SQLite next to PostgreSQL
 * in one run (issue 9): one feedback POST (add of one entry, durable before the answer) and one jti
 * replay-cache check (the atomic claim; on PostgreSQL also with synchronous_commit=on). Each is run by one caller in sequence and by `--concurrency`
 * callers at once (a busy replica). Reports p50/p99/mean in ms, throughput, the load average before and
 * after, and PostgreSQL's durability settings.
 *
 * SQLite files go in `--dir` (default a temp dir under os.tmpdir(), i.e. the machine's disk); PostgreSQL
 * is `--database-url` (default VIGIL_TEST_DATABASE_URL or the local test database), in a scratch schema
 * dropped at the end. No TensorFlow.js back end is involved.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import type { FeedbackEntry } from '../src/cds-hooks/types.js';
import type { ReplayCache } from '../src/smart/replay-cache.js';
import { openFeedbackStore, type FeedbackStore } from '../src/storage/feedback-store.js';
import { openPgFeedbackStore } from '../src/storage/feedback-store-pg.js';
import { openPgPool } from '../src/storage/postgres.js';
import { PgReplayCache } from '../src/storage/replay-cache-pg.js';
import { SqliteReplayCache } from '../src/storage/replay-cache-sqlite.js';
import { percentile } from './percentile.js';
import { BENCH_DATABASE_URL, openScratchSchema } from './pg-scratch.js';

const { values: args } = parseArgs({
  options: {
    n: { type: 'string', default: '2000' },
    concurrency: { type: 'string', default: '16' },
    dir: { type: 'string' },
    'database-url': { type: 'string', default: BENCH_DATABASE_URL },
    json: { type: 'string' },
  },
});
const N = Number(args.n);
const CONCURRENCY = Number(args.concurrency);

interface Result {
  backend: 'sqlite' | 'postgresql';
  operation: 'feedback add' | 'replay check' | 'replay check, synchronous_commit=on';
  callers: number;
  ops: number;
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
  opsPerSec: number;
}

async function measure(callers: number, op: (i: number) => Promise<unknown> | unknown): Promise<Omit<Result, 'backend' | 'operation'>> {
  // Warm-up: statements prepared, connections opened, tables created.
  for (let i = 0; i < 50; i++) await op(-1 - i);
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: callers }, async () => {
      while (next < N) {
        const i = next++;
        const t0 = performance.now();
        await op(i);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const mean = latencies.reduce((s, v) => s + v, 0) / latencies.length;
  return { callers, ops: N, p50Ms: percentile(latencies, 0.5), p99Ms: percentile(latencies, 0.99), meanMs: mean, opsPerSec: N / seconds };
}

const entry = (i: number): FeedbackEntry => ({
  card: `card-${i}-${randomUUID()}`,
  outcome: 'overridden',
  overrideReason: { reason: { system: 'http://example.org/reasons', code: 'r1' }, userComment: 'benchmark' },
  outcomeTimestamp: new Date().toISOString(),
});

async function runBackend(backend: Result['backend'], feedback: FeedbackStore, replay: ReplayCache, durableReplay?: ReplayCache): Promise<Result[]> {
  const results: Result[] = [];
  const exp = Math.floor(Date.now() / 1000) + 600;
  const run = randomUUID();
  for (const callers of [1, CONCURRENCY]) {
    results.push({ backend, operation: 'feedback add', ...(await measure(callers, (i) => feedback.add('vigil-news2', [entry(i)], { receivedAt: new Date().toISOString() }))) });
    results.push({ backend, operation: 'replay check', ...(await measure(callers, (i) => replay.firstUse(`https://ehr.example\u0000${run}-${callers}-${i}`, exp))) });
    if (durableReplay) {
      results.push({ backend, operation: 'replay check, synchronous_commit=on', ...(await measure(callers, (i) => durableReplay.firstUse(`https://ehr.example\u0000${run}-durable-${callers}-${i}`, exp))) });
    }
  }
  return results;
}

function loadAverage(): string {
  return os.loadavg().map((v) => v.toFixed(2)).join(' ');
}

async function main(): Promise<void> {
  const loadBefore = loadAverage();
  const results: Result[] = [];

  const dir = args.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-bench-storage-'));
  const sqliteFeedback = openFeedbackStore(dir);
  const sqliteReplay = new SqliteReplayCache(dir);
  results.push(...(await runBackend('sqlite', sqliteFeedback, sqliteReplay)));
  await sqliteFeedback.close();
  sqliteReplay.close();
  if (!args.dir) fs.rmSync(dir, { recursive: true, force: true });

  const url = args['database-url']!;
  const scratch = await openScratchSchema(url);
  const settings: Record<string, string> = {};
  for (const name of ['synchronous_commit', 'fsync', 'wal_sync_method', 'server_version']) settings[name] = (await scratch.admin.query(`SHOW ${name}`)).rows[0][name] as string;
  const pool = openPgPool(url, { schema: scratch.schema, max: Math.max(10, CONCURRENCY) });
  try {
    const replay = new PgReplayCache(pool, { sweepIntervalMs: 0 });
    const durable = new PgReplayCache(pool, { sweepIntervalMs: 0, synchronousCommit: true });
    results.push(...(await runBackend('postgresql', openPgFeedbackStore(pool), replay, durable)));
    replay.close();
    durable.close();
  } finally {
    await pool.end();
    await scratch.drop();
  }

  const report = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: os.cpus().length,
    loadBefore,
    loadAfter: loadAverage(),
    sqliteDir: args.dir ?? os.tmpdir(),
    postgres: { via: new URL(url).host, ...settings },
    results,
  };
  console.log(`node ${report.node}, ${report.cpus} cpus, load average before ${report.loadBefore}, after ${report.loadAfter}`);
  console.log(`SQLite in ${report.sqliteDir}; PostgreSQL ${settings.server_version} over TCP ${report.postgres.via} (synchronous_commit=${settings.synchronous_commit}, fsync=${settings.fsync}, wal_sync_method=${settings.wal_sync_method})`);
  console.log('| back end | operation | callers | p50 ms | p99 ms | mean ms | ops/s |');
  console.log('|---|---|---:|---:|---:|---:|---:|');
  for (const r of results) {
    console.log(`| ${r.backend} | ${r.operation} | ${r.callers} | ${r.p50Ms.toFixed(3)} | ${r.p99Ms.toFixed(3)} | ${r.meanMs.toFixed(3)} | ${Math.round(r.opsPerSec)} |`);
  }
  if (args.json) fs.writeFileSync(args.json, JSON.stringify(report, null, 2));
}

await main();
