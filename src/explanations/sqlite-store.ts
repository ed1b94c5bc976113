/**
 * SQLite back end of the ExplanationStore: DATA_DIR/explanations.sqlite (WAL, synchronous=NORMAL: an
 * explanation lost in a power cut only costs the view its detail — the card itself was already answered).
 * The record is kept whole as JSON; patient, model and time are columns (time for the retention purge).
 */
import type { ExplanationRecord } from './record.js';
import { DEFAULT_PURGE_BATCH, type ExplanationStore } from './store.js';
import { openSqliteFile } from '../storage/sqlite.js';

export const EXPLANATIONS_DB_FILE = 'explanations.sqlite';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS explanation (
  id TEXT PRIMARY KEY,
  patient_id TEXT NOT NULL,
  model_id TEXT NOT NULL,
  model_version TEXT NOT NULL,
  data_hash TEXT NOT NULL,
  created TEXT NOT NULL,
  record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS explanation_patient ON explanation (patient_id, created);
CREATE INDEX IF NOT EXISTS explanation_created ON explanation (created);
`;

/** Opens (creating when needed) the store in `dataDir`, or an in-memory one for ':memory:'. */
export function openSqliteExplanationStore(dataDir: string): ExplanationStore {
  const db = openSqliteFile(dataDir, EXPLANATIONS_DB_FILE, { synchronous: 'NORMAL' });
  db.exec(SCHEMA);
  const insert = db.prepare<[string, string, string, string, string, string, string]>(
    'INSERT INTO explanation (id, patient_id, model_id, model_version, data_hash, created, record) VALUES (?, ?, ?, ?, ?, ?, ?)',
  );
  const select = db.prepare<[string], { record: string }>('SELECT record FROM explanation WHERE id = ?');
  // `created` is ISO 8601 in UTC with milliseconds (new Date().toISOString()), so text order is time order.
  const purge = db.prepare<[string, number]>('DELETE FROM explanation WHERE rowid IN (SELECT rowid FROM explanation WHERE created < ? LIMIT ?)');
  // Newest per model: the greatest `created` in the patient's rows of each model (index explanation_patient).
  const latest = db.prepare<[string, string], { record: string }>(
    `SELECT e.record FROM explanation e
     JOIN (SELECT model_id, MAX(created) AS created FROM explanation WHERE patient_id = ? GROUP BY model_id) m
       ON e.model_id = m.model_id AND e.created = m.created
     WHERE e.patient_id = ? ORDER BY e.model_id, e.id`,
  );
  return {
    async save(record) {
      insert.run(record.id, record.patientId, record.model.id, record.model.version, record.dataHash, record.created, JSON.stringify(record));
    },
    async get(id) {
      const row = select.get(id);
      return row ? (JSON.parse(row.record) as ExplanationRecord) : undefined;
    },
    async latestByModel(patientId) {
      const seen = new Set<string>();
      const records: ExplanationRecord[] = [];
      for (const row of latest.all(patientId, patientId)) {
        const record = JSON.parse(row.record) as ExplanationRecord;
        // Two records of one model created in the same millisecond: keep one.
        if (seen.has(record.model.id)) continue;
        seen.add(record.model.id);
        records.push(record);
      }
      return records;
    },
    async purgeOlderThan(before, options = {}) {
      const batch = Math.max(1, options.batchSize ?? DEFAULT_PURGE_BATCH);
      let total = 0;
      for (;;) {
        const n = purge.run(before.toISOString(), batch).changes;
        total += n;
        if (n < batch) return total;
        // better-sqlite3 is synchronous: let requests in between batches.
        await new Promise((resolve) => setImmediate(resolve));
        if (!db.open) return total;
      }
    },
    async close() {
      if (db.open) db.close();
    },
  };
}
