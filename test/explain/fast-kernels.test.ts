/**
 * WASM_FAST_KERNELS (src/models/index.ts openModelRegistry): the serving process swaps the wasm gradient
 * kernels for untransposed XNNPACK ones. The shipped deterioration model's explanations of the sandbox
 * patients must be the same with and without them — score, every factor's contribution, the integration
 * steps and the completeness delta (within float rounding, and below the 1 % tolerance either way).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { getTf } from '../../src/models/backend/index.js';
import { openModelRegistry, type ModelRegistry } from '../../src/models/index.js';
import type { DeteriorationInput } from '../../src/models/types.js';
import { explainableFromRegistered, provenanceOfWindow } from '../../src/explain/explainable.js';
import { explainPredictions } from '../../src/explain/explain.js';
import type { ExplanationRecord } from '../../src/explain/types.js';
import { collectFromSource } from '../../src/cds-hooks/services/deterioration/data.js';
import { scoreableWindow, windowStartFor } from '../../src/cds-hooks/services/deterioration/pipeline.js';
import { createDeteriorationService } from '../../src/cds-hooks/services/deterioration/index.js';
import { modelProviderOf } from '../../src/explanations/model-provider.js';
import { openSqliteExplanationStore } from '../../src/explanations/sqlite-store.js';
import type { DeteriorationWindow } from '../../src/models/index.js';
import { NOW, loadSandboxFixture, sandboxPrefetch } from '../cds-hooks/services/deterioration-fixtures.js';

let registry: ModelRegistry;
const windows: DeteriorationWindow[] = [];

beforeAll(async () => {
  // Kernels as tfjs ships them first: the fast ones are installed by the second open below.
  registry = await openModelRegistry({ backend: 'wasm', modelsDir: 'models', modelMaxBatch: 8, modelMaxWaitMs: 0, wasmFastKernels: false });
  const model = registry.get<DeteriorationInput>('deterioration');
  const fixture = loadSandboxFixture();
  const store = openSqliteExplanationStore(':memory:');
  const service = createDeteriorationService({ models: modelProviderOf(registry), explanations: store });
  for (const p of fixture.index) {
    const prefetch = await sandboxPrefetch(service, fixture.store, { patientId: p.id, userId: 'Practitioner/sandbox-clinician' });
    const scoring = scoreableWindow(model, await collectFromSource({ prefetch }, windowStartFor(model, NOW)), NOW);
    if (scoring.assessment.ok) windows.push(scoring.window);
  }
  await store.close();
});
afterAll(() => registry.close());

function explainAll(): ExplanationRecord[] {
  const explainable = explainableFromRegistered(registry.get<DeteriorationInput>('deterioration'));
  const prepared = windows.map((w) => explainable.prepare(w.input, provenanceOfWindow(w)));
  const fixed = { now: () => NOW, newId: () => 'x' };
  return prepared.map((p) => explainPredictions(explainable, [p], fixed)[0]!);
}

describe('WASM_FAST_KERNELS', () => {
  it('gives the same deterioration explanations of the sandbox patients as tfjs’s own kernels', async () => {
    expect(windows.length).toBeGreaterThanOrEqual(8);
    const tf = getTf();
    const before = explainAll();
    const plainKernel = tf.getKernel('BatchMatMul', 'wasm')!.kernelFunc;
    const again = await openModelRegistry({ backend: 'wasm', modelsDir: 'models', modelMaxBatch: 8, modelMaxWaitMs: 0, wasmFastKernels: true });
    await again.close();
    expect(tf.getKernel('BatchMatMul', 'wasm')!.kernelFunc).not.toBe(plainKernel);
    const after = explainAll();
    after.forEach((record, k) => {
      const was = before[k]!;
      expect(record.prediction.probability).toBeCloseTo(was.prediction.probability, 6);
      expect(record.integration?.steps).toBe(was.integration?.steps);
      expect(Math.abs(record.integration!.delta - was.integration!.delta)).toBeLessThan(1e-4);
      expect(record.integration!.delta).toBeLessThan(0.01);
      expect(record.factors.map((f) => f.feature)).toEqual(was.factors.map((f) => f.feature));
      record.factors.forEach((f, i) => expect(Math.abs(f.contribution - was.factors[i]!.contribution)).toBeLessThan(1e-6));
    });
  });
});
