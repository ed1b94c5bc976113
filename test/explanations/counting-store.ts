/**
 * An explanation store for reuse tests: wraps a real store, counts the rows actually written (a keyed save that
 * links another record counts as none), and makes the next `failNext` writes throw as a full disk would.
 */
import type { ExplanationRecord } from '../../src/explanations/record.js';
import { openSqliteExplanationStore } from '../../src/explanations/sqlite-store.js';
import type { ExplanationStore } from '../../src/explanations/store.js';

export type CountingStore = ExplanationStore & { saves: number; failNext: number };

export function countingStore(inner: ExplanationStore): CountingStore {
  const failing = (): boolean => {
    if (store.failNext <= 0) return false;
    store.failNext--;
    return true;
  };
  const store: CountingStore = {
    saves: 0,
    failNext: 0,
    async save(record: ExplanationRecord) {
      if (failing()) throw new Error('disk full');
      store.saves++;
      await inner.save(record);
    },
    async saveIssued(record: ExplanationRecord, key: string, notBefore?: Date) {
      if (failing()) throw new Error('disk full');
      const kept = await inner.saveIssued(record, key, notBefore);
      if (kept.id === record.id) store.saves++;
      return kept;
    },
    findIssued: (key: string, notBefore?: Date) => inner.findIssued(key, notBefore),
    get: (id: string) => inner.get(id),
    latestByModel: (patientId: string) => inner.latestByModel(patientId),
    purgeOlderThan: (before: Date) => inner.purgeOlderThan(before),
    close: async () => undefined,
  };
  return store;
}

/** Counting stores each over a fresh in-memory SQLite store (no test sees another's records); closeAll() in afterAll. */
export function inMemoryCountingStores(): { open(): CountingStore; closeAll(): Promise<void> } {
  const opened: ExplanationStore[] = [];
  return {
    open() {
      const inner = openSqliteExplanationStore(':memory:');
      opened.push(inner);
      return countingStore(inner);
    },
    async closeAll() {
      for (const store of opened.splice(0)) await store.close();
    },
  };
}
