/**
 * `npx tsx bench/ecg-trigger.ts [--reps 3]`
 *
 * The new-ECG trigger (issue 10) end to end, in process on a real port (sandbox EHR, precompute on, shipped
 * models), per filing of the shipped 30-s AF tracing as a new Observation:
 *  - store trigger: POST /sandbox/fhir/Observation → the AF RiskAssessment exists in the store;
 *  - filing + filed hook: POST /sandbox/api/ecg-filing, then the signed hook call at once (it shares the
 *    analysis the store trigger started): the time from filing to a card for a new tracing;
 *  - filed hook again for the same Observation (served from the engine's memo);
 *  - patient-view after the precompute (served from the memo).
 * Medians over --reps filings (each a new Observation, so a new data version). Prints the tfjs back end and
 * the load average before and after: other work on the machine moves these numbers.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { Observation } from 'fhir/r4';
import { createVigil } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { backendName } from '../src/models/backend/index.js';
import { ecgRiskAssessmentId } from '../src/precompute/ecg.js';

const { values } = parseArgs({ options: { reps: { type: 'string', default: '3' } } });
const reps = Math.max(1, Number(values.reps));
const AF_TRACING = 'ecg-a00027';

interface Call {
  url: string;
  headers: Record<string, string>;
  body: { context: Record<string, unknown> } & Record<string, unknown>;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');

async function main(): Promise<void> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'vigil-bench-ecg-trigger-'));
  const config = { ...loadConfig({}), dataDir, sandbox: true, sandboxFhirAuth: false, precompute: true, precomputePollSeconds: 0, rateLimitRps: 0, explainThread: 'off' as const };
  const vigil = await createVigil(config, { logger: createLogger('silent') });
  const server = vigil.app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const store = vigil.sandboxStore!;
  const manifestVersion = (JSON.parse(readFileSync(path.join(config.modelsDir, 'ecg-rhythm', 'manifest.json'), 'utf8')) as { version: string }).version;
  const patientId = (store.read('Observation', AF_TRACING) as Observation).subject!.reference!.split('/')[1]!;
  const post = async (url: string, body: unknown, headers: Record<string, string> = { 'content-type': 'application/json' }) => {
    const res = await fetch(url, { method: 'POST', headers, body: JSON.stringify(body) });
    if (!res.ok) throw new Error(`${res.status} ${await res.text()}`);
    return res.json() as Promise<Record<string, unknown>>;
  };
  const file = () => post(`${origin}/sandbox/api/ecg-filing`, { patientId, tracingId: AF_TRACING }) as Promise<{ observation: { reference: string }; call: Call }>;

  // Warm-up: model loading and first-call costs are not what is measured.
  const warm = await file();
  await post(warm.call.url, warm.call.body, warm.call.headers);
  await vigil.precompute!.idle();

  const loadBefore = load();
  const rows = { storeTrigger: [] as number[], hookFresh: [] as number[], hookAgain: [] as number[], patientViewAfter: [] as number[] };
  for (let i = 0; i < reps; i++) {
    // Store trigger: time to the RiskAssessment, polled in process every 5 ms.
    const shipped = structuredClone(store.read('Observation', AF_TRACING) as Observation);
    const { id: _id, meta: _meta, ...rest } = shipped;
    let started = performance.now();
    const res = await fetch(`${origin}/sandbox/fhir/Observation`, { method: 'POST', headers: { 'content-type': 'application/fhir+json' }, body: JSON.stringify({ ...rest, effectiveDateTime: new Date().toISOString() }) });
    const created = (await res.json()) as Observation;
    const raId = ecgRiskAssessmentId(`Observation/${created.id}`, manifestVersion);
    while (!store.has('RiskAssessment', raId)) await new Promise((resolve) => setTimeout(resolve, 5));
    rows.storeTrigger.push(performance.now() - started);
    await vigil.precompute!.idle();

    // Filing through the EHR API, then the filed hook at once: the hook shares the analysis the store
    // trigger started (client and server share this event loop, so only the sum is meaningful).
    started = performance.now();
    const filed = await file();
    await post(filed.call.url, filed.call.body, filed.call.headers);
    rows.hookFresh.push(performance.now() - started);
    await vigil.precompute!.idle();

    // The same filing announced again, with a fresh client JWT.
    const resend = await file();
    await vigil.precompute!.idle();
    started = performance.now();
    await post(resend.call.url, { ...resend.call.body, context: filed.call.body.context }, resend.call.headers);
    rows.hookAgain.push(performance.now() - started);

    // patient-view: the newest ECG is the last filing, analysed ahead of time.
    const view = (await post(`${origin}/sandbox/api/hook-request`, { serviceId: 'vigil-ecg-rhythm', hook: 'patient-view', patientId })) as unknown as Call;
    started = performance.now();
    await post(view.url, view.body, view.headers);
    rows.patientViewAfter.push(performance.now() - started);
  }
  const loadAfter = load();
  console.log(`tfjs back end: ${backendName()}; load average (1/5/15 min) before ${loadBefore}, after ${loadAfter}; ${reps} filings, median ms:`);
  console.log(`| path | median ms |\n|---|---|`);
  console.log(`| store create → AF RiskAssessment stored | ${median(rows.storeTrigger).toFixed(0)} |`);
  console.log(`| filing (EHR API) + filed hook → card, tracing not analysed before | ${median(rows.hookFresh).toFixed(0)} |`);
  console.log(`| filed hook again, same Observation (memo) | ${median(rows.hookAgain).toFixed(0)} |`);
  console.log(`| patient-view after the precompute (memo) | ${median(rows.patientViewAfter).toFixed(0)} |`);
  console.log(`engine: ${JSON.stringify({ computed: vigil.explanationEngine.stats.computed, served: vigil.explanationEngine.stats.served })}`);
  server.closeAllConnections();
  server.close();
  await vigil.close();
  rmSync(dataDir, { recursive: true, force: true });
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
