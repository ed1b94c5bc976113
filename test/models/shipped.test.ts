/**
 * The committed weights must be the ones the committed metrics describe: recompute the heart model's
 * test AUROC, and the deterioration model's fingerprinted test-hour probabilities, from the files.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Observation } from 'fhir/r4';
import { initBackend } from '../../src/models/backend/index.js';
import { ModelRegistry } from '../../src/models/registry.js';
import { parseUciHeart, type HeartRecord } from '../../src/models/data/uci-heart.js';
import { encodeWindow, parsePhysionetCsv, windowRows, type PhysionetEncodingSpec } from '../../src/models/data/physionet.js';
import { auroc } from '../../src/models/metrics.js';
import { buildDeteriorationWindow } from '../../src/models/features/deterioration-window.js';
import type { DeteriorationInput } from '../../src/models/types.js';

const json = <T>(file: string): T => JSON.parse(readFileSync(file, 'utf8')) as T;

describe('shipped models', () => {
  let registry: ModelRegistry;
  beforeAll(async () => {
    await initBackend();
    registry = await ModelRegistry.open({ dir: 'models' });
  });
  afterAll(() => registry.close());

  it('heart-disease: files reproduce the test AUROC in metrics.json', () => {
    const model = registry.get<HeartRecord>('heart-disease');
    const split = json<{ test: string[] }>('models/heart-disease/split.json');
    const metrics = json<{ test: { mlp: { overall: { auroc: { estimate: number } } } } }>('models/heart-disease/metrics.json');
    const test = parseUciHeart(readFileSync('data/raw/uci-heart-disease/processed.cleveland.data', 'utf8')).filter((e) => split.test.includes(e.id));
    const scores = test.map((e) => model.forward(model.encode(e.record), 1)[0]!);
    expect(auroc(test.map((e) => e.label), scores)).toBeCloseTo(metrics.test.mlp.overall.auroc.estimate, 6);
  });

  it('deterioration: files reproduce the test-hour probabilities fingerprinted in metrics.json', () => {
    const model = registry.get<DeteriorationInput>('deterioration');
    const metrics = json<{ fingerprint: Array<{ patient: string; hour: number; probability: number }> }>('models/deterioration/metrics.json');
    const stays = parsePhysionetCsv(readFileSync('data/raw/physionet-sepsis-2019/sepsis2019_setB_dev_2000.csv', 'utf8'));
    const spec = model.preprocess as PhysionetEncodingSpec;
    const width = model.inputShape.reduce((a, b) => a * b, 1);
    const flat = new Float32Array(metrics.fingerprint.length * width);
    metrics.fingerprint.forEach((f, k) => {
      const stay = stays.get(f.patient)!;
      // Training metrics cover every hour, including the few the service refuses (no vital sign yet).
      encodeWindow(windowRows(stay, f.hour), stay.age, stay.sex, spec, flat, k * width);
    });
    const scores = model.forward(flat, metrics.fingerprint.length);
    expect(metrics.fingerprint.length).toBeGreaterThan(100);
    metrics.fingerprint.forEach((f, k) => expect(scores[k]).toBeCloseTo(f.probability, 5));
  });

  it('deterioration: scores a window built from FHIR Observations', async () => {
    const now = new Date('2026-01-02T12:00:00Z');
    const vital = (id: string, code: string, value: number, unit: string, hoursAgo: number): Observation => ({
      resourceType: 'Observation',
      id,
      status: 'final',
      code: { coding: [{ system: 'http://loinc.org', code }] },
      effectiveDateTime: new Date(now.getTime() - hoursAgo * 3_600_000).toISOString(),
      valueQuantity: { value, unit, system: 'http://unitsofmeasure.org', code: unit },
    });
    const observations = [1, 2, 3, 4, 5, 6].flatMap((h) => [
      vital(`hr${h}`, '8867-4', 120 + h, '/min', h - 0.5),
      vital(`rr${h}`, '9279-1', 28, '/min', h - 0.5),
      vital(`t${h}`, '8310-5', 39.2, 'Cel', h - 0.5),
    ]);
    const window = buildDeteriorationWindow({ resourceType: 'Patient', gender: 'male', birthDate: '1950-05-05' }, observations, now);
    const p = await registry.get<DeteriorationInput>('deterioration').predict(window.input);
    expect(p.probability).toBeGreaterThan(0);
    expect(p.probability).toBeLessThan(1);
    expect(p.version).toBe(registry.get('deterioration').manifest.version);
  });
});
