/**
 * What a repeated vigil-heart-disease call costs, in process:
 * `npx tsx bench/heart-reuse.ts [--rounds 50] [--store sqlite|postgresql] [--database-url URL]`
 *
 * Calls the patient-view service through invokeService (validation, prefetch, handler, output guard; no HTTP,
 * no JWT) for every sandbox patient with a cardiology work-up, one call at a time, the explanation store on a
 * SQLite file in a temp DATA_DIR (or a scratch PostgreSQL schema). Three ways, interleaved per patient so
 * outside load falls on each alike:
 * - first: data never seen (the blood pressure reading's meta.versionId changes each call) and a new engine,
 *   so the explanation is computed and a record written — every call's cost before records were reused;
 * - repeat: the same data again on one engine — before reuse an explanation-cache hit, the factor sentences
 *   rebuilt and a new row written; with reuse the record issued for these data, found in memory;
 * - new engine: the same data on a new engine each call over the same store, as after a restart or on another
 *   replica — with reuse the record found in the store by its key.
 * Reports p50/p99/mean wall ms, process CPU per call, rows written per mode, the tfjs back end and the load
 * average before and after. The file only uses APIs older than the reuse, so it runs on an earlier tree too
 * (copy it there) for the before/after comparison.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { Bundle, FhirResource, Observation } from 'fhir/r4';
import { createHeartDiseaseServices } from '../src/cds-hooks/services/heart-disease/index.js';
import type { CdsService } from '../src/cds-hooks/types.js';
import { ExplanationEngine } from '../src/explanations/engine.js';
import { modelProviderOf } from '../src/explanations/model-provider.js';
import { openPgExplanationStore } from '../src/explanations/pg-store.js';
import type { ExplanationRecord } from '../src/explanations/record.js';
import { openSqliteExplanationStore } from '../src/explanations/sqlite-store.js';
import type { ExplanationStore } from '../src/explanations/store.js';
import { backendName, openModelRegistry } from '../src/models/index.js';
import { openPgPool } from '../src/storage/postgres.js';
import { callService, loadSandboxFixture, sandboxPrefetch } from '../test/cds-hooks/services/deterioration-fixtures.js';
import { percentile } from './percentile.js';
import { BENCH_DATABASE_URL, openScratchSchema } from './pg-scratch.js';

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '50' },
    store: { type: 'string', default: 'sqlite' },
    'database-url': { type: 'string', default: BENCH_DATABASE_URL },
  },
});
const ROUNDS = Number(args.rounds);

const registry = await openModelRegistry({ backend: 'auto', modelsDir: 'models', modelMaxBatch: 8, modelMaxWaitMs: 0 });
const fixture = loadSandboxFixture();

let closeStore: () => Promise<void>;
let raw: ExplanationStore;
if (args.store === 'postgresql') {
  const scratch = await openScratchSchema(args['database-url'], 'bench_heart');
  const pool = openPgPool(args['database-url'], { max: 4, schema: scratch.schema });
  raw = openPgExplanationStore(pool);
  closeStore = async () => {
    await raw.close();
    await pool.end();
    await scratch.drop();
  };
} else {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-bench-heart-'));
  raw = openSqliteExplanationStore(dir);
  closeStore = async () => {
    await raw.close();
    fs.rmSync(dir, { recursive: true, force: true });
  };
}

type Mode = 'first' | 'repeat' | 'new engine';
const MODES: Mode[] = ['first', 'repeat', 'new engine'];
let mode: Mode = 'first';
const written: Record<Mode, number> = { first: 0, repeat: 0, 'new engine': 0 };
// The store, counting the rows each mode writes.
const store: ExplanationStore = {
  async save(record: ExplanationRecord) {
    written[mode]++;
    await raw.save(record);
  },
  async saveIssued(record: ExplanationRecord, key: string, notBefore?: Date) {
    const kept = await raw.saveIssued(record, key, notBefore);
    if (kept.id === record.id) written[mode]++;
    return kept;
  },
  findIssued: (key, notBefore) => raw.findIssued(key, notBefore),
  get: (id) => raw.get(id),
  latestByModel: (patientId) => raw.latestByModel(patientId),
  purgeOlderThan: (before, options) => raw.purgeOlderThan(before, options),
  close: async () => undefined,
};
const serviceOn = (engine: ExplanationEngine): CdsService => createHeartDiseaseServices({ models: modelProviderOf(registry), explanations: store, engine })[0]!;
const shared = serviceOn(new ExplanationEngine({ maxWaitMs: 0 }));

const ids = fixture.index.filter((p) => p.provenance.uci !== null).map((p) => p.id);
const prefetches = new Map<string, Record<string, FhirResource | null>>();
for (const id of ids) prefetches.set(id, await sandboxPrefetch(shared, fixture.store, { userId: 'Practitioner/sandbox-clinician', patientId: id }));

let version = 0;
/** The patient's prefetch with the blood pressure reading at a version never seen before. */
function amended(id: string): Record<string, FhirResource | null> {
  const prefetch = prefetches.get(id)!;
  const bundle = prefetch.observations as Bundle;
  const v = String(++version);
  const entry = (bundle.entry ?? []).map((e) => {
    const o = e.resource as Observation;
    return o.id?.endsWith('-uci-trestbps') ? { ...e, resource: { ...o, meta: { ...o.meta, versionId: v } } } : e;
  });
  return { ...prefetch, observations: { ...bundle, entry } as Bundle };
}

// Warm-up (not timed): the model, the sentence formatters, and the shared engine's record per patient.
for (const id of ids) {
  await callService(serviceOn(new ExplanationEngine({ maxWaitMs: 0 })), fixture.store, id, { prefetch: amended(id) });
  await callService(shared, fixture.store, id, { prefetch: prefetches.get(id)! });
}
written.first = written.repeat = 0;

const times: Record<Mode, number[]> = { first: [], repeat: [], 'new engine': [] };
const cpu: Record<Mode, number> = { first: 0, repeat: 0, 'new engine': 0 };
const load0 = os.loadavg()[0]!;
for (let r = 0; r < ROUNDS; r++) {
  for (const id of ids) {
    for (const m of MODES) {
      mode = m;
      const service = m === 'repeat' ? shared : serviceOn(new ExplanationEngine({ maxWaitMs: 0 }));
      const prefetch = m === 'first' ? amended(id) : prefetches.get(id)!;
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      const { cards } = await callService(service, fixture.store, id, { prefetch });
      times[m].push(performance.now() - t0);
      const c = process.cpuUsage(c0);
      cpu[m] += (c.user + c.system) / 1000;
      if (!cards[0]?.links?.some((l) => l.type === 'smart')) throw new Error(`no explanation link (${m}, ${id})`);
    }
  }
}
const load1 = os.loadavg()[0]!;

console.log(`vigil-heart-disease in process · backend ${backendName()} · store ${args.store} · ${ids.length} patients × ${ROUNDS} rounds · load avg (1 min) ${load0.toFixed(2)} → ${load1.toFixed(2)}`);
console.log('| call | n | p50 ms | p99 ms | mean ms | CPU ms/call | rows written |');
console.log('|---|---|---|---|---|---|---|');
for (const m of MODES) {
  const sorted = times[m].slice().sort((a, b) => a - b);
  const mean = sorted.reduce((s, x) => s + x, 0) / sorted.length;
  console.log(`| ${m} | ${sorted.length} | ${percentile(sorted, 0.5).toFixed(3)} | ${percentile(sorted, 0.99).toFixed(3)} | ${mean.toFixed(3)} | ${(cpu[m] / sorted.length).toFixed(3)} | ${written[m]} |`);
}
await closeStore();
await registry.close();
