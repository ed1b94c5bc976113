/**
 * PostgreSQL back end of the ExplanationStore (store.ts), shared by every replica on DATABASE_URL: the
 * EHR may open a card's explanation link on any replica behind the load balancer. Same behaviour as the
 * SQLite one: the record kept whole as JSON text, patient, model and time as columns (the latter for
 * retention jobs), newest record per model by `created` with ties broken by id; `issued_key`, unique while
 * set, is the reuse key of a record issued for exactly one input (./issued.ts), so replicas share one record
 * per exact data.
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
-- Added after the table first shipped (NULL in older rows). Checked first: ALTER TABLE … IF NOT EXISTS would
-- still take the table's exclusive lock at every replica start, queueing the other replicas' reads behind it.
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'explanation'::regclass AND attname = 'issued_key' AND NOT attisdropped) THEN
    ALTER TABLE explanation ADD COLUMN issued_key TEXT;
  END IF;
END $$;
CREATE UNIQUE INDEX IF NOT EXISTS explanation_issued ON explanation (issued_key) WHERE issued_key IS NOT NULL;
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
    findIssued(issuedKey, notBefore) {
      return pgCall(async () => {
        await ready();
        const { rows } = await pool.query<{ record: string }>(
          'SELECT record FROM explanation WHERE issued_key = $1 AND ($2::timestamptz IS NULL OR created >= $2)',
          [pgText(issuedKey), notBefore?.toISOString() ?? null],
        );
        return rows[0] ? (JSON.parse(rows[0].record) as ExplanationRecord) : undefined;
      });
    },
    saveIssued(record, issuedKey, notBefore) {
      return pgCall(async () => {
        await ready();
        const key = pgText(issuedKey);
        const since = notBefore?.toISOString() ?? null;
        if (since !== null) await pool.query('UPDATE explanation SET issued_key = NULL WHERE issued_key = $1 AND created < $2', [key, since]);
        // Two tries: the record that won the key may be purged between our INSERT and SELECT.
        for (let attempt = 0; ; attempt++) {
          const inserted = await pool.query(
            `INSERT INTO explanation (id, patient_id, model_id, model_version, data_hash, created, record, issued_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (issued_key) WHERE issued_key IS NOT NULL DO NOTHING`,
            [pgText(record.id), pgText(record.patientId), pgText(record.model.id), pgText(record.model.version), pgText(record.dataHash), record.created, JSON.stringify(record), key],
          );
          if (inserted.rowCount === 1) return record;
          // Another replica stored a record for these data meanwhile (the INSERT waited for its commit).
          const { rows } = await pool.query<{ record: string }>(
            'SELECT record FROM explanation WHERE issued_key = $1 AND ($2::timestamptz IS NULL OR created >= $2)',
            [key, since],
          );
          if (rows[0]) return JSON.parse(rows[0].record) as ExplanationRecord;
          if (attempt === 1) throw new Error('explanation record under the issued key vanished twice');
        }
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
