/**
 * PostgreSQL back end of the FeedbackStore (CDS Hooks 2.0.1 §Feedback, https://cds-hooks.hl7.org/2.0/#feedback),
 * shared by every replica on DATABASE_URL. Same table and behaviour as the SQLite one (feedback-store.ts):
 * a POST's entries go in as one INSERT (all or none), JSON fields are kept as JSON text, rows come back in
 * arrival order. Override comments may hold patient details: stored, never logged.
 */
import type { FeedbackEntry } from '../cds-hooks/types.js';
import { fromRow, type FeedbackRow, type FeedbackStore } from './feedback-store.js';
import { pgCall } from './pg-errors.js';
import { lazySchema, type PgPool } from './postgres.js';

export const FEEDBACK_PG_SCHEMA = `
CREATE TABLE IF NOT EXISTS feedback (
  id BIGSERIAL PRIMARY KEY,
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

// One statement for the whole batch, whatever its size: parallel arrays unnested in order.
const INSERT = `
INSERT INTO feedback (service_id, card, outcome, accepted_suggestions, override_reason, outcome_timestamp, received_at, hook_instance)
SELECT $1, card, outcome, accepted, override, outcome_ts, $2, $3
FROM unnest($4::text[], $5::text[], $6::text[], $7::text[], $8::text[]) WITH ORDINALITY AS e(card, outcome, accepted, override, outcome_ts, ord)
ORDER BY ord`;

/** Feedback store on `pool` (its tables are created on first use). The pool belongs to the caller. */
export function openPgFeedbackStore(pool: PgPool): FeedbackStore {
  const ready = lazySchema(pool, FEEDBACK_PG_SCHEMA);
  return {
    add(serviceId, entries: FeedbackEntry[], meta) {
      return pgCall(async () => {
        await ready();
        await pool.query(INSERT, [
          serviceId,
          meta.receivedAt,
          meta.hookInstance ?? null,
          entries.map((e) => e.card),
          entries.map((e) => e.outcome),
          entries.map((e) => (e.acceptedSuggestions ? JSON.stringify(e.acceptedSuggestions) : null)),
          entries.map((e) => (e.overrideReason ? JSON.stringify(e.overrideReason) : null)),
          entries.map((e) => e.outcomeTimestamp),
        ]);
      });
    },
    list(filter = {}) {
      return pgCall(async () => {
        await ready();
        const where: string[] = [];
        const params: string[] = [];
        for (const [column, value] of [['service_id', filter.serviceId], ['card', filter.card]] as const) {
          if (value === undefined) continue;
          // PostgreSQL text cannot hold NUL, so no stored value equals one that does.
          if (value.includes('\u0000')) return [];
          params.push(value);
          where.push(`${column} = $${params.length}`);
        }
        const { rows } = await pool.query<FeedbackRow>(`SELECT * FROM feedback ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id`, params);
        return rows.map(fromRow);
      });
    },
    async close() {
      // The pool is shared with the other stores; openStores ends it.
    },
  };
}
