import { describe, expect, it } from '@jest/globals';
import { openSqliteExplanationStore } from '../../src/explanations/sqlite-store.js';
import type { ExplanationRecord } from '../../src/explanations/record.js';

function record(id: string, patientId: string, model: string, created: string): ExplanationRecord {
  return {
    id,
    patientId,
    serviceId: `vigil-${model}`,
    cardUuid: `card-${id}`,
    model: { id: model, version: '1.0.0' },
    created,
    asOf: created,
    dataHash: `hash-${id}`,
    prediction: { probability: 0.2, band: 'moderate', indicator: 'warning', thresholds: { moderate: 0.1, high: 0.3 }, outcome: 'test' },
    factors: [],
    notUsed: [],
  };
}

describe('SQLite explanation store', () => {
  it('returns a saved record whole, and undefined for an unknown id', async () => {
    const store = openSqliteExplanationStore(':memory:');
    const r = record('a', 'p1', 'deterioration', '2026-11-25T10:00:00.000Z');
    await store.save(r);
    expect(await store.get('a')).toEqual(r);
    expect(await store.get('nope')).toBeUndefined();
    await store.close();
  });

  it("lists the patient's newest record of each model, and no other patient's", async () => {
    const store = openSqliteExplanationStore(':memory:');
    await store.save(record('d1', 'p1', 'deterioration', '2026-11-25T08:00:00.000Z'));
    await store.save(record('d2', 'p1', 'deterioration', '2026-11-25T09:00:00.000Z'));
    await store.save(record('h1', 'p1', 'heart-disease', '2026-11-25T07:00:00.000Z'));
    await store.save(record('x1', 'p2', 'deterioration', '2026-11-25T11:00:00.000Z'));
    const latest = await store.latestByModel('p1');
    expect(latest.map((r) => r.id)).toEqual(['d2', 'h1']);
    expect(await store.latestByModel('p3')).toEqual([]);
    await store.close();
  });
});
