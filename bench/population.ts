/**
 * `npx tsx bench/population.ts [--copies 10] [--rounds 2] [--batches 64,1] [--json OUT]`
 *
 * Population scoring throughput, batched vs one patient per forward pass, in the same run: the sandbox
 * EHR (createSandbox) on a loopback port with its ICU cohort copied `--copies` times under new ids (a
 * "bench-cohort" Group), then scorePopulation end to end — SMART Backend Services token with the demo key,
 * Bulk Data export, download, inputs, forward passes, RiskAssessments written back by transaction — per
 * batch size, alternated for `--rounds` rounds. Reports patients/s end to end and for scoring alone
 * (input building + forward passes), the tfjs back end and the load average before and after.
 */
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import express from 'express';
import type { Encounter, FhirResource, Group, Observation, Patient } from 'fhir/r4';
import { loadConfig } from '../src/config.js';
import { createFhirClient } from '../src/fhir/fhir-client.js';
import { createLogger } from '../src/logger.js';
import { backendName, openModelRegistry } from '../src/models/index.js';
import { backendTokenSource, loadBackendKey } from '../src/population/backend-auth.js';
import { createBulkClient } from '../src/population/bulk-client.js';
import { defaultScope, demoKeyFile } from '../src/population/cli.js';
import { scorePopulation } from '../src/population/run.js';
import { fhirTransactionSink } from '../src/population/sinks.js';
import { memoryStateStore } from '../src/population/state.js';
import { groupPatientIds } from '../src/sandbox/fhir/bulk-export.js';
import type { FhirStore } from '../src/sandbox/fhir/store.js';
import { SANDBOX_GROUPS } from '../src/sandbox/groups.js';
import { createSandbox } from '../src/sandbox/index.js';
import { POPULATION_DEMO_CLIENT_ID } from '../src/smart/sandbox-auth/demo-backend-client.js';

const BENCH_GROUP = 'bench-cohort';

function compartment<T extends FhirResource>(store: FhirStore, type: T['resourceType'], patientId: string): T[] {
  const bundle = store.search(type, new URLSearchParams({ patient: patientId, _count: '1000' }), { baseUrl: 'urn:bench' });
  return (bundle.entry ?? []).map((e) => e.resource as T);
}

/** Copies each ICU patient (Patient, Observations, Encounters) `copies` times under new ids; returns the new patient ids. */
function copyCohort(store: FhirStore, copies: number): string[] {
  const ids: string[] = [];
  for (const patientId of groupPatientIds(store.read('Group', SANDBOX_GROUPS.icu) as Group)) {
    const patient = store.read('Patient', patientId) as Patient;
    const observations = compartment<Observation>(store, 'Observation', patientId);
    const encounters = compartment<Encounter>(store, 'Encounter', patientId);
    for (let k = 1; k <= copies; k++) {
      const suffix = `-b${k}`;
      const rename = (text: string): string => {
        let out = text.replaceAll(`Patient/${patientId}`, `Patient/${patientId}${suffix}`);
        for (const e of encounters) out = out.replaceAll(`Encounter/${e.id}"`, `Encounter/${e.id}${suffix}"`);
        return out;
      };
      const copy = <T extends FhirResource>(r: T): T => {
        const { meta: _meta, ...rest } = JSON.parse(rename(JSON.stringify(r))) as T & { meta?: unknown };
        return { ...rest, id: `${r.id}${suffix}` } as T;
      };
      store.update(copy(patient));
      for (const e of encounters) store.update(copy(e));
      for (const o of observations) store.update(copy(o));
      ids.push(`${patientId}${suffix}`);
    }
  }
  return ids;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { copies: { type: 'string', default: '10' }, rounds: { type: 'string', default: '2' }, batches: { type: 'string', default: '64,1' }, json: { type: 'string' } },
  });
  const copies = Number(values.copies);
  const rounds = Number(values.rounds);
  const batches = values.batches.split(',').map(Number);
  const loadBefore = os.loadavg();
  const config = loadConfig({ ...process.env, LOG_LEVEL: 'silent', DATA_DIR: os.tmpdir() });
  const logger = createLogger('silent');
  const models = await openModelRegistry(config, logger);
  const sandbox = await createSandbox({ config, logger, services: [] });
  const members = copyCohort(sandbox.store, copies);
  sandbox.store.update({ resourceType: 'Group', id: BENCH_GROUP, type: 'person', actual: true, member: members.map((id) => ({ entity: { reference: `Patient/${id}` } })) } as Group);
  const app = express();
  app.use('/sandbox', sandbox.router);
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const fhirBase = `http://127.0.0.1:${(server.address() as AddressInfo).port}/sandbox/fhir`;
  const key = await loadBackendKey(demoKeyFile());
  const token = backendTokenSource({ fhirBase, clientId: POPULATION_DEMO_CLIENT_ID, key, scope: defaultScope(['Patient', 'Observation', 'Encounter']) });

  const results: Array<{
    batch: number;
    round: number;
    patients: number;
    wallS: number;
    scoringMs: number;
    patientsPerS: number;
    scoringPatientsPerS: number;
    timings: Record<string, number>;
  }> = [];
  for (let round = 1; round <= rounds; round++) {
    for (const batch of batches) {
      const started = performance.now();
      const summary = await scorePopulation(
        { fhirBase, group: BENCH_GROUP, batchSize: batch },
        {
          bulk: createBulkClient({ fhirBase, token, initialPollWaitMs: 50 }),
          models,
          sink: fhirTransactionSink(createFhirClient({ baseUrl: fhirBase, token })),
          state: memoryStateStore(),
        },
      );
      const wallS = (performance.now() - started) / 1000;
      results.push({
        batch,
        round,
        patients: summary.patients,
        wallS,
        scoringMs: summary.scoringMs,
        patientsPerS: summary.patients / wallS,
        scoringPatientsPerS: summary.patients / (summary.scoringMs / 1000),
        timings: summary.timings,
      });
      const r = results.at(-1)!;
      console.log(`round ${round} batch ${String(batch).padStart(3)}: ${r.patients} patients in ${r.wallS.toFixed(2)} s → ${r.patientsPerS.toFixed(1)} patients/s end to end; scoring alone ${r.scoringMs.toFixed(0)} ms → ${r.scoringPatientsPerS.toFixed(1)} patients/s`);
      console.log(`    ${Object.entries(r.timings).map(([k, v]) => `${k.replace(/Ms$/, '')} ${v.toFixed(0)} ms`).join(' · ')}`);
    }
  }
  const loadAfter = os.loadavg();
  console.log(`\nbackend ${backendName()} · ${os.cpus().length} cores · Node ${process.version} · load average before ${loadBefore.map((v) => v.toFixed(2)).join(' ')}, after ${loadAfter.map((v) => v.toFixed(2)).join(' ')}`);
  for (const batch of batches) {
    const mine = results.filter((r) => r.batch === batch);
    const best = (k: 'patientsPerS' | 'scoringPatientsPerS') => Math.max(...mine.map((r) => r[k]));
    console.log(`batch ${String(batch).padStart(3)}: best ${best('patientsPerS').toFixed(1)} patients/s end to end, ${best('scoringPatientsPerS').toFixed(1)} patients/s scoring alone`);
  }
  if (values.json) writeFileSync(values.json, JSON.stringify({ backend: backendName(), cores: os.cpus().length, loadBefore, loadAfter, copies, results }, null, 2));
  server.closeAllConnections();
  server.close();
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
