/**
 * Population scoring end to end against a real sandbox FHIR server on a port: SMART Backend Services with
 * the demo client's key (real ES384 client assertion), Bulk Data export of a group, batched inference with
 * the shipped models, RiskAssessments written back by transaction. Checks one assessment per patient and
 * model, scores equal to scoring each patient alone through the hook's own prefetch path, and resumption
 * (after an abort, after a crash between write and state save, after the export expired) without duplicates.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Bundle, Encounter, FhirResource, Group, Observation, Patient, RiskAssessment } from 'fhir/r4';
import { fillPrefetchTemplate } from '../../src/cds-hooks/prefetch-template.js';
import { collectFromSource } from '../../src/cds-hooks/services/deterioration/data.js';
import { deteriorationPrefetch } from '../../src/cds-hooks/services/deterioration/definition.js';
import { scoreableWindow, windowStartFor } from '../../src/cds-hooks/services/deterioration/pipeline.js';
import { heartPrefetch } from '../../src/cds-hooks/services/heart-disease/definition.js';
import { heartInputs } from '../../src/cds-hooks/services/heart-disease/workup.js';
import { createFhirClient } from '../../src/fhir/fhir-client.js';
import { initBackend } from '../../src/models/backend/index.js';
import type { DeteriorationInput, HeartDiseaseInput } from '../../src/models/index.js';
import { ModelRegistry } from '../../src/models/registry.js';
import { backendTokenSource, loadBackendKey } from '../../src/population/backend-auth.js';
import { createBulkClient } from '../../src/population/bulk-client.js';
import { demoKeyFile, parseCliArgs, runPopulationCli } from '../../src/population/cli.js';
import { usableObservations } from '../../src/cds-hooks/services/deterioration/data.js';
import type { ProgressReporter } from '../../src/population/progress.js';
import { POPULATION_RISK_IDENTIFIER_SYSTEM } from '../../src/population/risk-assessment.js';
import { scorePopulation, type PopulationRunDeps } from '../../src/population/run.js';
import { fhirTransactionSink, ndjsonFileSink } from '../../src/population/sinks.js';
import { fileStateStore } from '../../src/population/state.js';
import { fhirStoreSource } from '../../src/precompute/source.js';
import { groupPatientIds } from '../../src/sandbox/fhir/bulk-export.js';
import { SANDBOX_GROUPS } from '../../src/sandbox/groups.js';
import { POPULATION_DEMO_CLIENT_ID } from '../../src/smart/sandbox-auth/demo-backend-client.js';
import { startTestSandbox, type TestSandbox } from './sandbox-server.js';

let registry: ModelRegistry;
let tmp: string;

beforeAll(async () => {
  await initBackend();
  registry = await ModelRegistry.open({ dir: 'models' });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-population-'));
}, 60_000);

afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

const quietStderr = { write: () => true, isTTY: false };

function assessmentsIn(sandbox: TestSandbox): RiskAssessment[] {
  const bundle = sandbox.store.search('RiskAssessment', new URLSearchParams({ _count: '1000' }), { baseUrl: 'x' });
  return (bundle.entry ?? []).map((e) => e.resource as RiskAssessment);
}

/** patient → model → count of RiskAssessments. */
function countsByPatientAndModel(assessments: readonly RiskAssessment[]): Map<string, Map<string, number>> {
  const counts = new Map<string, Map<string, number>>();
  for (const ra of assessments) {
    const patient = ra.subject.reference!.replace('Patient/', '');
    const model = ra.method!.coding![0]!.code!;
    const perModel = counts.get(patient) ?? new Map<string, number>();
    perModel.set(model, (perModel.get(model) ?? 0) + 1);
    counts.set(patient, perModel);
  }
  return counts;
}

function members(sandbox: TestSandbox, group: string): string[] {
  return groupPatientIds(sandbox.store.read('Group', group) as Group);
}

async function deps(sandbox: TestSandbox, stateFile: string, progress?: ProgressReporter): Promise<PopulationRunDeps> {
  const key = await loadBackendKey(demoKeyFile());
  const token = backendTokenSource({ fhirBase: sandbox.fhirBase, clientId: POPULATION_DEMO_CLIENT_ID, key, scope: 'system/Patient.rs system/Observation.rs system/Encounter.rs system/RiskAssessment.cs' });
  return {
    bulk: createBulkClient({ fhirBase: sandbox.fhirBase, token, initialPollWaitMs: 20 }),
    models: registry,
    sink: fhirTransactionSink(createFhirClient({ baseUrl: sandbox.fhirBase, token })),
    state: fileStateStore(stateFile),
    ...(progress ? { progress } : {}),
  };
}

/** Aborts the run once `after` patients are finished. */
function abortAfter(after: number, controller: AbortController): ProgressReporter {
  return {
    update(event) {
      if (event.phase === 'score' && (event.done ?? 0) >= after) controller.abort();
    },
    close: () => undefined,
  };
}

describe('a whole group through the CLI core', () => {
  let sandbox: TestSandbox;
  beforeAll(async () => {
    sandbox = await startTestSandbox();
  }, 60_000);
  afterAll(() => sandbox.close());

  it('writes exactly one RiskAssessment per patient and model, equal to scoring each patient alone', async () => {
    const options = parseCliArgs(['--fhir', sandbox.fhirBase, '--group', SANDBOX_GROUPS.icu, '--batch', '7', '--state', path.join(tmp, 'icu.state.json')]);
    expect(options).toMatchObject({ clientId: POPULATION_DEMO_CLIENT_ID, demoCredentials: true, batchSize: 7, models: ['deterioration', 'heart-disease'] });
    const summary = await runPopulationCli(options, { models: registry, stderr: quietStderr });
    const icu = members(sandbox, SANDBOX_GROUPS.icu);
    const cardiology = new Set(members(sandbox, SANDBOX_GROUPS.cardiology));
    expect(summary).toMatchObject({ patients: icu.length, scoredNow: icu.length, interrupted: false, resumed: false });
    expect(summary.assessments).toEqual({ deterioration: icu.length, 'heart-disease': cardiology.size });
    expect(summary.written).toBe(icu.length + cardiology.size);

    const assessments = assessmentsIn(sandbox);
    expect(assessments).toHaveLength(icu.length + cardiology.size);
    const counts = countsByPatientAndModel(assessments);
    for (const id of icu) {
      expect(counts.get(id)?.get('deterioration')).toBe(1);
      expect(counts.get(id)?.get('heart-disease')).toBe(cardiology.has(id) ? 1 : undefined);
    }

    // Each score equals the model's score for that patient alone, from the data the hook's prefetch reads.
    const source = fhirStoreSource(sandbox.store);
    const asOf = new Date(summary.transactionTime!);
    const deterioration = registry.get<DeteriorationInput>('deterioration');
    const heart = registry.get<HeartDiseaseInput>('heart-disease');
    const read = async (template: string, patientId: string): Promise<FhirResource> => source.get(fillPrefetchTemplate(template, { patientId })!);
    for (const ra of assessments) {
      const patientId = ra.subject.reference!.replace('Patient/', '');
      const model = ra.method!.coding![0]!.code!;
      expect(ra).toMatchObject({ status: 'final', occurrenceDateTime: summary.transactionTime });
      expect(ra.identifier![0]!.system).toBe(POPULATION_RISK_IDENTIFIER_SYSTEM);
      const p = ra.prediction![0]!;
      let expected: number;
      if (model === 'deterioration') {
        const prefetch = deteriorationPrefetch();
        const data = await collectFromSource(
          { prefetch: { patient: await read(prefetch.patient!, patientId), observations: await read(prefetch.observations!, patientId) }, fhirServer: source.baseUrl, fhir: source },
          windowStartFor(deterioration, asOf),
        );
        expected = (await deterioration.predict(scoreableWindow(deterioration, data, asOf).window.input)).probability;
        expect(ra.method!.coding![0]!.version).toBe(deterioration.manifest.version);
      } else {
        const prefetch = heartPrefetch();
        const patient = (await read(prefetch.patient!, patientId)) as Patient;
        const entries = async (t: string) => ((await read(t, patientId)) as Bundle).entry?.map((e) => e.resource!) ?? [];
        const inputs = heartInputs(patient, usableObservations(await entries(prefetch.observations!)), (await entries(prefetch.encounters!)) as Encounter[], heart.manifest, asOf);
        expected = (await heart.predict(inputs.input)).probability;
      }
      expect(p.probabilityDecimal).toBeCloseTo(expected, 6);
      const band = p.qualitativeRisk!.coding![0]!.code;
      const { thresholds } = (model === 'deterioration' ? deterioration : heart).manifest;
      expect(band).toBe(expected >= thresholds.high ? 'high' : expected >= thresholds.moderate ? 'moderate' : 'low');
      // The basis names Observations of this patient on the server.
      expect(ra.basis!.length).toBeGreaterThan(0);
      for (const ref of ra.basis!) {
        const obs = sandbox.store.read('Observation', ref.reference!.replace('Observation/', '')) as Observation;
        expect(obs.subject?.reference).toBe(`Patient/${patientId}`);
      }
    }

    // A second invocation with the same state has nothing left to do and writes nothing.
    const again = await runPopulationCli(options, { models: registry, stderr: quietStderr });
    expect(again).toMatchObject({ scoredNow: 0, resumed: true });
    expect(assessmentsIn(sandbox)).toHaveLength(assessments.length);
  }, 120_000);
});

describe('resumption', () => {
  let sandbox: TestSandbox;
  beforeAll(async () => {
    sandbox = await startTestSandbox();
  }, 60_000);
  afterAll(() => sandbox.close());

  it('an aborted run, then a crash between write and state save, resume without duplicates', async () => {
    const stateFile = path.join(tmp, 'resume.state.json');
    const controller = new AbortController();
    const first = await scorePopulation(
      { fhirBase: sandbox.fhirBase, group: SANDBOX_GROUPS.icu, batchSize: 5, signal: controller.signal },
      await deps(sandbox, stateFile, abortAfter(10, controller)),
    );
    expect(first).toMatchObject({ interrupted: true, scoredNow: 10 });
    const state = JSON.parse(fs.readFileSync(stateFile, 'utf8')) as { done: string[]; manifest: unknown; statusUrl: string };
    expect(state.done).toHaveLength(10);
    expect(state.manifest).toBeDefined();
    const afterFirst = assessmentsIn(sandbox);
    expect(new Set(afterFirst.map((ra) => ra.subject.reference))).toEqual(new Set(state.done.map((id) => `Patient/${id}`)));

    // Crash after the second batch was written but before its patients were recorded.
    const lost = state.done.slice(5);
    fs.writeFileSync(stateFile, JSON.stringify({ ...state, done: state.done.slice(0, 5) }));
    const lostAssessments = afterFirst.filter((ra) => lost.includes(ra.subject.reference!.replace('Patient/', ''))).length;

    const resumed = await scorePopulation({ fhirBase: sandbox.fhirBase, group: SANDBOX_GROUPS.icu, batchSize: 5 }, await deps(sandbox, stateFile));
    const icu = members(sandbox, SANDBOX_GROUPS.icu);
    expect(resumed).toMatchObject({ resumed: true, interrupted: false, patients: icu.length, scoredNow: icu.length - 5, transactionTime: first.transactionTime });
    expect(resumed.existing).toBe(lostAssessments);
    const all = assessmentsIn(sandbox);
    const counts = countsByPatientAndModel(all);
    expect(counts.size).toBe(icu.length);
    for (const perModel of counts.values()) for (const n of perModel.values()) expect(n).toBe(1);
    expect(all).toHaveLength(icu.length + members(sandbox, SANDBOX_GROUPS.cardiology).length);
    // The finished run deleted its export job on the server.
    expect((await fetch(state.statusUrl)).status).toBe(404);
  }, 120_000);

  it('starts a new export when the one in the state file has expired, and scores only the rest', async () => {
    const stateFile = path.join(tmp, 'expired.state.json');
    const controller = new AbortController();
    const before = assessmentsIn(sandbox).length;
    const first = await scorePopulation(
      { fhirBase: sandbox.fhirBase, group: SANDBOX_GROUPS.cardiology, models: ['heart-disease'], batchSize: 3, signal: controller.signal, deleteExportWhenDone: false },
      await deps(sandbox, stateFile, abortAfter(3, controller)),
    );
    expect(first.scoredNow).toBe(3);
    const state = JSON.parse(fs.readFileSync(stateFile, 'utf8')) as { statusUrl: string };
    const d = await deps(sandbox, stateFile);
    await d.bulk.remove(state.statusUrl);

    const resumed = await scorePopulation({ fhirBase: sandbox.fhirBase, group: SANDBOX_GROUPS.cardiology, models: ['heart-disease'], batchSize: 3 }, d);
    expect(resumed).toMatchObject({ interrupted: false, scoredNow: 5, patients: 8 });
    expect(resumed.transactionTime).not.toBe(first.transactionTime);
    const fresh = assessmentsIn(sandbox).slice(before);
    expect(fresh).toHaveLength(8);
    expect(new Set(fresh.map((ra) => ra.subject.reference)).size).toBe(8);
  }, 120_000);

  it('--out: an ndjson file resumed after an abort holds each assessment once', async () => {
    const out = path.join(tmp, 'results.ndjson');
    const stateFile = path.join(tmp, 'out.state.json');
    const controller = new AbortController();
    const d = await deps(sandbox, stateFile, abortAfter(4, controller));
    const first = await scorePopulation(
      { fhirBase: sandbox.fhirBase, group: SANDBOX_GROUPS.cardiology, batchSize: 4, signal: controller.signal },
      { ...d, sink: await ndjsonFileSink(out) },
    );
    expect(first.scoredNow).toBe(4);
    // Crash mid-append: a torn last line, and the batch not recorded in the state.
    const state = JSON.parse(fs.readFileSync(stateFile, 'utf8')) as { done: string[] };
    fs.writeFileSync(stateFile, JSON.stringify({ ...state, done: [] }));
    fs.appendFileSync(out, '{"resourceType":"RiskAss');
    const resumed = await scorePopulation({ fhirBase: sandbox.fhirBase, group: SANDBOX_GROUPS.cardiology, batchSize: 4 }, { ...(await deps(sandbox, stateFile)), sink: await ndjsonFileSink(out) });
    expect(resumed.interrupted).toBe(false);
    const lines = fs.readFileSync(out, 'utf8').split('\n').filter(Boolean);
    const parsed = lines.flatMap((l) => {
      try {
        return [JSON.parse(l) as RiskAssessment];
      } catch {
        return [];
      }
    });
    expect(parsed).toHaveLength(16);
    expect(new Set(parsed.map((ra) => ra.identifier![0]!.value)).size).toBe(16);
  }, 120_000);
});
