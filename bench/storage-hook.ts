/**
 * `npx tsx bench/storage-hook.ts [--rounds 6] [--requests 200] [--concurrency 1,16] [--database-url URL] [--json OUT]`
 *
 * Whole CDS Hooks calls over HTTP with each storage back end (issue 9): two Vigil apps in this process, one
 * on SQLite (DATA_DIR in a temp dir on disk), one on PostgreSQL (a scratch schema of `--database-url`),
 * both with the sandbox off and no models. Each request is a `vigil-news2` patient-view call with a fresh
 * ES256 client JWT (minted before timing): signature check, jti replay claim, NEWS2 from the prefetched
 * Patient, and the AuditEvent (group-committed after the answer). The store is the only difference.
 *
 * Rounds alternate between the back ends (SQLite, PostgreSQL, SQLite, …) so load from other processes on
 * the machine falls on both alike. Reports p50/p99 per back end and concurrency over all rounds, and the
 * load average before and after. No TensorFlow.js model runs.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { parseArgs } from 'node:util';
import { createVigil, type Vigil } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { openPgPool, type PgPool } from '../src/storage/postgres.js';
import { percentile } from './percentile.js';
import { BENCH_DATABASE_URL, openScratchSchema } from './pg-scratch.js';
import { createBenchClient, mintClientJwts } from './spawn-server.js';

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '6' },
    requests: { type: 'string', default: '200' },
    concurrency: { type: 'string', default: '1,16' },
    'database-url': { type: 'string', default: BENCH_DATABASE_URL },
    json: { type: 'string' },
  },
});
const ROUNDS = Number(args.rounds);
const REQUESTS = Number(args.requests);
const LEVELS = args.concurrency!.split(',').map(Number);
const PUBLIC_BASE_URL = 'https://vigil.bench.example';
const HOOK = '/cds-services/vigil-news2';

async function startApp(dataDir: string, clientsFile: string, pool?: PgPool): Promise<{ vigil: Vigil; server: Server; origin: string }> {
  const config = loadConfig({
    DATA_DIR: dataDir,
    SANDBOX: 'off',
    LOG_LEVEL: 'silent',
    CDS_CLIENTS_FILE: clientsFile,
    CDS_JWT_ALGORITHMS: 'ES256',
    PUBLIC_BASE_URL,
    RATE_LIMIT_RPS: '0',
    PRECOMPUTE: 'off',
    MODELS_DIR: path.join(dataDir, 'no-models'),
  });
  const vigil = await createVigil(config, pool ? { pgPool: pool } : {});
  const server = vigil.app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  return { vigil, server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

async function main(): Promise<void> {
  const loadBefore = os.loadavg().map((v) => v.toFixed(2)).join(' ');
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-bench-hook-'));
  const client = await createBenchClient();
  const clientsFile = client.writeClientsFile(dataDir);

  const url = args['database-url']!;
  const scratch = await openScratchSchema(url);
  const pool = openPgPool(url, { schema: scratch.schema, max: 10 });

  const apps = {
    sqlite: await startApp(path.join(dataDir, 'sqlite'), clientsFile),
    postgresql: await startApp(path.join(dataDir, 'pg'), clientsFile, pool),
  };
  const latencies: Record<string, number[]> = {};
  const body = (i: number) =>
    JSON.stringify({
      hook: 'patient-view',
      hookInstance: randomUUID(),
      context: { userId: 'Practitioner/bench', patientId: `p${i % 50}` },
      prefetch: { patient: { resourceType: 'Patient', id: `p${i % 50}`, birthDate: '1950-01-01' } },
    });

  try {
    for (let round = -1; round < ROUNDS; round++) {
      // Alternate which back end goes first, so neither always follows the other.
      const order = round % 2 === 0 ? (['sqlite', 'postgresql'] as const) : (['postgresql', 'sqlite'] as const);
      for (const name of order) {
        for (const callers of LEVELS) {
          const tokens = await mintClientJwts(client.privateKey, `${PUBLIC_BASE_URL}${HOOK}`, REQUESTS, 300);
          const bodies = Array.from({ length: REQUESTS }, (_, i) => body(i));
          const key = `${name} c=${callers}`;
          const sink = round < 0 ? [] : (latencies[key] ??= []); // round -1 warms up both
          let next = 0;
          await Promise.all(
            Array.from({ length: callers }, async () => {
              while (next < REQUESTS) {
                const i = next++;
                const t0 = performance.now();
                const res = await fetch(`${apps[name].origin}${HOOK}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens[i]}` }, body: bodies[i] });
                await res.arrayBuffer();
                if (res.status !== 200) throw new Error(`${name}: HTTP ${res.status}`);
                sink.push(performance.now() - t0);
              }
            }),
          );
        }
      }
    }
  } finally {
    for (const app of Object.values(apps)) {
      app.server.closeAllConnections();
      await new Promise<void>((resolve) => app.server.close(() => resolve()));
      await app.vigil.close();
    }
    await pool.end();
    await scratch.drop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }

  const rows = Object.entries(latencies).map(([key, values]) => {
    values.sort((a, b) => a - b);
    return { key, requests: values.length, p50Ms: percentile(values, 0.5), p99Ms: percentile(values, 0.99), meanMs: values.reduce((s, v) => s + v, 0) / values.length };
  });
  const loadAfter = os.loadavg().map((v) => v.toFixed(2)).join(' ');
  console.log(`node ${process.version}, ${os.cpus().length} cpus, load average before ${loadBefore}, after ${loadAfter}; ${ROUNDS} alternating rounds of ${REQUESTS} requests; PostgreSQL over TCP ${new URL(url).host}`);
  console.log('| back end, callers | requests | p50 ms | p99 ms | mean ms |');
  console.log('|---|---:|---:|---:|---:|');
  for (const r of rows) console.log(`| ${r.key} | ${r.requests} | ${r.p50Ms.toFixed(2)} | ${r.p99Ms.toFixed(2)} | ${r.meanMs.toFixed(2)} |`);
  if (args.json) fs.writeFileSync(args.json, JSON.stringify({ date: new Date().toISOString(), node: process.version, loadBefore, loadAfter, rounds: ROUNDS, requests: REQUESTS, rows }, null, 2));
}

await main();
