/**
 * `npx tsx bench/app-sessions.ts [--n 2000] [--purge 20000] [--database-url URL]`
 *
 * What sharing the explanation view's sessions costs (issue 9 §State that scales), memory next to PostgreSQL
 * in one run:
 * - sealing and opening one launched session (AES-256-GCM of its JSON, about 1 KB) — CPU only;
 * - the store work of one /app/api call (get + touch: one read and open, one expiry update), in sequence;
 * - one save (a launch or a token refresh: seal + upsert);
 * and the explanation-record retention purge: rows deleted per second on SQLite and PostgreSQL, in batches of
 * 2000 (`--purge` rows older than the cut-off, as many newer ones kept).
 *
 * Reports p50/p99/mean in ms and the load average before and after (other work on the machine shares the
 * cores). PostgreSQL runs in a scratch schema dropped at the end. No TensorFlow.js back end is involved.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import type { ExplanationRecord } from '../src/explanations/record.js';
import { openPgExplanationStore } from '../src/explanations/pg-store.js';
import { openSqliteExplanationStore } from '../src/explanations/sqlite-store.js';
import type { ExplanationStore } from '../src/explanations/store.js';
import { MemorySessionStore, type AppSession, type SessionStore } from '../src/smart/app-launch/session-store.js';
import { SessionSealer } from '../src/smart/app-launch/session-seal.js';
import { openPgPool } from '../src/storage/postgres.js';
import { PgSessionStore } from '../src/storage/session-store-pg.js';
import { percentile } from './percentile.js';
import { BENCH_DATABASE_URL, openScratchSchema, type ScratchSchema } from './pg-scratch.js';

const { values: args } = parseArgs({
  options: {
    n: { type: 'string', default: '2000' },
    purge: { type: 'string', default: '20000' },
    'database-url': { type: 'string', default: BENCH_DATABASE_URL },
  },
});
const N = Number(args.n);
const PURGE = Number(args.purge);

async function measure(label: string, op: (i: number) => Promise<unknown> | unknown): Promise<void> {
  for (let i = 0; i < 50; i++) await op(i);
  const ms: number[] = [];
  for (let i = 0; i < N; i++) {
    const t = performance.now();
    await op(i);
    ms.push(performance.now() - t);
  }
  ms.sort((a, b) => a - b);
  const mean = ms.reduce((a, b) => a + b, 0) / ms.length;
  console.log(`${label.padEnd(44)} p50 ${percentile(ms, 0.5).toFixed(3)} ms  p99 ${percentile(ms, 0.99).toFixed(3)} ms  mean ${mean.toFixed(3)} ms  (n=${N})`);
}

/** A session after one launch, shaped like the real one (JWT-sized tokens). */
function launchedSession(): AppSession {
  const token = (n: number) => randomBytes(n).toString('base64url');
  return {
    id: token(32),
    pending: {},
    contexts: {
      [token(24)]: {
        iss: 'https://ehr.example/fhir',
        tokenEndpoint: 'https://ehr.example/auth/token',
        clientId: 'vigil-explain',
        accessToken: `${token(30)}.${token(300)}.${token(256)}`,
        refreshToken: token(32),
        accessTokenExpiresAt: Date.now() + 3_600_000,
        scope: 'launch openid fhirUser online_access patient/Patient.r patient/Observation.rs patient/RiskAssessment.rs',
        patient: randomUUID(),
        needPatientBanner: true,
        appContext: JSON.stringify({ explanationId: randomUUID() }),
      },
    },
    order: [],
  };
}

function record(id: string, created: string): ExplanationRecord {
  return {
    id,
    patientId: 'p1',
    serviceId: 'vigil-deterioration',
    cardUuid: id,
    model: { id: 'deterioration', version: '1.0.0' },
    created,
    asOf: created,
    dataHash: id,
    prediction: { probability: 0.2, band: 'moderate', indicator: 'warning', thresholds: { moderate: 0.1, high: 0.3 }, outcome: 'bench' },
    factors: [],
    notUsed: [],
  };
}

async function purgeBench(name: string, store: ExplanationStore): Promise<void> {
  const old = '2026-01-01T00:00:00.000Z';
  const fresh = new Date().toISOString();
  for (let i = 0; i < PURGE; i++) {
    await store.save(record(`o-${i}`, old));
    await store.save(record(`n-${i}`, fresh));
  }
  const t = performance.now();
  const n = await store.purgeOlderThan(new Date('2026-06-01T00:00:00.000Z'));
  const s = (performance.now() - t) / 1000;
  console.log(`${`retention purge, ${name}`.padEnd(44)} ${n} of ${2 * PURGE} rows in ${s.toFixed(2)} s = ${Math.round(n / s)} rows/s`);
}

async function main(): Promise<void> {
  console.log(`load average before: ${os.loadavg().map((v) => v.toFixed(2)).join(' ')}; ${os.cpus().length} cores; Node ${process.version}`);
  const sealer = new SessionSealer([randomBytes(32)]);
  const sample = launchedSession();
  const json = JSON.stringify(sample);
  const sealed = sealer.seal(sample.id, json);
  console.log(`session JSON ${json.length} B, sealed ${sealed.length} B`);
  await measure('seal (AES-256-GCM)', () => sealer.seal(sample.id, json));
  await measure('open', () => sealer.open(sample.id, sealed));

  let scratch: ScratchSchema | undefined;
  try {
    scratch = await openScratchSchema(args['database-url']!);
  } catch (err) {
    console.log(`PostgreSQL: skipped (${(err as Error).message})`);
  }
  const pool = scratch ? openPgPool(args['database-url']!, { schema: scratch.schema, max: 4 }) : undefined;
  const stores: Array<[string, SessionStore]> = [['memory', new MemorySessionStore()]];
  if (pool) stores.push(['postgresql', new PgSessionStore(pool, { keys: [randomBytes(32)], sweepIntervalMs: 0 })]);
  for (const [name, store] of stores) {
    const sessions = Array.from({ length: 100 }, launchedSession);
    for (const s of sessions) await store.save(s, 3600);
    await measure(`/app/api call (get + touch), ${name}`, async (i) => {
      const s = sessions[i % sessions.length]!;
      await store.get(s.id);
      await store.touch(s.id, 3600);
    });
    await measure(`save (launch / refresh), ${name}`, (i) => store.save(sessions[i % sessions.length]!, 3600));
  }

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-bench-retention-'));
  const sqlite = openSqliteExplanationStore(dir);
  await purgeBench('sqlite', sqlite);
  await sqlite.close();
  fs.rmSync(dir, { recursive: true, force: true });
  if (pool) await purgeBench('postgresql', openPgExplanationStore(pool));

  for (const [, store] of stores) if (store instanceof PgSessionStore) store.close();
  await pool?.end();
  await scratch?.drop();
  console.log(`load average after: ${os.loadavg().map((v) => v.toFixed(2)).join(' ')}`);
}

await main();
