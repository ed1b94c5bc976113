/**
 * Explanation cache for serving a hook without recomputing, and for explaining ahead of time when new data
 * arrives (HL7 ORU, FHIR subscription, polling): the writer calls `getOrCompute` with the data it just
 * scored; the hook later asks with the data IT scored. Keys are (patient, model id@version, data version),
 * and a lookup only ever returns an exact match — an explanation computed on older (or merely different)
 * data than the score it accompanies is never served. Concurrent requests for the same key share one
 * computation. In memory, least-recently-used eviction; records are also reachable by id for
 * `/explanations/{id}`.
 */
import type { ExplanationRecord } from './types.js';

export interface ExplanationKey {
  /** Patient reference ("Patient/<id>"). */
  patient: string;
  modelId: string;
  modelVersion: string;
  /** PreparedInput.dataVersion of the data the score was computed on. */
  dataVersion: string;
}

export interface ExplanationCacheOptions {
  /** Most records kept. Default 1000. */
  maxEntries?: number;
  /** Records older than this are dropped on access. Default 24 h. */
  maxAgeMs?: number;
  now?: () => number;
}

export function keyOf(key: ExplanationKey): string {
  return JSON.stringify([key.patient, key.modelId, key.modelVersion, key.dataVersion]);
}

/** The key an existing record answers to. */
export function keyOfRecord(record: ExplanationRecord): ExplanationKey | undefined {
  if (!record.patient) return undefined;
  return { patient: record.patient, modelId: record.model.id, modelVersion: record.model.version, dataVersion: record.dataVersion };
}

/** True when the record explains exactly the score described by key (same patient, model version and data). */
export function explainsScore(record: ExplanationRecord, key: ExplanationKey): boolean {
  const own = keyOfRecord(record);
  return own !== undefined && keyOf(own) === keyOf(key);
}

interface Entry {
  record: ExplanationRecord;
  storedAt: number;
}

export class ExplanationCache {
  private readonly entries = new Map<string, Entry>();
  private readonly ids = new Map<string, string>();
  private readonly inFlight = new Map<string, Promise<ExplanationRecord>>();
  private readonly maxEntries: number;
  private readonly maxAgeMs: number;
  private readonly now: () => number;
  private counters = { hits: 0, misses: 0, shared: 0 };

  constructor(options: ExplanationCacheOptions = {}) {
    this.maxEntries = Math.max(1, options.maxEntries ?? 1000);
    this.maxAgeMs = options.maxAgeMs ?? 24 * 3_600_000;
    this.now = options.now ?? Date.now;
  }

  /** The explanation of exactly this score, if cached. */
  get(key: ExplanationKey): ExplanationRecord | undefined {
    const k = keyOf(key);
    const entry = this.entries.get(k);
    if (!entry) return undefined;
    if (this.now() - entry.storedAt > this.maxAgeMs) {
      this.remove(k);
      return undefined;
    }
    // Refresh recency.
    this.entries.delete(k);
    this.entries.set(k, entry);
    return entry.record;
  }

  /** A cached record by its id (for `/explanations/{id}`); access control is the caller's. */
  byId(id: string): ExplanationRecord | undefined {
    const k = this.ids.get(id);
    const entry = k === undefined ? undefined : this.entries.get(k);
    if (!entry || this.now() - entry.storedAt > this.maxAgeMs) return undefined;
    return entry.record;
  }

  /** Stores a record under its own key. Records without a patient are not cacheable and are refused. */
  put(record: ExplanationRecord): void {
    const key = keyOfRecord(record);
    if (!key) throw new TypeError('explanation cache: a record needs a patient reference to be cached');
    const k = keyOf(key);
    const previous = this.entries.get(k);
    if (previous) this.ids.delete(previous.record.id);
    this.entries.delete(k);
    this.entries.set(k, { record, storedAt: this.now() });
    this.ids.set(record.id, k);
    while (this.entries.size > this.maxEntries) this.remove(this.entries.keys().next().value as string);
  }

  /**
   * The cached explanation of this score, or the result of compute() — started once however many callers
   * ask for the same key meanwhile. A computed record whose key differs from the request is refused.
   */
  async getOrCompute(key: ExplanationKey, compute: () => ExplanationRecord | Promise<ExplanationRecord>): Promise<ExplanationRecord> {
    const hit = this.get(key);
    if (hit) {
      this.counters.hits++;
      return hit;
    }
    const k = keyOf(key);
    const running = this.inFlight.get(k);
    if (running) {
      this.counters.shared++;
      return running;
    }
    this.counters.misses++;
    const job = (async () => {
      const record = await compute();
      if (!explainsScore(record, key)) throw new Error('explanation cache: computed record does not match the requested patient, model version or data version');
      this.put(record);
      return record;
    })().finally(() => this.inFlight.delete(k));
    this.inFlight.set(k, job);
    return job;
  }

  /** Drops every record of a patient (e.g. on a merge or an entered-in-error correction). */
  forgetPatient(patient: string): void {
    for (const [k, entry] of this.entries) if (entry.record.patient === patient) this.remove(k);
  }

  get size(): number {
    return this.entries.size;
  }

  get stats(): { hits: number; misses: number; shared: number; size: number } {
    return { ...this.counters, size: this.entries.size };
  }

  private remove(k: string): void {
    const entry = this.entries.get(k);
    if (entry) this.ids.delete(entry.record.id);
    this.entries.delete(k);
  }
}
