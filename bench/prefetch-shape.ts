/**
 * `npx tsx bench/prefetch-shape.ts [--runs 300]`: cost of the FHIR JSON-shape guard (src/fhir/shape.ts)
 * that every hook call now pays on its prefetch, on the largest one Vigil sees — vigil-deterioration's
 * 48 h of Observations for a sandbox patient, as the sandbox EHR fills it. Pure JavaScript (no tfjs);
 * reports p50/p99 per call and the 1-minute load average (other processes share the cores).
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import type { Bundle } from 'fhir/r4';
import { deteriorationPrefetch } from '../src/cds-hooks/services/deterioration/definition.js';
import { fillPrefetchTemplate } from '../src/cds-hooks/prefetch-template.js';
import { wellFormedPrefetch } from '../src/fhir/shape.js';
import { fillPrefetch } from '../src/sandbox/ehr/hook-request.js';
import { FhirStore } from '../src/sandbox/fhir/store.js';
import { keepSupported } from '../src/sandbox/index.js';
import { loadSandboxData } from '../src/sandbox/patients.js';
import { percentile } from './percentile.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '300' } } });
const runs = Number(values.runs);

const store = new FhirStore();
for (const bundle of loadSandboxData(undefined, new Date()).bundles) store.loadBundle(keepSupported(bundle, new Set(store.resourceTypes), new Map()));
const context = { userId: 'Practitioner/u1', patientId: '7aa15a43-3a41-4d3d-a9c5-7ef941757531' };
// A JSON round trip: what the router gets from express.json(), not the store's frozen objects.
const prefetch = JSON.parse(JSON.stringify(await fillPrefetch(deteriorationPrefetch(), context, { fill: fillPrefetchTemplate, source: store, fhirServer: 'http://ehr.example/fhir' }))) as Parameters<typeof wellFormedPrefetch>[0];

for (let i = 0; i < 50; i++) wellFormedPrefetch(prefetch);
const ms: number[] = [];
for (let i = 0; i < runs; i++) {
  const started = performance.now();
  wellFormedPrefetch(prefetch);
  ms.push(performance.now() - started);
}
ms.sort((a, b) => a - b);
const observations = Object.values(prefetch).reduce((n, v) => n + (v?.resourceType === 'Bundle' ? ((v as Bundle).entry ?? []).length : 0), 0);
console.log(
  `prefetch ${observations} Bundle entries, ${JSON.stringify(prefetch).length} bytes: guard p50 ${percentile(ms, 0.5).toFixed(3)} ms, p99 ${percentile(ms, 0.99).toFixed(3)} ms ` +
    `(${runs} runs, load average ${os.loadavg()[0]!.toFixed(2)})`,
);
