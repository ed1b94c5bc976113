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
  /**
   * The record stored under `issuedKey` by saveIssued and created at or after `notBefore` (records past
   * retention are never reused; undefined = no limit), or undefined: how identical hook calls on another
   * replica or after a restart find the record already issued for their data (./issued.ts).
   */
  findIssued(issuedKey: string, notBefore?: Date): Promise<ExplanationRecord | undefined>;
  /**
   * Stores `record` as the one issued for `issuedKey`, unless a record created at or after `notBefore` is
   * already stored under that key (another replica's, written meanwhile): resolves to the record kept under
   * the key, this one or that one. A record under the key but past retention is released from it (kept
   * until the purge, never reused), so the new one takes the key.
   */
  saveIssued(record: ExplanationRecord, issuedKey: string, notBefore?: Date): Promise<ExplanationRecord>;
  close(): Promise<void>;
}

/**
 * Stores a card's explanation record; resolves to its id, or to undefined when the store failed. A hook
 * call must not fail because its explanation could not be kept: the failure is logged (error name only,
 * the record holds patient data) and the card goes out without an explanation link.
 */
/**
 * saveIssued with the same failure rule as saveExplanationRecord: resolves to the record kept under the key
 * (this one or another replica's), or to undefined when the store failed (logged by error name only).
 */
export async function saveIssuedRecord(store: Pick<ExplanationStore, 'saveIssued'>, record: ExplanationRecord, issuedKey: string, notBefore: Date | undefined, logger: Pick<Logger, 'error'>): Promise<ExplanationRecord | undefined> {
  try {
    return await store.saveIssued(record, issuedKey, notBefore);
  } catch (err) {
    logger.error({ errName: err instanceof Error ? err.name : typeof err }, 'explanation record not stored');
    return undefined;
  }
}

export async function saveExplanationRecord(store: Pick<ExplanationStore, 'save'>, record: ExplanationRecord, logger: Pick<Logger, 'error'>): Promise<string | undefined> {
  try {
    await store.save(record);
    return record.id;
  } catch (err) {
    logger.error({ errName: err instanceof Error ? err.name : typeof err }, 'explanation record not stored');
    return undefined;
  }
}
