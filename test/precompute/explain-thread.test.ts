/**
 * The explanation thread (src/precompute/thread-executor.ts + explain-thread.ts): a worker thread with its
 * own tfjs engine on the main thread's back end explains exactly what the main thread would (same data
 * version, same score and attributions); the precompute worker's explanations run there and never on the
 * main thread's executor, and the hook is then served from the cache; with EXPLAIN_THREAD=all a hook's
 * cache miss is explained there with the same result; a dead thread fails its batch and is started
 * again; a record that does not match the
 * data the main thread prepared is refused and nothing is cached; a closed thread refuses work.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { loadConfig } from '../../src/config.js';
import { createDeteriorationService } from '../../src/cds-hooks/services/deterioration/index.js';
import { prepareForExplanation, scoreableWindow, windowStartFor } from '../../src/cds-hooks/services/deterioration/pipeline.js';
import { collectFromSource } from '../../src/cds-hooks/services/deterioration/data.js';
import { fillPrefetchTemplate } from '../../src/cds-hooks/prefetch-template.js';
import { deteriorationPrefetch } from '../../src/cds-hooks/services/deterioration/definition.js';
import type { Card } from '../../src/cds-hooks/types.js';
import { explainPredictions, provenanceOfWindow } from '../../src/explain/index.js';
import { ExplanationEngine, type ExplainExecutor } from '../../src/explanations/engine.js';
import { modelProviderOf } from '../../src/explanations/model-provider.js';
import { openSqliteExplanationStore } from '../../src/explanations/sqlite-store.js';
import type { ExplanationStore } from '../../src/explanations/store.js';
import { backendName, type DeteriorationInput, type ModelRegistry, type RegisteredModel } from '../../src/models/index.js';
import { ExplainThread, fhirStoreSource, PrecomputeWorker } from '../../src/precompute/index.js';
import { FHIR_BASE, NOW, callService, loadSandboxFixture, openShippedRegistry, type SandboxFixture } from '../cds-hooks/services/deterioration-fixtures.js';
import { silentLogger } from '../cds-hooks/helpers.js';
import { VigilMetrics, currentMetrics, installMetrics } from '../../src/observability/metrics.js';

let registry: ModelRegistry;
let fixture: SandboxFixture;
let store: ExplanationStore;
let thread: ExplainThread;

beforeAll(async () => {
  registry = await openShippedRegistry();
  fixture = loadSandboxFixture();
  store = openSqliteExplanationStore(':memory:');
  thread = new ExplainThread({ backend: backendName() ?? 'auto', modelsDir: 'models', maxBatch: 8 });
});
afterAll(async () => {
  await thread.close();
  await store.close();
  await registry.close();
});

const septicIds = () => fixture.index.filter((p) => p.provenance.physionet.septic).map((p) => p.id);

/** The hook's window for a patient, read from the sandbox store as the precompute worker reads it. */
async function windowOf(patientId: string) {
  const model = registry.get<DeteriorationInput>('deterioration') as RegisteredModel<DeteriorationInput>;
  const source = fhirStoreSource(fixture.store, FHIR_BASE);
  const prefetch: Record<string, never> = {};
  for (const [key, template] of Object.entries(deteriorationPrefetch())) prefetch[key] = (await source.get(fillPrefetchTemplate(template, { patientId })!)) as never;
  const data = await collectFromSource({ prefetch, fhirServer: FHIR_BASE, fhir: source }, windowStartFor(model, NOW));
  return { model, window: scoreableWindow(model, data, NOW).window };
}

/** An executor that fails the test if the main thread is asked to explain. */
const forbidden: ExplainExecutor = {
  run: () => {
    throw new Error('explained on the main thread');
  },
};

describe('explanation thread', () => {
  it('explains exactly what the main thread would: same data version, score and attributions, on the same back end', async () => {
    const { model, window } = await windowOf(septicIds()[0]!);
    const { explainable, prepared } = prepareForExplanation(model, window);
    const [local] = explainPredictions(explainable, [prepared], {});
    const [remote] = await thread.run(explainable, [{ model: explainable, prepared, patient: 'Patient/x', input: { value: window.input, provenance: provenanceOfWindow(window) } }], {});
    expect(thread.backend).toBe(backendName());
    expect(remote!.dataVersion).toBe(prepared.dataVersion);
    expect(remote!.model).toEqual(local!.model);
    expect(remote!.prediction.probability).toBeCloseTo(local!.prediction.probability, 6);
    expect(remote!.integration).toEqual(local!.integration);
    expect(remote!.factors.map((f) => f.feature)).toEqual(local!.factors.map((f) => f.feature));
    remote!.factors.forEach((f, k) => expect(f.contribution).toBeCloseTo(local!.factors[k]!.contribution, 6));
    expect(thread.stats).toMatchObject({ starts: 1, batches: 1, inputs: 1, failures: 0 });
  }, 120_000);

  it("reports the thread's scoring pass to the main thread's inference metrics (the thread has none)", async () => {
    const metrics = new VigilMetrics({ processMetrics: false });
    const previous = currentMetrics();
    installMetrics(metrics);
    try {
      const { model, window } = await windowOf(septicIds()[1]!);
      const { explainable, prepared } = prepareForExplanation(model, window);
      await thread.run(explainable, [{ model: explainable, prepared, patient: 'Patient/x', input: { value: window.input, provenance: provenanceOfWindow(window) } }], {});
      const text = (await metrics.exposition()).body;
      expect(text).toMatch(/^vigil_model_inference_duration_seconds_count\{model="deterioration"\} 1$/m);
      expect(text).toMatch(/^vigil_model_batch_size_sum\{model="deterioration"\} 1$/m);
    } finally {
      installMetrics(previous);
    }
  }, 120_000);

  it('precompute explains on the thread, never on the main thread; the hook then serves the cached explanation', async () => {
    const engine = new ExplanationEngine({ maxWaitMs: 0, executor: forbidden });
    const models = modelProviderOf(registry);
    const worker = new PrecomputeWorker({ models, engine, source: fhirStoreSource(fixture.store, FHIR_BASE), logger: silentLogger, now: () => NOW, executor: thread });
    const ids = septicIds().slice(1, 4);
    const before = thread.stats.inputs;
    for (const id of ids) worker.notify(id);
    await worker.idle();
    expect(worker.stats).toMatchObject({ computed: ids.length, failed: 0 });
    expect(thread.stats.inputs - before).toBe(ids.length);

    const service = createDeteriorationService({ models, explanations: store, engine });
    const card: Card = (await callService(service, fixture.store, ids[0]!)).cards[0]!;
    const link = card.links!.find((l) => l.type === 'smart')!;
    const record = (await store.get((JSON.parse(link.appContext!) as { explanationId: string }).explanationId))!;
    expect(record.method).toMatchObject({ computed: 'cache' });
    expect(card.detail).toContain('computed ahead of time');
    await worker.close();
  }, 120_000);

  it('refuses a record of other data than the main thread prepared: the request fails and nothing is cached', async () => {
    const [a, b] = septicIds().slice(4, 6);
    const first = await windowOf(a!);
    const second = await windowOf(b!);
    const { explainable, prepared } = prepareForExplanation(first.model, first.window);
    const engine = new ExplanationEngine({ maxWaitMs: 0, executor: forbidden });
    const failuresBefore = thread.stats.failures;
    await expect(
      engine.explain({ model: explainable, prepared, patient: `Patient/${a}`, executor: thread, input: { value: second.window.input, provenance: provenanceOfWindow(second.window) } }),
    ).rejects.toThrow(/does not match/);
    expect(thread.stats.failures).toBe(failuresBefore + 1);
    expect(engine.cache.size).toBe(0);
  }, 120_000);

  it('EXPLAIN_THREAD=all: a hook cache miss is explained on the thread, the card and record as on the main thread', async () => {
    const id = septicIds()[6]!;
    const onThread = new ExplanationEngine({ maxWaitMs: 0, executor: thread });
    const onMain = new ExplanationEngine({ maxWaitMs: 0 });
    const models = modelProviderOf(registry);
    const before = thread.stats.inputs;
    const recordOf = async (engine: ExplanationEngine) => {
      const card = (await callService(createDeteriorationService({ models, explanations: store, engine }), fixture.store, id)).cards[0]!;
      const link = card.links!.find((l) => l.type === 'smart')!;
      return { card, record: (await store.get((JSON.parse(link.appContext!) as { explanationId: string }).explanationId))! };
    };
    const remote = await recordOf(onThread);
    const local = await recordOf(onMain);
    expect(thread.stats.inputs - before).toBe(1);
    expect(remote.record.method).toMatchObject({ computed: 'inline' });
    expect(remote.record.dataHash).toBe(local.record.dataHash);
    expect(remote.record.prediction!.probability).toBeCloseTo(local.record.prediction!.probability, 6);
    expect(remote.record.factors.map((f) => f.text)).toEqual(local.record.factors.map((f) => f.text));
    expect(remote.card.summary).toBe(local.card.summary);
    expect(loadConfig({ EXPLAIN_THREAD: 'all' }).explainThread).toBe('all');
    expect(loadConfig({}).explainThread).toBe('precompute');
    expect(() => loadConfig({ EXPLAIN_THREAD: 'sometimes' })).toThrow(/EXPLAIN_THREAD/);
  }, 120_000);

  it('a thread that dies fails the batch it was running (nothing cached) and the next batch starts a new one', async () => {
    const own = new ExplainThread({ backend: () => backendName() ?? 'auto', modelsDir: 'models', maxBatch: 8 });
    const { model, window } = await windowOf(septicIds()[7]!);
    const { explainable, prepared } = prepareForExplanation(model, window);
    const request = { model: explainable, prepared, patient: 'Patient/x', input: { value: window.input, provenance: provenanceOfWindow(window) } };
    await own.run(explainable, [request], {});
    const engine = new ExplanationEngine({ maxWaitMs: 0, executor: own });
    const pending = engine.explain(request);
    // A crash of the thread (out of memory, a wasm abort) looks like this to the main thread.
    await (own as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
    await expect(pending).rejects.toThrow(/exited/);
    expect(engine.cache.size).toBe(0);
    expect((await engine.explain(request)).source).toBe('computed');
    expect(own.stats).toMatchObject({ starts: 2, batches: 2 });
    await own.close();
  }, 120_000);

  it('a closed thread refuses work', async () => {
    const other = new ExplainThread({ backend: backendName() ?? 'auto', modelsDir: 'models', maxBatch: 8 });
    await other.close();
    const { model, window } = await windowOf(septicIds()[0]!);
    const { explainable, prepared } = prepareForExplanation(model, window);
    await expect(other.run(explainable, [{ model: explainable, prepared, patient: 'Patient/x', input: { value: window.input } }], {})).rejects.toThrow(/closed/);
  });
});
