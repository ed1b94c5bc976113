/**
 * The cold vigil-deterioration hook call in process (issue 7 §Speed):
 * `npx tsx bench/deterioration-cold.ts [--rounds 20] [--kernels on|off] [--dump out.json]`
 *
 * Calls the service through invokeService (validation, prefetch, handler, output guard; no HTTP, no JWT, no
 * body parsing) for every sandbox patient, one call at a time, each with data never seen (one extra heart rate
 * with a unique id), so every call builds its window, encodes, explains inline and writes a new explanation
 * record (SQLite in memory). Reports wall p50/p99 per call and the process CPU time per call (user + system,
 * so GC threads count), the tfjs back end and the load average. Run it with `node --cpu-prof` (via
 * `NODE_OPTIONS`) to see where a cold call's time goes without the load generator in the profile.
 *
 * `--dump` writes the cards and stored records of a first pass over the patients (as shipped, then with one new
 * reading) with ids and clock times blanked: two trees that produce the same dump answer the same.
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import type { FhirResource, Observation } from 'fhir/r4';
import { createDeteriorationService } from '../src/cds-hooks/services/deterioration/index.js';
import { ExplanationEngine } from '../src/explanations/engine.js';
import { modelProviderOf } from '../src/explanations/model-provider.js';
import type { ExplanationRecord } from '../src/explanations/record.js';
import { openSqliteExplanationStore } from '../src/explanations/sqlite-store.js';
import { backendName, openModelRegistry } from '../src/models/index.js';
import { NOW, callService, loadSandboxFixture, sandboxPrefetch } from '../test/cds-hooks/services/deterioration-fixtures.js';
import { percentile } from './percentile.js';

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '20' },
    kernels: { type: 'string', default: 'on' },
    dump: { type: 'string' },
  },
});

const registry = await openModelRegistry({ backend: 'auto', modelsDir: 'models', modelMaxBatch: 8, modelMaxWaitMs: 0, wasmFastKernels: args.kernels === 'on' });
const fixture = loadSandboxFixture();
const store = openSqliteExplanationStore(':memory:');
const saved: ExplanationRecord[] = [];
const service = createDeteriorationService({
  models: modelProviderOf(registry),
  explanations: { ...store, save: async (record) => (saved.push(record), store.save(record)) },
  engine: new ExplanationEngine({ maxWaitMs: 0 }),
});
const ids = fixture.index.map((p) => p.id);
const prefetches = new Map<string, Record<string, FhirResource | null>>();
for (const id of ids) prefetches.set(id, await sandboxPrefetch(service, fixture.store, { userId: 'Practitioner/sandbox-clinician', patientId: id }));

let reading = 0;
/** The patient's prefetch with one heart rate never seen before. */
function withNewReading(id: string): Record<string, FhirResource | null> {
  const prefetch = prefetches.get(id)!;
  const n = reading++;
  const hr: Observation = {
    resourceType: 'Observation',
    id: `bench-cold-${n}`,
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
    subject: { reference: `Patient/${id}` },
    effectiveDateTime: new Date(NOW.getTime() - 60_000 * (1 + (n % 50))).toISOString(),
    valueQuantity: { value: 70 + (n % 60), unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
  };
  const observations = prefetch.observations as { entry?: Array<{ resource?: FhirResource }> } & FhirResource;
  return { ...prefetch, observations: { ...observations, entry: [{ resource: hr }, ...(observations.entry ?? [])] } as FhirResource };
}

const blank = (json: string): string =>
  json.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, 'UUID').replace(/"(created|explainedAt)":"[^"]*"/g, '"$1":"T"');
const dump: unknown[] = [];
for (const id of ids) {
  for (const prefetch of [prefetches.get(id)!, withNewReading(id)]) {
    saved.length = 0;
    const { cards } = await callService(service, fixture.store, id, { prefetch });
    dump.push({ id, cards: JSON.parse(blank(JSON.stringify(cards))), records: JSON.parse(blank(JSON.stringify(saved))) });
  }
}
if (args.dump) writeFileSync(args.dump, JSON.stringify(dump, null, 1));

const load0 = os.loadavg()[0]!;
const times: number[] = [];
const cpu0 = process.cpuUsage();
for (let r = 0; r < Number(args.rounds); r++) {
  for (const id of ids) {
    const prefetch = withNewReading(id);
    const t0 = performance.now();
    await callService(service, fixture.store, id, { prefetch });
    times.push(performance.now() - t0);
  }
}
const cpu = process.cpuUsage(cpu0);
times.sort((a, b) => a - b);
console.log(
  `vigil-deterioration cold, in process · backend ${backendName()} · WASM_FAST_KERNELS ${args.kernels} · ${times.length} calls · ` +
    `p50 ${percentile(times, 0.5).toFixed(1)} ms, p99 ${percentile(times, 0.99).toFixed(1)} ms, mean ${(times.reduce((a, b) => a + b, 0) / times.length).toFixed(1)} ms · ` +
    `CPU ${((cpu.user + cpu.system) / 1000 / times.length).toFixed(1)} ms per call · load avg (1 min) ${load0.toFixed(1)} → ${os.loadavg()[0]!.toFixed(1)}`,
);
await store.close();
await registry.close();
