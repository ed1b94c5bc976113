/**
 * What a repeated vigil-ecg-rhythm call costs, in process: `npx tsx bench/ecg-reuse.ts [--rounds 5]`
 *
 * The shipped 30-s AF sandbox tracing (A00027) through createEcgRhythmService, the explanation store on a SQLite
 * file in a temp DATA_DIR, one call at a time, three ways interleaved per round so outside load falls on each alike:
 * - first: a tracing never seen (the Observation's meta.versionId changes each call) on a new engine: analysed,
 *   explained and a record written;
 * - repeat: the same tracing again on one engine: the analysis from the engine's memo; with reuse no row written;
 * - new engine: the same tracing on a new engine over the same store (a restart, another replica): analysed
 *   again (the memo is in memory), the record found in the store by its key.
 * Reports p50 and mean wall ms, rows written per mode, the stored record's JSON size, the tfjs back end and
 * the load average before and after.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import type { Bundle, Observation } from 'fhir/r4';
import { createEcgRhythmService } from '../src/cds-hooks/services/ecg-rhythm/index.js';
import type { Card, CdsService } from '../src/cds-hooks/types.js';
import { ExplanationEngine } from '../src/explanations/engine.js';
import { modelProviderOf } from '../src/explanations/model-provider.js';
import type { ExplanationRecord } from '../src/explanations/record.js';
import { openSqliteExplanationStore } from '../src/explanations/sqlite-store.js';
import type { ExplanationStore } from '../src/explanations/store.js';
import { createLogger } from '../src/logger.js';
import { readEcgRecords } from '../src/models/ecg/data.js';
import { ecgObservation } from '../src/models/ecg/sandbox-observations.js';
import { backendName, openModelRegistry } from '../src/models/index.js';
import { percentile } from './percentile.js';

const { values: args } = parseArgs({ options: { rounds: { type: 'string', default: '5' } } });
const ROUNDS = Number(args.rounds);
const loadBefore = os.loadavg();

const registry = await openModelRegistry({ backend: 'auto', modelsDir: 'models', modelMaxBatch: 8, modelMaxWaitMs: 0 });
const tracing = readEcgRecords('data/raw/ecg-cinc2017/records.jsonl').find((r) => r.id === 'A00027')!;
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-bench-ecg-'));
const raw = openSqliteExplanationStore(dataDir);
let rows = 0;
const store: ExplanationStore = {
  latestByModel: (patientId: string) => raw.latestByModel(patientId),
  purgeOlderThan: (before: Date) => raw.purgeOlderThan(before),
  close: async () => undefined,
  save: async (r: ExplanationRecord) => {
    rows++;
    await raw.save(r);
  },
  saveIssued: async (r: ExplanationRecord, key: string, notBefore?: Date) => {
    const kept = await raw.saveIssued(r, key, notBefore);
    if (kept.id === r.id) rows++;
    return kept;
  },
  findIssued: (key: string, notBefore?: Date) => raw.findIssued(key, notBefore),
  get: (id: string) => raw.get(id),
};
const logger = createLogger('silent');
const serviceOn = (engine: ExplanationEngine): CdsService => createEcgRhythmService({ models: modelProviderOf(registry), explanations: store, engine });

function observation(version: string): Observation {
  const o = ecgObservation(tracing, 'p1', '2026-01-01T10:00:00Z', 'value');
  o.meta = { ...o.meta, versionId: version };
  return o;
}

async function timed(service: CdsService, o: Observation): Promise<{ ms: number; card: Card }> {
  const prefetch = { ecg: { resourceType: 'Bundle', type: 'searchset', entry: [{ resource: o }] } as Bundle };
  const t0 = performance.now();
  const { cards } = await service.handle({ request: { hook: 'patient-view', hookInstance: randomUUID(), context: { patientId: 'p1', userId: 'Practitioner/1' } }, prefetch, baseUrl: 'http://vigil.test', logger, now: new Date() });
  return { ms: performance.now() - t0, card: cards[0]! };
}

const modes = { first: [] as number[], repeat: [] as number[], 'new engine': [] as number[] };
const written = { first: 0, repeat: 0, 'new engine': 0 };
const shared = serviceOn(new ExplanationEngine({ maxWaitMs: 0 }));
await timed(shared, observation('warm-up'));
let recordBytes = 0;
for (let round = 0; round < ROUNDS; round++) {
  for (const mode of Object.keys(modes) as Array<keyof typeof modes>) {
    const before = rows;
    const service = mode === 'repeat' ? shared : serviceOn(new ExplanationEngine({ maxWaitMs: 0 }));
    const { ms, card } = await timed(service, observation(mode === 'first' ? `v${round}` : 'warm-up'));
    modes[mode].push(ms);
    written[mode] += rows - before;
    const id = card.links?.find((l) => l.type === 'smart')?.appContext;
    if (!recordBytes && id) recordBytes = JSON.stringify(await raw.get((JSON.parse(id) as { explanationId: string }).explanationId)).length;
  }
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
console.log(`backend ${backendName()}, ${ROUNDS} rounds, stored record ${recordBytes} bytes of JSON`);
for (const [mode, ms] of Object.entries(modes)) {
  console.log(`${mode.padEnd(10)} p50 ${percentile([...ms].sort((a, b) => a - b), 0.5).toFixed(1)} ms, mean ${mean(ms).toFixed(1)} ms, rows written ${written[mode as keyof typeof written]} of ${ms.length} calls`);
}
console.log(`load average before ${loadBefore.map((l) => l.toFixed(2)).join(' ')}, after ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} (${os.cpus().length} cores)`);
await raw.close();
await registry.close();
fs.rmSync(dataDir, { recursive: true, force: true });
