/**
 * PostgreSQL back end of the ExplanationStore (store.ts), shared by every replica on DATABASE_URL: the
 * EHR may open a card's explanation link on any replica behind the load balancer. Same behaviour as the
 * SQLite one: the record kept whole as JSON text, patient, model and time as columns (the latter for
 * retention jobs), newest record per model by `created` with ties broken by id.
 */
import type { ExplanationRecord } from './record.js';
import { DEFAULT_PURGE_BATCH, type ExplanationStore } from './store.js';
import { pgCall, pgText } from '../storage/pg-errors.js';
import { lazySchema, type PgPool } from '../storage/postgres.js';

export const EXPLANATION_PG_SCHEMA = `
CREATE TABLE IF NOT EXISTS explanation (
  id TEXT PRIMARY KEY,
  patient_id TEXT NOT NULL,
  model_id TEXT NOT NULL,
  model_version TEXT NOT NULL,
  data_hash TEXT NOT NULL,
  created TIMESTAMPTZ NOT NULL,
  record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS explanation_patient ON explanation (patient_id, model_id, created DESC);
CREATE INDEX IF NOT EXISTS explanation_created ON explanation (created);
`;

/** Explanation store on `pool` (its table is created on first use). The pool belongs to the caller. */
export function openPgExplanationStore(pool: PgPool): ExplanationStore {
  const ready = lazySchema(pool, EXPLANATION_PG_SCHEMA);
  return {
    save(record) {
      return pgCall(async () => {
        await ready();
        await pool.query(
          'INSERT INTO explanation (id, patient_id, model_id, model_version, data_hash, created, record) VALUES ($1, $2, $3, $4, $5, $6, $7)',
          // Column copies cannot hold NUL; the record JSON keeps every character (escaped).
          [pgText(record.id), pgText(record.patientId), pgText(record.model.id), pgText(record.model.version), pgText(record.dataHash), record.created, JSON.stringify(record)],
        );
      });
    },
    get(id) {
      return pgCall(async () => {
        if (id.includes('\u0000')) return undefined;
        await ready();
        const { rows } = await pool.query<{ record: string }>('SELECT record FROM explanation WHERE id = $1', [id]);
        return rows[0] ? (JSON.parse(rows[0].record) as ExplanationRecord) : undefined;
      });
    },
    latestByModel(patientId) {
      return pgCall(async () => {
        if (patientId.includes('\u0000')) return [];
        await ready();
        const { rows } = await pool.query<{ record: string }>(
          // Byte order of model ids (COLLATE "C"), as SQLite sorts them.
          `SELECT record FROM (
             SELECT DISTINCT ON (model_id) model_id, record FROM explanation WHERE patient_id = $1 ORDER BY model_id, created DESC, id COLLATE "C"
           ) latest ORDER BY model_id COLLATE "C"`,
          [patientId],
        );
        return rows.map((r) => JSON.parse(r.record) as ExplanationRecord);
      });
    },
    purgeOlderThan(before, options = {}) {
      return pgCall(async () => {
        await ready();
        const batch = Math.max(1, options.batchSize ?? DEFAULT_PURGE_BATCH);
        let total = 0;
        for (;;) {
          // One batch per statement: each stays well inside statement_timeout, and locks few rows at a time.
          const result = await pool.query(
            'DELETE FROM explanation WHERE id IN (SELECT id FROM explanation WHERE created < $1 LIMIT $2)',
            [before.toISOString(), batch],
          );
          const n = result.rowCount ?? 0;
          total += n;
          if (n < batch) return total;
        }
      });
    },
    async close() {
      // The pool is shared with the other stores; openStores ends it.
    },
  };
}
