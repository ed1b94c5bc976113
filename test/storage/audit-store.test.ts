import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AuditEvent } from 'fhir/r4';
import { createAuditStore } from '../../src/storage/audit-store.js';
import { openSecurityDatabase } from '../../src/storage/replay-cache-sqlite.js';

function event(id: string, patient: string): AuditEvent {
  return {
    resourceType: 'AuditEvent',
    id,
    type: { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest' },
    recorded: new Date(Date.UTC(2026, 0, 1, 12, 0, Number(id.replace(/\D/g, '')) % 60)).toISOString(),
    outcome: '0',
    agent: [{ requestor: true, who: { identifier: { value: 'client-1' } } }],
    source: { observer: { display: 'vigil' } },
    entity: [{ what: { reference: `Patient/${patient}` }, role: { system: 'http://terminology.hl7.org/CodeSystem/object-role', code: '1' } }],
  };
}

function rowCount(db: ReturnType<typeof openSecurityDatabase>): number {
  return (db.prepare('SELECT COUNT(*) AS n FROM audit_event').get() as { n: number }).n;
}

describe('audit store group commit', () => {
  it('holds events for at most flushMs, then writes them in one batch', async () => {
    const db = openSecurityDatabase(':memory:');
    const store = createAuditStore(db, { flushMs: 20 });
    for (let i = 1; i <= 5; i++) store.record(event(`e${i}`, 'pat-a'));
    expect(rowCount(db)).toBe(0);
    await new Promise((r) => setTimeout(r, 80));
    expect(rowCount(db)).toBe(5);
    store.close();
    db.close();
  });

  it('reads its own writes: a query flushes what is pending', () => {
    const db = openSecurityDatabase(':memory:');
    const store = createAuditStore(db, { flushMs: 60_000 });
    store.record(event('e1', 'pat-a'));
    store.record(event('e2', 'pat-b'));
    expect(store.list({ patientId: 'pat-b' }).map((e) => e.id)).toEqual(['e2']);
    store.close();
    db.close();
  });

  it('close() makes pending events durable across a reopen, and restores the connection\'s sync level', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'vigil-audit-'));
    try {
      const db = openSecurityDatabase(dir);
      const store = createAuditStore(db, { flushMs: 60_000 });
      store.record(event('e7', 'pat-a'));
      store.close();
      // NORMAL (1) for the replay cache stays in force after the fsynced audit commit.
      expect(db.pragma('synchronous', { simple: true })).toBe(1);
      db.close();
      const reopened = openSecurityDatabase(dir);
      expect(createAuditStore(reopened).list().map((e) => e.id)).toEqual(['e7']);
      reopened.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
