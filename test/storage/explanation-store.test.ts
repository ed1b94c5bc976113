/** ExplanationStore on every back end (backends.ts): whole records back, newest per model, shared by replicas. */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { bareRecord } from '../explanations/helpers.js';
import { storageBackends, type StorageTarget } from './backends.js';

const record = bareRecord;

describe.each(await storageBackends())('$name explanation store', (backend) => {
  let target: StorageTarget;
  beforeEach(async () => {
    target = await backend.create();
  });
  afterEach(async () => {
    await target.dispose();
  });

  it('returns a saved record whole, and undefined for an unknown id', async () => {
    const store = target.openExplanations();
    const r = { ...record('a', 'p1', 'deterioration', '2026-11-25T10:00:00.000Z'), prediction: { ...record('a', 'p1', 'x', 'y').prediction!, probability: 0.1 + 0.2 } };
    await store.save(r);
    expect(await store.get('a')).toEqual(r);
    expect((await store.get('a'))!.prediction!.probability).toBe(0.1 + 0.2);
    expect(await store.get('nope')).toBeUndefined();
  });

  it("lists the patient's newest record of each model, and no other patient's", async () => {
    const store = target.openExplanations();
    await store.save(record('d1', 'p1', 'deterioration', '2026-11-25T08:00:00.000Z'));
    await store.save(record('d2', 'p1', 'deterioration', '2026-11-25T09:00:00.000Z'));
    await store.save(record('h1', 'p1', 'heart-disease', '2026-11-25T07:00:00.000Z'));
    await store.save(record('E1', 'p1', 'ecg-rhythm', '2026-11-25T07:00:00.000Z'));
    await store.save(record('x1', 'p2', 'deterioration', '2026-11-25T11:00:00.000Z'));
    const latest = await store.latestByModel('p1');
    expect(latest.map((r) => r.id)).toEqual(['d2', 'E1', 'h1']);
    expect(await store.latestByModel('p3')).toEqual([]);
  });

  it('keeps one record when two of a model share a creation time (the smaller id)', async () => {
    const store = target.openExplanations();
    await store.save(record('t2', 'p1', 'deterioration', '2026-11-25T08:00:00.000Z'));
    await store.save(record('t1', 'p1', 'deterioration', '2026-11-25T08:00:00.000Z'));
    expect((await store.latestByModel('p1')).map((r) => r.id)).toEqual(['t1']);
  });

  it('refuses a second record with an id already used', async () => {
    const store = target.openExplanations();
    await store.save(record('same', 'p1', 'deterioration', '2026-11-25T08:00:00.000Z'));
    // (SqliteError is not an Error of the test's realm, so no rejects.toThrow here.)
    const refused = await store.save(record('same', 'p1', 'deterioration', '2026-11-25T09:00:00.000Z')).then(() => false, () => true);
    expect(refused).toBe(true);
    expect((await store.get('same'))!.created).toBe('2026-11-25T08:00:00.000Z');
  });

  it('serves from one store what another (replica) saved', async () => {
    const a = target.openExplanations();
    const b = target.openExplanations();
    await a.save(record('from-a', 'p9', 'deterioration', '2026-11-25T08:00:00.000Z'));
    expect((await b.get('from-a'))?.cardUuid).toBe('card-from-a');
    expect((await b.latestByModel('p9')).map((r) => r.id)).toEqual(['from-a']);
  });
});
