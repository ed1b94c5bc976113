/**
 * SQLite back end of the ExplanationStore: DATA_DIR/explanations.sqlite (WAL, synchronous=NORMAL: an
 * explanation lost in a power cut only costs the view its detail — the card itself was already answered).
 * The record is kept whole as JSON; patient, model and time are columns (time for the retention purge).
 * `issued_key` is the reuse key of a record issued for exactly one input (./issued.ts); unique while set.
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
  record TEXT NOT NULL,
  issued_key TEXT
);
CREATE INDEX IF NOT EXISTS explanation_patient ON explanation (patient_id, created);
CREATE INDEX IF NOT EXISTS explanation_created ON explanation (created);
`;

/** Added after the table first shipped: files made before it get the column (NULL in old rows), then the index. */
const ISSUED_KEY_COLUMN = 'ALTER TABLE explanation ADD COLUMN issued_key TEXT';
const ISSUED_KEY_INDEX = 'CREATE UNIQUE INDEX IF NOT EXISTS explanation_issued ON explanation (issued_key) WHERE issued_key IS NOT NULL';

/** Opens (creating when needed) the store in `dataDir`, or an in-memory one for ':memory:'. */
export function openSqliteExplanationStore(dataDir: string): ExplanationStore {
  const db = openSqliteFile(dataDir, EXPLANATIONS_DB_FILE, { synchronous: 'NORMAL' });
  // One writer at a time (IMMEDIATE): two processes opening an old file must not both add the column.
  db.transaction(() => {
    db.exec(SCHEMA);
    const columns = db.prepare<[], { name: string }>('PRAGMA table_info(explanation)').all();
    if (!columns.some((c) => c.name === 'issued_key')) db.exec(ISSUED_KEY_COLUMN);
    db.exec(ISSUED_KEY_INDEX);
  }).immediate();
  const insert = db.prepare<[string, string, string, string, string, string, string]>(
    'INSERT INTO explanation (id, patient_id, model_id, model_version, data_hash, created, record) VALUES (?, ?, ?, ?, ?, ?, ?)',
  );
  const select = db.prepare<[string], { record: string }>('SELECT record FROM explanation WHERE id = ?');
  // notBefore '' when retention is off: every ISO time sorts after it.
  const findIssued = db.prepare<[string, string], { record: string }>('SELECT record FROM explanation WHERE issued_key = ? AND created >= ?');
  const releaseIssued = db.prepare<[string, string]>('UPDATE explanation SET issued_key = NULL WHERE issued_key = ? AND created < ?');
  const insertIssued = db.prepare<[string, string, string, string, string, string, string, string]>(
    `INSERT INTO explanation (id, patient_id, model_id, model_version, data_hash, created, record, issued_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (issued_key) WHERE issued_key IS NOT NULL DO NOTHING`,
  );
  // Resolves to the JSON of the record already issued under the key, or undefined when this one was stored.
  const saveIssued = db.transaction((record: ExplanationRecord, key: string, notBefore: string): string | undefined => {
    releaseIssued.run(key, notBefore);
    const inserted = insertIssued.run(record.id, record.patientId, record.model.id, record.model.version, record.dataHash, record.created, JSON.stringify(record), key).changes;
    return inserted === 1 ? undefined : findIssued.get(key, notBefore)!.record;
  });
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
    async findIssued(issuedKey, notBefore) {
      const row = findIssued.get(issuedKey, notBefore?.toISOString() ?? '');
      return row ? (JSON.parse(row.record) as ExplanationRecord) : undefined;
    },
    async saveIssued(record, issuedKey, notBefore) {
      const earlier = saveIssued.immediate(record, issuedKey, notBefore?.toISOString() ?? '');
      return earlier === undefined ? record : (JSON.parse(earlier) as ExplanationRecord);
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
