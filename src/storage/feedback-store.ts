/**
 * Durable store for CDS Hooks 2.0.1 §Feedback entries (https://cds-hooks.hl7.org/2.0/#feedback).
 * One interface, two back ends chosen in src/storage/open-stores.ts: this file's SQLite one (one file
 * `feedback.sqlite` in DATA_DIR, WAL journal with synchronous=FULL so an acknowledged feedback POST
 * survives a crash or power loss; ':memory:' for tests) and feedback-store-pg.ts (shared by replicas).
 *
 * Override comments are free text a clinician typed and may contain patient details: they are stored
 * (that is the point of feedback) but never logged.
 */
import type { Coding, FeedbackEntry } from '../cds-hooks/types.js';
import { BadRequestError } from '../errors.js';
import { openSqliteFile } from './sqlite.js';

export interface StoredFeedback {
  /** Row id, increasing in arrival order. */
  id: number;
  serviceId: string;
  /** card.uuid the feedback is about. */
  card: string;
  outcome: FeedbackEntry['outcome'];
  acceptedSuggestions?: { id: string }[];
  overrideReason?: { reason?: Coding; userComment?: string };
  outcomeTimestamp: string;
  /** When Vigil received it (ISO 8601). */
  receivedAt: string;
  hookInstance?: string;
}

export interface FeedbackFilter {
  serviceId?: string;
  card?: string;
}

export interface FeedbackStore {
  /** Stores one POST's entries whole or not at all; resolves once they are durable. */
  add(serviceId: string, entries: FeedbackEntry[], meta: { hookInstance?: string; receivedAt: string }): Promise<void>;
  /** Stored feedback in arrival order (`id`). */
  list(filter?: FeedbackFilter): Promise<StoredFeedback[]>;
  close(): Promise<void>;
}

export const FEEDBACK_DB_FILE = 'feedback.sqlite';

export interface FeedbackRow {
  /** PostgreSQL BIGSERIAL arrives as a string. */
  id: number | string;
  service_id: string;
  card: string;
  outcome: string;
  accepted_suggestions: string | null;
  override_reason: string | null;
  outcome_timestamp: string;
  received_at: string;
  hook_instance: string | null;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS feedback (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  service_id TEXT NOT NULL,
  card TEXT NOT NULL,
  outcome TEXT NOT NULL CHECK (outcome IN ('accepted', 'overridden')),
  accepted_suggestions TEXT,
  override_reason TEXT,
  outcome_timestamp TEXT NOT NULL,
  received_at TEXT NOT NULL,
  hook_instance TEXT
);
CREATE INDEX IF NOT EXISTS feedback_service_card ON feedback (service_id, card);
CREATE INDEX IF NOT EXISTS feedback_card ON feedback (card);
`;

/** FeedbackRow → StoredFeedback (both back ends): JSON columns parsed, absent optionals left out. */
export function fromRow(row: FeedbackRow): StoredFeedback {
  const stored: StoredFeedback = {
    id: Number(row.id),
    serviceId: row.service_id,
    card: row.card,
    outcome: row.outcome as StoredFeedback['outcome'],
    outcomeTimestamp: row.outcome_timestamp,
    receivedAt: row.received_at,
  };
  if (row.accepted_suggestions !== null) stored.acceptedSuggestions = JSON.parse(row.accepted_suggestions) as { id: string }[];
  if (row.override_reason !== null) stored.overrideReason = JSON.parse(row.override_reason) as StoredFeedback['overrideReason'];
  if (row.hook_instance !== null) stored.hookInstance = row.hook_instance;
  return stored;
}

/**
 * Opens (creating when needed) the feedback database in `dataDir`, or an in-memory one for ':memory:'.
 */
export function openFeedbackStore(dataDir: string): FeedbackStore {
  const db = openSqliteFile(dataDir, FEEDBACK_DB_FILE, { synchronous: 'FULL' });
  db.exec(SCHEMA);

  const insert = db.prepare<[string, string, string, string | null, string | null, string, string, string | null]>(
    `INSERT INTO feedback (service_id, card, outcome, accepted_suggestions, override_reason, outcome_timestamp, received_at, hook_instance)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  // One transaction per POST: a feedback batch is stored whole or not at all.
  const addAll = db.transaction((serviceId: string, entries: FeedbackEntry[], meta: { hookInstance?: string; receivedAt: string }) => {
    for (const e of entries) {
      insert.run(
        serviceId,
        e.card,
        e.outcome,
        e.acceptedSuggestions ? JSON.stringify(e.acceptedSuggestions) : null,
        e.overrideReason ? JSON.stringify(e.overrideReason) : null,
        e.outcomeTimestamp,
        meta.receivedAt,
        meta.hookInstance ?? null,
      );
    }
  });

  return {
    async add(serviceId, entries, meta) {
      // PostgreSQL text cannot hold NUL; refusing it here too keeps both back ends alike (400).
      if ([serviceId, meta.hookInstance ?? '', ...entries.map((e) => e.card)].some((t) => t.includes('\u0000'))) {
        throw new BadRequestError('Text contains characters that cannot be stored (NUL)');
      }
      addAll(serviceId, entries, meta);
    },
    async list(filter = {}) {
      const where: string[] = [];
      const params: string[] = [];
      if (filter.serviceId !== undefined) {
        where.push('service_id = ?');
        params.push(filter.serviceId);
      }
      if (filter.card !== undefined) {
        where.push('card = ?');
        params.push(filter.card);
      }
      const sql = `SELECT * FROM feedback ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id`;
      return (db.prepare(sql).all(...params) as FeedbackRow[]).map(fromRow);
    },
    async close() {
      if (db.open) db.close();
    },
  };
}
