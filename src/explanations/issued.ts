/**
 * Explanation records already issued (stored and linked from a card), so identical hook calls link to the
 * one stored record instead of writing a new ~10 KB row per call (issue 7 §Speed; docs/performance.md).
 * The key is the service's: it must cover everything the record and the card are built from (for
 * vigil-deterioration see services/deterioration/issued-key.ts, for the heart-disease services
 * services/heart-disease/issued-key.ts, for vigil-ecg-rhythm services/ecg-rhythm/issued-key.ts), so a
 * record is reused only for exactly the data it was made from — never for older or merely similar data.
 *
 * A record is remembered only once the store accepted it (its id can be fetched); a failed write is
 * forgotten, so the next call writes again. Concurrent calls with one key share one write. In memory,
 * least recently used dropped first.
 *
 * The store keeps the key with the record (ExplanationStore.saveIssued, unique per key), so after a restart
 * or on another replica an in-memory miss is looked up there (`recall`) and the record found is remembered:
 * one record per exact data across restarts and replicas. A record past retention (EXPLANATION_RETENTION_DAYS)
 * is never reused, from memory or from the store: the next identical call issues a new one.
 */
import type { Logger } from '../logger.js';
import type { Prediction } from '../models/index.js';
import { DAY_MS } from '../storage/periodic-purge.js';
import { cardFactors } from './from-explain.js';
import type { ExplanationFactor, ExplanationMethod, ExplanationRecord } from './record.js';
import { saveIssuedRecord, type ExplanationStore } from './store.js';

/** What a card needs from an issued record (the record itself stays in the ExplanationStore). */
export interface IssuedExplanation {
  /** ExplanationRecord id: the card's explanation link. */
  id: string;
  prediction: Prediction;
  /** The factors the card lists (cardFactors of the stored ones). */
  factors: ExplanationFactor[];
  method?: ExplanationMethod;
  /** The record's `created`: past retention it is not reused. */
  created: string;
}

/** Who the record must have been issued to: checked on a record read back from the store. */
export interface IssuedFor {
  patientId: string;
  serviceId: string;
  model: { id: string; version: string };
}

/**
 * What a card needs from a stored record, or undefined when it is not a scored record of exactly this
 * patient, service and model version (the key says so already; a record that disagrees is not trusted). Pure.
 */
export function issuedFromRecord(record: ExplanationRecord, expected: IssuedFor): IssuedExplanation | undefined {
  const p = record.prediction;
  if (!p || record.patientId !== expected.patientId || record.serviceId !== expected.serviceId) return undefined;
  if (record.model.id !== expected.model.id || record.model.version !== expected.model.version) return undefined;
  return {
    id: record.id,
    prediction: { modelId: record.model.id, version: record.model.version, probability: p.probability, band: p.band, indicator: p.indicator },
    factors: cardFactors(record.factors),
    ...(record.method ? { method: record.method } : {}),
    created: record.created,
  };
}

/**
 * The record already issued for `key`: from memory, else the store's (after a restart, or another
 * replica's) — asked once per key and remembered. A store failure counts as none (logged by error name
 * only): the caller then issues as usual.
 */
export function recallIssued(
  issued: IssuedExplanations,
  store: Pick<ExplanationStore, 'findIssued'>,
  key: string,
  expected: IssuedFor,
  logger: Pick<Logger, 'warn'>,
): Promise<IssuedExplanation | undefined> {
  return issued.recall(key, async (notBefore) => {
    try {
      const record = await store.findIssued(key, notBefore);
      return record && issuedFromRecord(record, expected);
    } catch (err) {
      logger.warn({ errName: err instanceof Error ? err.name : typeof err }, 'issued explanation lookup failed');
      return undefined;
    }
  });
}

/**
 * Stores `record` as the one issued for `key` — once however many identical calls ask meanwhile — and
 * resolves to what the card links: this record, or the one another replica stored under the key first;
 * undefined when the store failed (the card then goes out without an explanation link).
 */
export async function issueRecord(
  issued: IssuedExplanations,
  store: Pick<ExplanationStore, 'saveIssued'>,
  record: ExplanationRecord,
  key: string,
  expected: IssuedFor,
  logger: Pick<Logger, 'error'>,
): Promise<IssuedExplanation | undefined> {
  const result = await issued.getOrIssue(key, async () => {
    const kept = await saveIssuedRecord(store, record, key, issued.notBefore(), logger);
    return kept && issuedFromRecord(kept, expected);
  });
  return result.issued;
}

export interface IssuedExplanationsOptions {
  /** Most records remembered. Default 1000. */
  maxEntries?: number;
  /** EXPLANATION_RETENTION_DAYS: records created longer ago are not reused; 0 = kept forever. Default 0. */
  retentionDays?: number;
  now?: () => number;
}

export class IssuedExplanations {
  private readonly entries = new Map<string, IssuedExplanation>();
  private readonly inFlight = new Map<string, Promise<IssuedExplanation | undefined>>();
  private readonly lookups = new Map<string, Promise<IssuedExplanation | undefined>>();
  private counters = { issued: 0, reused: 0, recalled: 0 };
  private readonly maxEntries: number;
  private readonly retentionMs: number;
  private readonly now: () => number;

  constructor(options: IssuedExplanationsOptions = {}) {
    this.maxEntries = Math.max(1, options.maxEntries ?? 1000);
    this.retentionMs = Math.max(0, options.retentionDays ?? 0) * DAY_MS;
    this.now = options.now ?? Date.now;
  }

  /** Records created before this instant are not reused (undefined: retention off). */
  notBefore(): Date | undefined {
    return this.retentionMs > 0 ? new Date(this.now() - this.retentionMs) : undefined;
  }

  /** The record issued for exactly this key, refreshed as most recently used (memory only: the warm path). */
  get(key: string): IssuedExplanation | undefined {
    const hit = this.entries.get(key);
    if (!hit) return undefined;
    this.entries.delete(key);
    if (this.expired(hit)) return undefined;
    this.entries.set(key, hit);
    this.counters.reused++;
    return hit;
  }

  /**
   * get, and on a miss `find` (the store's record under this key, not past `notBefore`), once per key
   * however many callers ask meanwhile; a record found is remembered. `find` resolves undefined when there
   * is none (or the store could not say: the caller then issues as usual).
   */
  async recall(key: string, find: (notBefore: Date | undefined) => Promise<IssuedExplanation | undefined>): Promise<IssuedExplanation | undefined> {
    const hit = this.get(key);
    if (hit) return hit;
    let lookup = this.lookups.get(key);
    if (!lookup) {
      lookup = find(this.notBefore())
        .then((found) => {
          if (!found || this.expired(found)) return undefined;
          this.counters.recalled++;
          this.remember(key, found);
          return found;
        })
        .finally(() => this.lookups.delete(key));
      this.lookups.set(key, lookup);
    }
    const found = await lookup;
    if (found) this.counters.reused++;
    return found;
  }

  /**
   * The record issued for this key, or the one `issue` stores now — once however many callers ask
   * meanwhile. `issue` resolves undefined when nothing was stored (explainer or store failure): not kept.
   */
  async getOrIssue(key: string, issue: () => Promise<IssuedExplanation | undefined>): Promise<{ issued: IssuedExplanation | undefined; reused: boolean }> {
    const hit = this.get(key);
    if (hit) return { issued: hit, reused: true };
    const running = this.inFlight.get(key);
    if (running) {
      const issued = await running;
      if (issued) this.counters.reused++;
      return { issued, reused: issued !== undefined };
    }
    const job = issue()
      .then((issued) => {
        if (issued) {
          this.counters.issued++;
          this.remember(key, issued);
        }
        return issued;
      })
      .finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, job);
    return { issued: await job, reused: false };
  }

  /**
   * issued: records written (or, on a race with another replica, its record adopted); reused: calls
   * answered with an already stored record; recalled: of those, records found in the store, not in memory.
   */
  get stats(): { issued: number; reused: number; recalled: number; size: number } {
    return { ...this.counters, size: this.entries.size };
  }

  private expired(issued: IssuedExplanation): boolean {
    const notBefore = this.notBefore();
    return notBefore !== undefined && Date.parse(issued.created) < notBefore.getTime();
  }

  private remember(key: string, issued: IssuedExplanation): void {
    this.entries.delete(key);
    this.entries.set(key, issued);
    while (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
  }
}
