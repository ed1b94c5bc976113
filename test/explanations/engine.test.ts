/**
 * The explanation engine (src/explanations/engine.ts) on a small logistic network: concurrent requests
 * share one explainPredictions call, one key is computed once, lookups match patient, model version and
 * data version exactly, and a request aborted at the hook deadline is dropped. Also the card's evidence
 * links (risk-card referenceMarkdown / factorLines).
 */
import { beforeAll, describe, expect, it } from '@jest/globals';
import { GatewayTimeoutError } from '../../src/errors.js';
import { dataVersionOf, differentiableFromLayers, type Explainable, type InputLayout } from '../../src/explain/index.js';
import { ExplanationEngine } from '../../src/explanations/engine.js';
import { factorLines, referenceMarkdown } from '../../src/explanations/risk-card.js';
import { initBackend } from '../../src/models/index.js';
import { logisticModel } from '../explain/models.js';

let toy: Explainable<number[]>;

function explainable(version: string): Explainable<number[]> {
  const d = differentiableFromLayers(logisticModel([0.5, -1, 2], 0.1));
  const layout: InputLayout = {
    shape: [3],
    channels: ['a', 'b', 'c'],
    features: ['a', 'b', 'c'].map((name) => ({ name, label: name.toUpperCase(), kind: 'quantity' as const })),
    channelFeature: [0, 1, 2],
  };
  return {
    modelId: 'toy',
    version,
    shape: d.shape,
    layout,
    score: d.score,
    prepare(input) {
      const encoded = Float32Array.from(input);
      const zero = new Float32Array(3);
      return {
        encoded,
        baselines: { zero, normal: zero, 'training-mean': zero },
        cell: (_t, f) => ({ value: input[f]!, imputed: false, sources: [`obs-${f}`] }),
        dataVersion: dataVersionOf(encoded),
      };
    },
  };
}

beforeAll(async () => {
  await initBackend();
  toy = explainable('1');
});

describe('ExplanationEngine', () => {
  it('batches concurrent requests for one model into one explainPredictions call, each record for its own patient', async () => {
    const engine = new ExplanationEngine({ maxWaitMs: 20 });
    const results = await Promise.all(
      ['Patient/a', 'Patient/b', 'Patient/c'].map((patient, k) => engine.explain({ model: toy, prepared: toy.prepare([k, 1, -k]), patient })),
    );
    expect(engine.stats).toMatchObject({ computed: 3, batches: 1 });
    expect(results.map((r) => r.record.patient)).toEqual(['Patient/a', 'Patient/b', 'Patient/c']);
    for (const r of results) {
      expect(r.source).toBe('computed');
      // Linear in the logit: IG is exact, the delta tiny; the score is the model's probability.
      expect(r.record.integration!.delta).toBeLessThan(0.01);
    }
    const p = results[1]!.record.prediction.probability;
    expect(p).toBeCloseTo(1 / (1 + Math.exp(-(0.5 * 1 - 1 * 1 + 2 * -1 + 0.1))), 5);
  });

  it('computes one key once, however many callers ask at the same time', async () => {
    const engine = new ExplanationEngine({ maxWaitMs: 5 });
    const prepared = toy.prepare([1, 2, 3]);
    const [a, b] = await Promise.all([engine.explain({ model: toy, prepared, patient: 'Patient/a' }), engine.explain({ model: toy, prepared, patient: 'Patient/a' })]);
    expect(engine.stats.computed).toBe(1);
    expect(a.record.id).toBe(b.record.id);
    expect((await engine.explain({ model: toy, prepared, patient: 'Patient/a' })).source).toBe('cache');
  });

  it('serves only an exact match of patient, model version and data version', async () => {
    const engine = new ExplanationEngine({ maxWaitMs: 0 });
    const x1 = toy.prepare([1, 0, 0]);
    const x2 = toy.prepare([1, 0, 0.5]);
    await engine.explain({ model: toy, prepared: x1, patient: 'Patient/a' });
    expect(engine.lookup({ model: toy, prepared: x1, patient: 'Patient/a' })).toBeDefined();
    expect(engine.lookup({ model: toy, prepared: x2, patient: 'Patient/a' })).toBeUndefined();
    expect(engine.lookup({ model: toy, prepared: x1, patient: 'Patient/b' })).toBeUndefined();
    expect(engine.lookup({ model: explainable('2'), prepared: x1, patient: 'Patient/a' })).toBeUndefined();
    const second = await engine.explain({ model: toy, prepared: x2, patient: 'Patient/a' });
    expect(second.source).toBe('computed');
    expect(second.record.dataVersion).toBe(x2.dataVersion);
  });

  it('drops a request aborted at the hook deadline before its batch ran; nothing is cached', async () => {
    const engine = new ExplanationEngine({ maxWaitMs: 50 });
    const controller = new AbortController();
    const prepared = toy.prepare([3, 3, 3]);
    const pending = engine.explain({ model: toy, prepared, patient: 'Patient/a', signal: controller.signal });
    controller.abort();
    await expect(pending).rejects.toBeInstanceOf(GatewayTimeoutError);
    expect(engine.lookup({ model: toy, prepared, patient: 'Patient/a' })).toBeUndefined();
  });
});

describe('evidence links on cards', () => {
  it('links a reference to the EHR FHIR server when it names one, else shows it as code', () => {
    expect(referenceMarkdown('Observation/lac-1', 'https://ehr.example/fhir/')).toBe('[Observation/lac-1](https://ehr.example/fhir/Observation/lac-1)');
    expect(referenceMarkdown('Observation/lac-1')).toBe('`Observation/lac-1`');
    expect(referenceMarkdown('Observation/lac-1', 'javascript:alert(1)')).toBe('`Observation/lac-1`');
    expect(referenceMarkdown('Observation/a)b', 'https://ehr.example/fhir')).toBe('[Observation/a)b](https://ehr.example/fhir/Observation/a%29b)');
  });

  it('lists each factor with up to three Observation links', () => {
    const lines = factorLines(
      [{ feature: 'Lactate', label: 'Lactate', text: 'Lactate 4.1 mmol/L at 03:17 (high) raised the risk by 12.0 percentage points', contribution: 0.12, evidence: ['Observation/l1', 'Observation/l2', 'Observation/l3', 'Observation/l4'] }],
      { fhirServer: 'http://ehr.test/fhir' },
    );
    expect(lines).toEqual([
      '- Lactate 4.1 mmol/L at 03:17 (high) raised the risk by 12.0 percentage points ([Observation/l1](http://ehr.test/fhir/Observation/l1), [Observation/l2](http://ehr.test/fhir/Observation/l2), [Observation/l3](http://ehr.test/fhir/Observation/l3))',
    ]);
  });
});
