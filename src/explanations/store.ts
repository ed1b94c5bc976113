/**
 * Where explanation records live. One small asynchronous interface so the SQLite back end
 * (sqlite-store.ts, the default) can be replaced by a PostgreSQL one without touching the services
 * or the route.
 */
import type { ExplanationRecord } from './record.js';

export interface ExplanationStore {
  /** Stores a new record; ids are UUIDs and never reused. */
  save(record: ExplanationRecord): Promise<void>;
  /** The record, or undefined when no record has this id. */
  get(id: string): Promise<ExplanationRecord | undefined>;
  /** The patient's newest record of each model (by `created`), ordered by model id: the view's "current risk per model". */
  latestByModel(patientId: string): Promise<ExplanationRecord[]>;
  close(): Promise<void>;
}
