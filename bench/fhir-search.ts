/**
 * Benchmark of the sandbox FHIR server's hot query (`npx tsx bench/fhir-search.ts`):
 *   Observation?patient=Patient/X&code=http://loinc.org|8867-4&_sort=-date
 * over a generated ward: 25 patients × 1,600 Observations (40 codes, 60 days; heart rate every two
 * hours, the other 39 codes spread over the remaining slots) = 40,000 Observations.
 *
 * Reports bundle load time, then p50/p95/p99 latency and throughput through the store, over real
 * HTTP on an ephemeral port (sequential and 8 in flight), and against a plain linear scan over all
 * Observations as the baseline. Not part of the test suite: timings depend on the machine.
 */
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import express from 'express';
import type { Bundle, BundleEntry, Observation, Patient } from 'fhir/r4';
import { createLogger } from '../src/logger.js';
import { FhirStore } from '../src/sandbox/fhir/store.js';
import { createFhirRouter } from '../src/sandbox/fhir/router.js';
import { percentile } from './percentile.js';

const PATIENTS = 25;
const PER_PATIENT = 1600;
const CODES = 40;
const DAYS = 60;
const LOINC = 'http://loinc.org';
const HEART_RATE = '8867-4';
const START = Date.UTC(2024, 0, 1);
const BASE = 'http://bench.local/sandbox/fhir';

// 40 distinct LOINC-shaped codes; the first is heart rate.
const codes = [HEART_RATE, ...Array.from({ length: CODES - 1 }, (_, i) => `${10000 + i * 7}-${i % 10}`)];

function generate(): Bundle {
  const entry: BundleEntry[] = [];
  for (let p = 0; p < PATIENTS; p++) {
    const patientUrl = `urn:uuid:00000000-0000-4000-8000-${String(p).padStart(12, '0')}`;
    const patient: Patient = { resourceType: 'Patient', id: `bench-${p}`, gender: p % 2 ? 'male' : 'female', birthDate: `19${50 + p}-01-01` };
    entry.push({ fullUrl: patientUrl, resource: patient, request: { method: 'PUT', url: `Patient/bench-${p}` } });
    const hours = DAYS * 24;
    for (let i = 0; i < PER_PATIENT; i++) {
      // Heart rate at every even hour (720 per patient); other codes round-robin over the rest.
      const isHr = i < hours / 2;
      const code = isHr ? HEART_RATE : codes[1 + (i % (CODES - 1))]!;
      const hour = isHr ? i * 2 : ((i - hours / 2) * 2 + 1) % hours;
      const o: Observation = {
        resourceType: 'Observation',
        status: 'final',
        category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }],
        code: { coding: [{ system: LOINC, code }] },
        subject: { reference: patientUrl },
        effectiveDateTime: new Date(START + hour * 3_600_000 + (i % 60) * 1000).toISOString(),
        valueQuantity: { value: 60 + (i % 50), unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
      };
      entry.push({ fullUrl: `urn:uuid:${p}-${i}`, resource: o, request: { method: 'POST', url: 'Observation' } });
    }
  }
  return { resourceType: 'Bundle', type: 'transaction', entry };
}

function report(label: string, samples: number[], wallMs: number): { p50: number; p95: number; p99: number } {
  const s = [...samples].sort((a, b) => a - b);
  const r = { p50: percentile(s, 0.5), p95: percentile(s, 0.95), p99: percentile(s, 0.99) };
  const rps = (samples.length / wallMs) * 1000;
  console.log(
    `${label.padEnd(34)} p50 ${r.p50.toFixed(3).padStart(8)} ms  p95 ${r.p95.toFixed(3).padStart(8)} ms  p99 ${r.p99.toFixed(3).padStart(8)} ms  ${rps.toFixed(0).padStart(7)} req/s  (n=${samples.length})`,
  );
  return r;
}

function timeLoop(n: number, fn: (i: number) => void): { samples: number[]; wall: number } {
  const samples: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    fn(i);
    samples.push(performance.now() - t);
  }
  return { samples, wall: performance.now() - t0 };
}

/** The baseline: what a server without indexes does — test every Observation, then sort. */
function linearScan(all: readonly Observation[], patientRef: string, system: string, code: string): Observation[] {
  const hits = all.filter(
    (o) => o.subject?.reference === patientRef && (o.code.coding ?? []).some((c) => c.system === system && c.code === code),
  );
  hits.sort((a, b) => Date.parse(b.effectiveDateTime ?? '') - Date.parse(a.effectiveDateTime ?? ''));
  return hits.slice(0, 50);
}

async function main(): Promise<void> {
  const bundle = generate();
  const timedLoad = (label: string): { store: FhirStore; ms: number } => {
    const s = new FhirStore();
    const heapBefore = process.memoryUsage().heapUsed;
    const cpu = process.cpuUsage();
    const t0 = performance.now();
    const { loaded } = s.loadBundle(bundle);
    const ms = performance.now() - t0;
    const used = process.cpuUsage(cpu);
    const heapMb = (process.memoryUsage().heapUsed - heapBefore) / 1e6;
    console.log(
      `${label}: loaded ${loaded} resources (${s.count('Observation')} Observations) in ${ms.toFixed(0)} ms wall, ${((used.user + used.system) / 1000).toFixed(0)} ms CPU; heap +${heapMb.toFixed(0)} MB`,
    );
    return { store: s, ms };
  };
  // The first load pays for JIT compilation; the second is what a warmed-up process sees.
  const cold = timedLoad('Cold load');
  const { store, ms: loadMs } = timedLoad('Warm load');

  const query = (p: number, code = HEART_RATE) => `patient=Patient/bench-${p}&code=${encodeURIComponent(`${LOINC}|${code}`)}&_sort=-date`;
  const first = store.search('Observation', new URLSearchParams(query(0)), { baseUrl: BASE });
  console.log(`Query matches ${first.total} per patient for heart rate; page of ${first.entry?.length} returned\n`);

  // Warm-up, then measure.
  for (let i = 0; i < 200; i++) store.search('Observation', new URLSearchParams(query(i % PATIENTS)), { baseUrl: BASE });
  const storeRun = timeLoop(3000, (i) => store.search('Observation', new URLSearchParams(query(i % PATIENTS)), { baseUrl: BASE }));
  const storeStats = report('store: heart rate (720 matches)', storeRun.samples, storeRun.wall);
  const rare = codes[7]!;
  const rareRun = timeLoop(3000, (i) => store.search('Observation', new URLSearchParams(query(i % PATIENTS, rare)), { baseUrl: BASE }));
  report(`store: rare code (~23 matches)`, rareRun.samples, rareRun.wall);
  const dateRun = timeLoop(1000, (i) =>
    store.search('Observation', new URLSearchParams(`${query(i % PATIENTS)}&date=ge2024-02-20&date=lt2024-02-21`), { baseUrl: BASE }),
  );
  report('store: + one-day date window', dateRun.samples, dateRun.wall);

  const all = collectAll(store);
  for (let i = 0; i < 5; i++) linearScan(all, `Patient/bench-${i}`, LOINC, HEART_RATE);
  const scanRun = timeLoop(200, (i) => linearScan(all, `Patient/bench-${i % PATIENTS}`, LOINC, HEART_RATE));
  const scanStats = report('baseline: linear scan', scanRun.samples, scanRun.wall);

  // Over HTTP on an ephemeral port.
  const app = express();
  app.use('/sandbox/fhir', createFhirRouter({ store, logger: createLogger('silent'), validate: false }));
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const get = async (p: number): Promise<void> => {
    const res = await fetch(`${origin}/sandbox/fhir/Observation?${query(p)}`);
    if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
    await res.arrayBuffer();
  };
  for (let i = 0; i < 200; i++) await get(i % PATIENTS);
  const httpSamples: number[] = [];
  let t = performance.now();
  for (let i = 0; i < 2000; i++) {
    const s = performance.now();
    await get(i % PATIENTS);
    httpSamples.push(performance.now() - s);
  }
  const httpStats = report('HTTP: sequential', httpSamples, performance.now() - t);

  const concurrentSamples: number[] = [];
  const IN_FLIGHT = 8;
  const TOTAL = 4000;
  let next = 0;
  t = performance.now();
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < TOTAL) {
        const i = next++;
        const s = performance.now();
        await get(i % PATIENTS);
        concurrentSamples.push(performance.now() - s);
      }
    }),
  );
  report(`HTTP: ${IN_FLIGHT} in flight`, concurrentSamples, performance.now() - t);
  server.close();

  console.log(
    `\nIndexed store vs linear scan: ${(scanStats.p50 / storeStats.p50).toFixed(0)}× faster at p50, ${(scanStats.p95 / storeStats.p95).toFixed(0)}× at p95`,
  );
  console.log(`Target p95 < 50 ms over HTTP: ${httpStats.p95 < 50 ? 'met' : 'NOT met'} (${httpStats.p95.toFixed(2)} ms); bundle load < 2 s: ${loadMs < 2000 ? 'met' : 'NOT met'} (warm ${loadMs.toFixed(0)} ms, cold ${cold.ms.toFixed(0)} ms)`);
}

/** Every stored Observation, read page by page through the public API. */
function collectAll(store: FhirStore): Observation[] {
  const out: Observation[] = [];
  for (let offset = 0; ; offset += 1000) {
    const page = store.search('Observation', new URLSearchParams(`_count=1000&_offset=${offset}`), { baseUrl: BASE });
    const entries = page.entry ?? [];
    for (const e of entries) out.push(e.resource as Observation);
    if (entries.length < 1000) return out;
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
