/**
 * `npx tsx bench/issued-lookup.ts [--rows 20000] [--n 2000] [--dir DIR] [--database-url URL] [--json OUT]`
 *
 * Cost of finding the explanation record already issued for exactly these data (src/explanations/issued.ts):
 * the warm path (an in-memory hit, no store call) next to the store lookup made on an in-memory miss
 * (ExplanationStore.findIssued by key: a hit after a restart or on another replica, and a miss — the first
 * call for new data, the lookup every cold call now pays before it explains), and the keyed write
 * (saveIssued) next to the plain one (save). SQLite and PostgreSQL in one run, each table filled with
 * `--rows` keyed records first. One caller in sequence; p50/p99/mean in ms; the load average before and after
 * (other work shares the cores). No TensorFlow.js back end is involved.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { IssuedExplanations } from '../src/explanations/issued.js';
import { openPgExplanationStore } from '../src/explanations/pg-store.js';
import type { ExplanationRecord } from '../src/explanations/record.js';
import { openSqliteExplanationStore } from '../src/explanations/sqlite-store.js';
import type { ExplanationStore } from '../src/explanations/store.js';
import { openPgPool } from '../src/storage/postgres.js';
import { percentile } from './percentile.js';
import { BENCH_DATABASE_URL, openScratchSchema } from './pg-scratch.js';

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '20000' },
    n: { type: 'string', default: '2000' },
    dir: { type: 'string' },
    'database-url': { type: 'string', default: BENCH_DATABASE_URL },
    json: { type: 'string' },
  },
});
const ROWS = Number(args.rows);
const N = Number(args.n);

/** The shape of a deterioration key (issued-key.ts): JSON of scheme, service, patient, model version, sha256. */
const keyOf = (i: number) => JSON.stringify([1, 'vigil-deterioration', `Patient/p${i % 500}`, '1.1.0', `${randomUUID()}${i}`.padEnd(44, '=')]);

/** ~17 KB of JSON, like a deterioration record (factors and a 48 × 40 attribution grid dominate). */
function record(i: number): ExplanationRecord {
  const created = new Date(Date.now() - (i % 1000) * 60_000).toISOString();
  return {
    id: randomUUID(),
    patientId: `p${i % 500}`,
    serviceId: 'vigil-deterioration',
    cardUuid: randomUUID(),
    model: { id: 'deterioration', version: '1.1.0' },
    created,
    asOf: created,
    dataHash: `sha256:${i}`,
    prediction: { probability: 0.2, band: 'moderate', indicator: 'warning', thresholds: { moderate: 0.1, high: 0.3 }, outcome: 'sepsis', horizonHours: 6 },
    factors: Array.from({ length: 12 }, (_, k) => ({ feature: `f${k}`, label: `Feature ${k}`, text: `Feature ${k} 1.23 at 03:17 raised the risk`, contribution: 0.01, evidence: [`Observation/o-${i}-${k}`] })),
    attributions: { hourStarts: [], features: [], values: Array.from({ length: 48 }, () => Array.from({ length: 40 }, () => 0.00123)), measured: [], sources: [] },
    notUsed: [],
  };
}

interface Row {
  backend: string;
  operation: string;
  n: number;
  p50: number;
  p99: number;
  mean: number;
}

async function time(backend: string, operation: string, n: number, run: (i: number) => unknown): Promise<Row> {
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await run(i);
    samples.push(performance.now() - t);
  }
  samples.sort((a, b) => a - b);
  const mean = samples.reduce((s, x) => s + x, 0) / n;
  return { backend, operation, n, p50: percentile(samples, 0.5), p99: percentile(samples, 0.99), mean };
}

async function benchStore(backend: string, store: ExplanationStore): Promise<Row[]> {
  const keys: string[] = [];
  const fill = performance.now();
  for (let i = 0; i < ROWS; i++) {
    keys.push(keyOf(i));
    await store.saveIssued(record(i), keys[i]!, new Date(Date.now() - 30 * 86_400_000));
  }
  console.error(`${backend}: ${ROWS} keyed records written in ${((performance.now() - fill) / 1000).toFixed(1)} s`);
  const notBefore = new Date(Date.now() - 30 * 86_400_000);
  const rows: Row[] = [];
  // Warm-up (statement preparation, caches) outside the samples.
  for (let i = 0; i < 50; i++) await store.findIssued(keys[i]!, notBefore);
  rows.push(await time(backend, 'findIssued hit (restart / other replica)', N, (i) => store.findIssued(keys[(i * 7919) % ROWS]!, notBefore)));
  rows.push(await time(backend, 'findIssued miss (new data: cold call)', N, (i) => store.findIssued(keyOf(ROWS + i), notBefore)));
  rows.push(await time(backend, 'save (unkeyed write)', Math.min(N, 500), (i) => store.save(record(ROWS + i))));
  rows.push(await time(backend, 'saveIssued (keyed write)', Math.min(N, 500), (i) => store.saveIssued(record(ROWS + N + i), keyOf(2 * ROWS + i), notBefore)));
  return rows;
}

async function main(): Promise<void> {
  const loadBefore = os.loadavg();
  const rows: Row[] = [];

  // Warm path: what an identical call pays once the record is in memory.
  const index = new IssuedExplanations({ retentionDays: 30 });
  const memKeys = Array.from({ length: 1000 }, (_, i) => keyOf(i));
  for (const [i, k] of memKeys.entries()) {
    await index.getOrIssue(k, async () => ({ id: `r${i}`, prediction: { modelId: 'deterioration', version: '1.1.0', probability: 0.2, band: 'moderate', indicator: 'warning' }, factors: [], created: new Date().toISOString() }));
  }
  const memN = 200_000;
  const t = performance.now();
  for (let i = 0; i < memN; i++) index.get(memKeys[i % 1000]!);
  const memMean = (performance.now() - t) / memN;
  rows.push({ backend: 'memory', operation: 'IssuedExplanations.get hit (warm path)', n: memN, p50: memMean, p99: memMean, mean: memMean });

  const dir = args.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-bench-issued-'));
  const sqlite = openSqliteExplanationStore(dir);
  try {
    rows.push(...(await benchStore('sqlite', sqlite)));
  } finally {
    await sqlite.close();
    if (!args.dir) fs.rmSync(dir, { recursive: true, force: true });
  }

  const url = args['database-url']!;
  let scratch: Awaited<ReturnType<typeof openScratchSchema>> | undefined;
  try {
    scratch = await openScratchSchema(url, 'bench_issued');
  } catch (err) {
    console.error(`PostgreSQL skipped (${(err as Error).message})`);
  }
  if (scratch) {
    const pool = openPgPool(url, { schema: scratch.schema, max: 4 });
    try {
      rows.push(...(await benchStore('postgresql', openPgExplanationStore(pool))));
    } finally {
      await pool.end();
      await scratch.drop();
    }
  }

  const loadAfter = os.loadavg();
  const fmt = (x: number) => (x < 0.01 ? x.toFixed(5) : x.toFixed(3));
  console.log(`issued-record lookup, ${ROWS} keyed records per table; load average ${loadBefore.map((x) => x.toFixed(2)).join(' ')} → ${loadAfter.map((x) => x.toFixed(2)).join(' ')} (${os.cpus().length} cores); no tfjs back end involved`);
  console.log('| back end | operation | n | p50 ms | p99 ms | mean ms |');
  console.log('|---|---|---|---|---|---|');
  // The in-memory row is one timed loop (each get is far below the timer's resolution): mean only.
  for (const r of rows) {
    const [p50, p99] = r.backend === 'memory' ? ['–', '–'] : [fmt(r.p50), fmt(r.p99)];
    console.log(`| ${r.backend} | ${r.operation} | ${r.n} | ${p50} | ${p99} | ${fmt(r.mean)} |`);
  }
  if (args.json) fs.writeFileSync(args.json, JSON.stringify({ rows: ROWS, loadBefore, loadAfter, results: rows }, null, 2));
}

await main();
