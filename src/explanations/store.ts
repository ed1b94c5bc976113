/**
 * Where explanation records live. One small asynchronous interface, two back ends chosen in
 * src/storage/open-stores.ts: SQLite (sqlite-store.ts, the default) and PostgreSQL (pg-store.ts, shared
 * by replicas on DATABASE_URL, so a card answered by one replica is explained by any other).
 */
import type { Logger } from '../logger.js';
import type { ExplanationRecord } from './record.js';

export interface PurgeOptions {
  /** Rows deleted per statement. Default 2000. */
  batchSize?: number;
}

export const DEFAULT_PURGE_BATCH = 2000;

export interface ExplanationStore {
  /** Stores a new record; ids are UUIDs and never reused. */
  save(record: ExplanationRecord): Promise<void>;
  /** The record, or undefined when no record has this id. */
  get(id: string): Promise<ExplanationRecord | undefined>;
  /** The patient's newest record of each model (by `created`), ordered by model id: the view's "current risk per model". */
  latestByModel(patientId: string): Promise<ExplanationRecord[]>;
  /**
   * Deletes the records created before `before` (retention, EXPLANATION_RETENTION_DAYS); resolves to how many.
   * Deletes in batches (default 2000 rows), so a first purge of a large backlog neither blocks the event loop
   * (SQLite) nor runs into the statement time-out (PostgreSQL).
   */
  purgeOlderThan(before: Date, options?: PurgeOptions): Promise<number>;
  close(): Promise<void>;
}

/**
 * Stores a card's explanation record; resolves to its id, or to undefined when the store failed. A hook
 * call must not fail because its explanation could not be kept: the failure is logged (error name only,
 * the record holds patient data) and the card goes out without an explanation link.
 */
export async function saveExplanationRecord(store: Pick<ExplanationStore, 'save'>, record: ExplanationRecord, logger: Pick<Logger, 'error'>): Promise<string | undefined> {
  try {
    await store.save(record);
    return record.id;
  } catch (err) {
    logger.error({ errName: err instanceof Error ? err.name : typeof err }, 'explanation record not stored');
    return undefined;
  }
}
