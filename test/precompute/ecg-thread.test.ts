/**
 * The ECG analysis on the explanation thread (issue 10 §Speed): the same tracing analysed in process and on
 * the thread gives the same probabilities (1e-6) and the same salient segments; a model version the thread
 * does not have is refused; the precompute worker's ECG analysis runs on the thread (never on the main
 * thread), the patient-view hook is then served from the engine's memo, and a hook racing the precompute
 * shares its one computation; with the thread as the engine's executor (EXPLAIN_THREAD=all) a hook's cache
 * miss runs there too; the app wires it (EXPLAIN_THREAD=precompute: an ECG POSTed to the sandbox FHIR server
 * over HTTP is analysed on the app's thread).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createVigil } from '../../src/app.js';
import type { Observation } from 'fhir/r4';
import { analyseEcg, analyseTracing, decodeLead, ecgTargetOf, type EcgAnalysis, type EcgTarget } from '../../src/cds-hooks/services/ecg-rhythm/analysis.js';
import { ECG_MODEL_ID } from '../../src/cds-hooks/services/ecg-rhythm/definition.js';
import { ExplanationEngine } from '../../src/explanations/engine.js';
import { modelProviderOf } from '../../src/explanations/model-provider.js';
import { backendName, type ModelRegistry, type RegisteredModel } from '../../src/models/index.js';
import type { EcgInput } from '../../src/models/ecg/encoding.js';
import { ECG_CLASSES } from '../../src/models/ecg/classes.js';
import { ExplainThread, fhirStoreSource, PrecomputeWorker } from '../../src/precompute/index.js';
import { FHIR_BASE, loadSandboxFixture, openShippedRegistry, type SandboxFixture } from '../cds-hooks/services/deterioration-fixtures.js';
import { listenVigil, silentLogger, testConfig } from '../cds-hooks/helpers.js';

// Shipped tracings (docs/services/ecg-rhythm.md §Sandbox): A00027 is called AF, A00006 normal.
const AF_TRACING = 'ecg-a00027';
const NORMAL_TRACING = 'ecg-a00006';

let registry: ModelRegistry;
let fixture: SandboxFixture;
let thread: ExplainThread;
let model: RegisteredModel<EcgInput>;

beforeAll(async () => {
  registry = await openShippedRegistry();
  fixture = loadSandboxFixture();
  thread = new ExplainThread({ backend: backendName() ?? 'auto', modelsDir: 'models', maxBatch: 8 });
  model = await modelProviderOf(registry).get<EcgInput>(ECG_MODEL_ID);
});
afterAll(async () => {
  await thread.close();
  await registry.close();
});

function targetOf(id: string): { patientId: string; target: EcgTarget } {
  const observation = fixture.store.read('Observation', id) as Observation;
  return { patientId: observation.subject!.reference!.replace('Patient/', ''), target: ecgTargetOf(observation)! };
}

function expectSameAnalysis(thread: EcgAnalysis, local: EcgAnalysis): void {
  if (!thread.ok || !local.ok) throw new Error('both analyses should classify the tracing');
  expect(thread.classification.rhythm).toBe(local.classification.rhythm);
  for (const c of ECG_CLASSES) expect(Math.abs(thread.classification.probabilities[c] - local.classification.probabilities[c])).toBeLessThanOrEqual(1e-6);
  expect(thread.classification.windows.length).toBe(local.classification.windows.length);
  expect(thread.explanation).toBeDefined();
  expect(thread.explanation!.segments).toEqual(local.explanation!.segments);
  expect(thread.explanation!.rhythm).toEqual(local.explanation!.rhythm);
  // The per-sample saliency too (a Float32Array of the thread's clone; jest's realm differs, so compared by value).
  const a = thread.explanation!.consensus;
  const b = local.explanation!.consensus;
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  expect(worst).toBeLessThanOrEqual(1e-6);
  expect(thread.durationSeconds).toBe(local.durationSeconds);
  expect(thread.sourceRateHz).toBe(local.sourceRateHz);
}

describe('ECG analysis on the explanation thread', () => {
  it('gives the in-process result for the same tracing (probabilities to 1e-6, same segments), samples transferred', async () => {
    const { target } = targetOf(AF_TRACING);
    const local = analyseTracing(model, target.lead);
    const decoded = decodeLead(target.lead);
    if (!decoded.ok) throw new Error('the shipped tracing decodes');
    const onThread = await thread.analyseEcg(model, decoded.samples, { explain: true });
    // Transferred, not copied: the main thread's buffer is detached.
    expect(decoded.samples.samples.length).toBe(0);
    expectSameAnalysis(onThread, local);
    expect(thread.backend).toBe(backendName());
  }, 120_000);

  it('refuses a model version the thread does not have', async () => {
    const { target } = targetOf(NORMAL_TRACING);
    const decoded = decodeLead(target.lead);
    if (!decoded.ok) throw new Error('the shipped tracing decodes');
    const failures = thread.stats.failures;
    await expect(thread.analyseEcg({ manifest: { id: ECG_MODEL_ID, version: '0.0.0-elsewhere' } }, decoded.samples, { explain: false })).rejects.toThrow(/version/);
    expect(thread.stats.failures).toBe(failures + 1);
  }, 60_000);

  it('precompute analyses on the thread; a racing hook shares the one computation; the next call is a cache hit', async () => {
    const engine = new ExplanationEngine({ maxWaitMs: 0 });
    const worker = new PrecomputeWorker({ models: modelProviderOf(registry), engine, source: fhirStoreSource(fixture.store, FHIR_BASE), logger: silentLogger, executor: thread, ecg: {} });
    const { patientId, target } = targetOf(AF_TRACING);
    const inputs = thread.stats.inputs;
    worker.notifyObservation(patientId, `Observation/${target.observation.id}`);
    // The hook arrives while the thread is analysing: it must wait for that result, not compute its own.
    await new Promise((resolve) => setTimeout(resolve, 50));
    const racing = await analyseEcg(engine, model, patientId, target);
    await worker.idle();
    // One computation whichever trigger reached the memo first (on a busy machine the hook may win).
    expect(engine.stats.computed).toBe(1);
    const precomputeFirst = racing.source === 'cache';
    expect(thread.stats.inputs).toBe(inputs + (precomputeFirst ? 1 : 0));
    expect(worker.stats.ecg).toMatchObject(precomputeFirst ? { computed: 1, fresh: 0, failed: 0 } : { computed: 0, fresh: 1, failed: 0 });
    const again = await analyseEcg(engine, model, patientId, target);
    expect(again.source).toBe('cache');
    expectSameAnalysis(again.analysis, analyseTracing(model, target.lead));
    // A tracing nobody else asks for: analysed on the thread, then served to the hook from the memo.
    const normal = targetOf(NORMAL_TRACING);
    const before = thread.stats.inputs;
    worker.notifyObservation(normal.patientId, `Observation/${normal.target.observation.id}`);
    await worker.idle();
    expect(thread.stats.inputs).toBe(before + 1);
    expect((await analyseEcg(engine, model, normal.patientId, normal.target)).source).toBe('cache');
    await worker.close();
  }, 120_000);

  it('with the thread as the engine executor (EXPLAIN_THREAD=all) a hook cache miss runs there', async () => {
    const engine = new ExplanationEngine({ maxWaitMs: 0, executor: thread });
    const { patientId, target } = targetOf(NORMAL_TRACING);
    const inputs = thread.stats.inputs;
    const analysed = await analyseEcg(engine, model, patientId, target, { explain: false });
    expect(analysed.source).toBe('computed');
    expect(thread.stats.inputs).toBe(inputs + 1);
    const local = analyseTracing(model, target.lead, { explain: false });
    if (!analysed.analysis.ok || !local.ok) throw new Error('the normal tracing is classified');
    expect(analysed.analysis.classification.rhythm).toBe(local.classification.rhythm);
    for (const c of ECG_CLASSES) expect(Math.abs(analysed.analysis.classification.probabilities[c] - local.classification.probabilities[c])).toBeLessThanOrEqual(1e-6);
  }, 120_000);
});

describe('the app with EXPLAIN_THREAD=precompute', () => {
  it('analyses an ECG filed over HTTP on its explanation thread', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'vigil-ecg-thread-'));
    const config = testConfig({ dataDir, sandbox: true, sandboxFhirAuth: false, precompute: true, precomputePollSeconds: 0, rateLimitRps: 0, explainThread: 'precompute' });
    const vigil = await createVigil(config, { logger: silentLogger, modelRegistry: openShippedRegistry() });
    const listening = await listenVigil(vigil);
    try {
      const shipped = structuredClone(vigil.sandboxStore!.read('Observation', NORMAL_TRACING) as Observation);
      const { id: _id, meta: _meta, ...rest } = shipped;
      const res = await fetch(`${listening.origin}/sandbox/fhir/Observation`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/fhir+json', Accept: 'application/fhir+json' },
        body: JSON.stringify({ ...rest, effectiveDateTime: new Date().toISOString() }),
      });
      expect(res.status).toBe(201);
      await vigil.precompute!.idle();
      expect(vigil.precompute!.stats.ecg).toMatchObject({ computed: 1, failed: 0 });
      expect(vigil.explainThread!.stats.inputs).toBe(1);
    } finally {
      await listening.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 120_000);
});
