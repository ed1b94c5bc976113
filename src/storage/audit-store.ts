/**
 * Durable store of FHIR AuditEvents (src/smart/audit.ts). This file: the interface and the SQLite back end,
 * table `audit_event` in DATA_DIR/security.sqlite; audit-store-pg.ts is the PostgreSQL one (shared by
 * replicas), chosen in open-stores.ts.
 * The full resource is kept as JSON; patient, agent and time are columns so an admin can query by them.
 * Append-only: nothing here updates or deletes.
 *
 * Group commit: events are recorded after the response has gone, and an fsync per event would block the
 * event loop on every hook call. So events recorded within `flushMs` are written in one transaction that is
 * fsynced (synchronous=FULL for that commit), and every read flushes first. A crash can lose at most the
 * events of the last `flushMs`; a failed commit is retried (group-commit.ts); close() flushes.
 */
import type Database from 'better-sqlite3';
import type { AuditEvent } from 'fhir/r4';
import type { AuditSink } from '../smart/audit.js';
import { GroupCommit } from './group-commit.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS audit_event (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  recorded TEXT NOT NULL,
  patient_id TEXT,
  agent TEXT,
  outcome TEXT,
  resource TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_event_patient ON audit_event (patient_id, recorded);
CREATE INDEX IF NOT EXISTS audit_event_recorded ON audit_event (recorded);
`;

export interface AuditQuery {
  patientId?: string;
  /** ISO 8601 instant; events recorded at or after it. */
  since?: string;
  /** Most events returned, newest first. Default 100, at most 1000. */
  limit?: number;
}

export interface AuditStore extends AuditSink {
  /** Events newest first; what was recorded on this instance is flushed first (reads its own writes). */
  list(query?: AuditQuery): Promise<AuditEvent[]>;
  /** Writes every event recorded so far, durably; rejects (keeping them for a retry) if the write fails. */
  flush(): Promise<void>;
  /** Flushes and stops the timers; the database itself belongs to the caller. */
  close(): Promise<void>;
  /** Events recorded on this instance and not yet committed (grows while the database is down). */
  readonly pending: number;
}

export interface AuditStoreOptions {
  /** Longest an event waits before its batch is committed. Default 5 ms; 0 writes each event at once. */
  flushMs?: number;
  /** Told about a failed batch (it is retried); must not log the events, they name patients. */
  onFlushError?: (err: unknown, pending: number) => void;
}

/** The patient an event is about (entity with role 1 "Patient"), for the indexed column. */
export function patientOf(event: AuditEvent): string | null {
  const ref = event.entity?.find((e) => e.role?.code === '1')?.what?.reference;
  return ref?.startsWith('Patient/') ? ref.slice('Patient/'.length) : null;
}

/** Who acted (agent[0].who), for the indexed column. */
export function agentOf(event: AuditEvent): string | null {
  const who = event.agent[0]?.who;
  return who?.reference ?? who?.identifier?.value ?? null;
}

/** Audit store on an open database (see openSecurityDatabase in replay-cache-sqlite.ts). */
export function createAuditStore(db: Database.Database, options: AuditStoreOptions = {}): AuditStore {
  const flushMs = options.flushMs ?? 5;
  db.exec(SCHEMA);
  const insert = db.prepare<[string, string, string | null, string | null, string | null, string]>(
    'INSERT INTO audit_event (id, recorded, patient_id, agent, outcome, resource) VALUES (?, ?, ?, ?, ?, ?)',
  );
  const insertAll = db.transaction((events: AuditEvent[]) => {
    for (const event of events) {
      insert.run(event.id ?? '', event.recorded, patientOf(event), agentOf(event), event.outcome ?? null, JSON.stringify(event));
    }
  });
  const commits = new GroupCommit<AuditEvent>(
    (batch) => {
      if (!db.open) return;
      // The connection may run at synchronous=NORMAL for other tables; audit commits are always fsynced.
      const previous = db.pragma('synchronous', { simple: true }) as number;
      db.pragma('synchronous = FULL');
      try {
        insertAll(batch);
      } finally {
        db.pragma(`synchronous = ${previous}`);
      }
    },
    { flushMs, ...(options.onFlushError ? { onError: options.onFlushError } : {}) },
  );

  return {
    record(event) {
      commits.add(event);
    },
    flush: () => commits.flush(),
    close: () => commits.close(),
    get pending() {
      return commits.pending;
    },
    async list(query = {}) {
      await commits.flush();
      const where: string[] = [];
      const params: Array<string | number> = [];
      if (query.patientId !== undefined) {
        where.push('patient_id = ?');
        params.push(query.patientId);
      }
      if (query.since !== undefined) {
        where.push('recorded >= ?');
        params.push(query.since);
      }
      const sql = `SELECT resource FROM audit_event ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT ${auditLimit(query)}`;
      return (db.prepare(sql).all(...params) as Array<{ resource: string }>).map((r) => JSON.parse(r.resource) as AuditEvent);
    },
  };
}

/** The query's row limit: default 100, between 1 and 1000. */
export function auditLimit(query: AuditQuery): number {
  return Math.min(Math.max(1, Math.trunc(query.limit ?? 100)), 1000);
}
