/**
 * HL7 v2 ingest benchmark (`npx tsx bench/hl7.ts [messagesPerConnection]`): 8 concurrent MLLP
 * connections, each sending ORU^R01 messages (vital signs, 5 segments) and waiting for every ACK
 * before the next (the way interface engines send), against the listener with the durable SQLite
 * queue (WAL, synchronous=FULL, group commit), with the PostgreSQL queue (when DATABASE_URL is set:
 * a fresh schema, dropped afterwards; one INSERT per group, shared-queue claims), and with
 * durability off (in-memory queue). The worker applies messages to an in-memory FhirStore in every
 * run, as in production. Reports messages/s, ACK latency p50/p95/p99 and the durable/off ratios.
 * BENCH_ONLY=sqlite|postgres|off runs one of them. Not part of the test suite: timings depend on
 * the machine (disk fsync latency above all) and on what else runs on it (the load average is printed).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { FhirStore } from '../src/sandbox/fhir/store.js';
import { startHl7Interface } from '../src/hl7/index.js';
import { storeWriter } from '../src/hl7/store-writer.js';
import { frame, MllpDecoder } from '../src/hl7/mllp.js';
import { createLogger } from '../src/logger.js';
import { openPgQueue } from '../src/hl7/pg-queue.js';
import type { MessageStore } from '../src/hl7/queue.js';
import { openPgPool } from '../src/storage/postgres.js';
import { percentile } from './percentile.js';
import { openScratchSchema } from './pg-scratch.js';

type Mode = 'sqlite' | 'postgres' | 'off';
const DATABASE_URL = process.env.DATABASE_URL;

const CONNECTIONS = 8;
const PER_CONNECTION = Number(process.argv[2] ?? 2500);
const WARMUP = 200;

function message(id: string, patient: number): string {
  const t = '20260101120000+0000';
  return [
    `MSH|^~\\&|MONITOR|WARD|VIGIL|HOSP|${t}||ORU^R01^ORU_R01|${id}|P|2.5.1`,
    `PID|1||MRN${patient}^^^HOSP^MR||Bench^Patient||19600101|F`,
    `OBR|1||${id}|85353-1^Vital signs panel^LN|||${t}`,
    `OBX|1|NM|8867-4^Heart rate^LN||${60 + (patient % 40)}|/min^^UCUM|||||F|||${t}`,
    `OBX|2|NM|9279-1^Respiratory rate^LN||18|/min^^UCUM|||||F|||${t}`,
  ].join('\r');
}

/** One connection sending `count` messages, one at a time; returns ACK latencies in ms. */
function runConnection(port: number, prefix: string, count: number): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1', noDelay: true });
    const decoder = new MllpDecoder(1 << 20);
    const latencies: number[] = [];
    let sentAt = 0;
    let i = 0;
    const sendNext = () => {
      sentAt = performance.now();
      socket.write(frame(message(`${prefix}-${i}`, i % 100)));
    };
    socket.on('connect', sendNext);
    socket.on('data', (chunk) => {
      for (const e of decoder.push(chunk)) {
        if (e.kind !== 'frame') continue;
        if (!e.payload.includes('MSA|AA')) return reject(new Error(`not AA: ${e.payload.toString().slice(0, 200)}`));
        latencies.push(performance.now() - sentAt);
        if (++i >= count) {
          socket.end();
          return resolve(latencies);
        }
        sendNext();
      }
    });
    socket.on('error', reject);
  });
}

/** A PostgreSQL queue in a schema of its own (dropped by the returned function). */
async function pgQueue(url: string): Promise<{ store: MessageStore; drop: () => Promise<void> }> {
  const scratch = await openScratchSchema(url, 'bench_hl7');
  const store = await openPgQueue(openPgPool(url, { schema: scratch.schema, max: 5 }), { ownsPool: true });
  return { store, drop: () => scratch.drop() };
}

async function run(mode: Mode): Promise<{ rate: number; p50: number; p95: number; p99: number; applied: number; load: string }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vigil-bench-hl7-'));
  const store = new FhirStore();
  const pgq = mode === 'postgres' ? await pgQueue(DATABASE_URL!) : undefined;
  const loadBefore = os.loadavg()[0]!.toFixed(1);
  const hl7 = await startHl7Interface({
    port: 0,
    host: '127.0.0.1',
    dataDir: dir,
    durable: mode !== 'off',
    ...(pgq ? { store: pgq.store } : {}),
    writer: storeWriter(store),
    logger: createLogger('silent'),
    applyPaused: process.env.BENCH_APPLY === 'off',
  });
  try {
    await Promise.all(Array.from({ length: CONNECTIONS }, (_, c) => runConnection(hl7.port, `W${c}`, WARMUP)));
    const started = performance.now();
    const all = await Promise.all(Array.from({ length: CONNECTIONS }, (_, c) => runConnection(hl7.port, `C${c}`, PER_CONNECTION)));
    const seconds = (performance.now() - started) / 1000;
    const latencies = all.flat().sort((a, b) => a - b);
    if (process.env.BENCH_APPLY !== 'off') await hl7.worker.idle();
    return {
      rate: latencies.length / seconds,
      p50: percentile(latencies, 0.5),
      p95: percentile(latencies, 0.95),
      p99: percentile(latencies, 0.99),
      applied: (await hl7.store.counts()).applied,
      load: `${loadBefore} → ${os.loadavg()[0]!.toFixed(1)}`,
    };
  } finally {
    await hl7.close();
    await pgq?.drop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const total = CONNECTIONS * PER_CONNECTION;
console.log(`HL7 ingest: ${CONNECTIONS} connections × ${PER_CONNECTION} ORU^R01 (${total} messages), ACK awaited per message; Node ${process.version}, ${os.cpus().length} CPUs`);
// BENCH_ONLY=sqlite|postgres|off runs one of them (e.g. to profile it alone with --cpu-prof); "durable" = sqlite.
const only = process.env.BENCH_ONLY === 'durable' ? 'sqlite' : process.env.BENCH_ONLY;
type Result = Awaited<ReturnType<typeof run>>;
const fmt = (r: Result) =>
  `${r.rate.toFixed(0).padStart(7)} msg/s   ACK p50 ${r.p50.toFixed(2)} ms  p95 ${r.p95.toFixed(2)} ms  p99 ${r.p99.toFixed(2)} ms  (applied ${r.applied}; load avg ${r.load})`;
const wanted = (mode: Mode) => only === undefined || only === mode;
const sqlite = wanted('sqlite') ? await run('sqlite') : undefined;
if (sqlite) console.log(`durable, SQLite (WAL, synchronous=FULL, group commit):  ${fmt(sqlite)}`);
if (wanted('postgres') && !DATABASE_URL) console.log('PostgreSQL: skipped (set DATABASE_URL)');
const postgres = wanted('postgres') && DATABASE_URL ? await run('postgres') : undefined;
if (postgres) console.log(`durable, PostgreSQL (one INSERT per group, claims):     ${fmt(postgres)}`);
const off = wanted('off') ? await run('off') : undefined;
if (off) console.log(`durability off (memory queue):                          ${fmt(off)}`);
if (sqlite && off) console.log(`ratio SQLite / off: ${(sqlite.rate / off.rate).toFixed(2)}`);
if (postgres && off) console.log(`ratio PostgreSQL / off: ${(postgres.rate / off.rate).toFixed(2)}`);
if (sqlite) console.log(`target ≥ 2,000 msg/s durable (SQLite): ${sqlite.rate >= 2000 ? 'met' : 'NOT met'}`);
if (postgres) console.log(`target ≥ 2,000 msg/s durable (PostgreSQL): ${postgres.rate >= 2000 ? 'met' : 'NOT met'}`);
