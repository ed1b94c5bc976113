/** The explanation cache serves only explanations of exactly the scored data, and computes each once. */
import { describe, expect, it } from '@jest/globals';
import { ExplanationCache, type ExplanationKey } from '../../src/explain/cache.js';
import type { ExplanationRecord } from '../../src/explain/types.js';

const key = (dataVersion: string, patient = 'Patient/1', modelVersion = '1.0.0'): ExplanationKey => ({ patient, modelId: 'm', modelVersion, dataVersion });

function record(k: ExplanationKey, id = `${k.patient}-${k.dataVersion}`): ExplanationRecord {
  return {
    id,
    model: { id: k.modelId, version: k.modelVersion },
    patient: k.patient,
    dataVersion: k.dataVersion,
    createdAt: '2026-01-01T00:00:00Z',
    method: 'integrated-gradients',
    target: 'logit',
    baseline: { kind: 'normal', probability: 0.1 },
    prediction: { probability: 0.2, logit: -1.4 },
    factors: [],
  };
}

describe('ExplanationCache', () => {
  it('serves an explanation only for the same patient, model version and data version', () => {
    const cache = new ExplanationCache();
    cache.put(record(key('sha256:old')));
    expect(cache.get(key('sha256:old'))?.id).toBe('Patient/1-sha256:old');
    // New data arrived and was scored: the old explanation must not be served with the new score.
    expect(cache.get(key('sha256:new'))).toBeUndefined();
    expect(cache.get(key('sha256:old', 'Patient/2'))).toBeUndefined();
    expect(cache.get(key('sha256:old', 'Patient/1', '1.0.1'))).toBeUndefined();
  });

  it('computes once for concurrent requests of the same key, and refuses a record for other data', async () => {
    const cache = new ExplanationCache();
    let calls = 0;
    const compute = async () => {
      calls++;
      await new Promise((r) => setTimeout(r, 5));
      return record(key('sha256:a'));
    };
    const results = await Promise.all([1, 2, 3].map(() => cache.getOrCompute(key('sha256:a'), compute)));
    expect(calls).toBe(1);
    expect(new Set(results.map((r) => r.id)).size).toBe(1);
    expect(cache.stats).toMatchObject({ misses: 1, shared: 2, hits: 0 });
    await cache.getOrCompute(key('sha256:a'), compute);
    expect(cache.stats.hits).toBe(1);
    await expect(cache.getOrCompute(key('sha256:b'), () => record(key('sha256:stale')))).rejects.toThrow(/does not match/);
    expect(cache.get(key('sha256:b'))).toBeUndefined();
  });

  it('finds records by id, evicts the least recently used and expires old ones', () => {
    let now = 0;
    const cache = new ExplanationCache({ maxEntries: 2, maxAgeMs: 1000, now: () => now });
    cache.put(record(key('a')));
    cache.put(record(key('b')));
    cache.get(key('a'));
    cache.put(record(key('c')));
    expect(cache.get(key('b'))).toBeUndefined();
    expect(cache.byId('Patient/1-a')?.dataVersion).toBe('a');
    expect(cache.byId('Patient/1-b')).toBeUndefined();
    now = 2000;
    expect(cache.byId('Patient/1-a')).toBeUndefined();
    expect(cache.get(key('c'))).toBeUndefined();
  });

  it('forgets a patient and refuses records without a patient', () => {
    const cache = new ExplanationCache();
    cache.put(record(key('a', 'Patient/1')));
    cache.put(record(key('a', 'Patient/2')));
    cache.forgetPatient('Patient/1');
    expect(cache.size).toBe(1);
    const { patient: _omit, ...anonymous } = record(key('x'));
    expect(() => cache.put(anonymous)).toThrow(TypeError);
  });
});
