/**
 * PostgreSQL back end of the AuditStore (FHIR R4 AuditEvent, https://hl7.org/fhir/R4/auditevent.html),
 * shared by every replica on DATABASE_URL, so a reviewer reading /admin/audit on any replica sees the
 * events all of them recorded (each replica flushes its own buffer before reading).
 *
 * Group commit as on SQLite (group-commit.ts): events recorded within `flushMs` go in as one multi-row
 * INSERT, one commit (PostgreSQL's own WAL fsync). A failed INSERT — database down — keeps the batch and
 * retries it with back-off; `ON CONFLICT (id) DO NOTHING` makes a retry after a commit whose answer was
 * lost harmless. A crash loses at most what was buffered (the last `flushMs`, or the outage's backlog).
 */
import type { AuditEvent } from 'fhir/r4';
import { agentOf, auditLimit, patientOf, type AuditStore, type AuditStoreOptions } from './audit-store.js';
import { GroupCommit } from './group-commit.js';
import { pgCall, pgText } from './pg-errors.js';
import { lazySchema, type PgPool } from './postgres.js';

export const AUDIT_PG_SCHEMA = `
CREATE TABLE IF NOT EXISTS audit_event (
  seq BIGSERIAL PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  recorded TIMESTAMPTZ NOT NULL,
  patient_id TEXT,
  agent TEXT,
  outcome TEXT,
  resource TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_event_patient ON audit_event (patient_id, recorded);
CREATE INDEX IF NOT EXISTS audit_event_recorded ON audit_event (recorded);
`;

const INSERT = `
INSERT INTO audit_event (id, recorded, patient_id, agent, outcome, resource)
SELECT id, recorded, patient_id, agent, outcome, resource
FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[]) WITH ORDINALITY
  AS e(id, recorded, patient_id, agent, outcome, resource, ord)
ORDER BY ord
ON CONFLICT (id) DO NOTHING`;

/** Audit store on `pool` (its table is created on first use). The pool belongs to the caller. */
export function openPgAuditStore(pool: PgPool, options: AuditStoreOptions = {}): AuditStore {
  const ready = lazySchema(pool, AUDIT_PG_SCHEMA);
  const commits = new GroupCommit<AuditEvent>(
    async (batch) => {
      await ready();
      await pool.query(INSERT, [
        batch.map((e) => pgText(e.id ?? '')),
        batch.map((e) => e.recorded),
        // Index columns cannot hold NUL; the resource JSON keeps every character (escaped).
        batch.map((e) => pgText(patientOf(e))),
        batch.map((e) => pgText(agentOf(e))),
        batch.map((e) => e.outcome ?? null),
        batch.map((e) => JSON.stringify(e)),
      ]);
    },
    { flushMs: options.flushMs ?? 5, ...(options.onFlushError ? { onError: options.onFlushError } : {}) },
  );
  return {
    record(event) {
      commits.add(event);
    },
    flush: () => pgCall(() => commits.flush()),
    close: () => pgCall(() => commits.close()),
    get pending() {
      return commits.pending;
    },
    list(query = {}) {
      return pgCall(async () => {
        await commits.flush();
        const where: string[] = [];
        const params: string[] = [];
        if (query.patientId !== undefined) {
          if (query.patientId.includes('\u0000')) return [];
          params.push(query.patientId);
          where.push(`patient_id = $${params.length}`);
        }
        if (query.since !== undefined) {
          params.push(query.since);
          where.push(`recorded >= $${params.length}::timestamptz`);
        }
        const { rows } = await pool.query<{ resource: string }>(
          `SELECT resource FROM audit_event ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT ${auditLimit(query)}`,
          params,
        );
        return rows.map((r) => JSON.parse(r.resource) as AuditEvent);
      });
    },
  };
}
