/**
 * AuditStore on every back end (backends.ts): group commit (events wait at most flushMs, then go in as one
 * batch), reads its own writes, durable through close(), queries by patient / since / limit newest first,
 * and one store reads what another (replica) wrote. SQLite-only pragma detail at the end.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AuditEvent } from 'fhir/r4';
import { createAuditStore } from '../../src/storage/audit-store.js';
import { openSecurityDatabase } from '../../src/storage/replay-cache-sqlite.js';
import { storageBackends, type StorageTarget } from './backends.js';

function event(id: string, patient: string, second = Number(id.replace(/\D/g, '')) % 60): AuditEvent {
  return {
    resourceType: 'AuditEvent',
    id,
    type: { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest' },
    recorded: new Date(Date.UTC(2026, 0, 1, 12, 0, second)).toISOString(),
    outcome: '0',
    agent: [{ requestor: true, who: { identifier: { value: 'client-1' } } }],
    source: { observer: { display: 'vigil' } },
    entity: [{ what: { reference: `Patient/${patient}` }, role: { system: 'http://terminology.hl7.org/CodeSystem/object-role', code: '1' } }],
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each(await storageBackends())('$name audit store', (backend) => {
  let target: StorageTarget;
  beforeEach(async () => {
    target = await backend.create();
  });
  afterEach(async () => {
    await target.dispose();
  });

  it('holds events for at most flushMs, then writes them in one batch', async () => {
    const store = target.openAudit({ flushMs: 100 });
    await store.flush(); // tables exist before counting
    for (let i = 1; i <= 5; i++) store.record(event(`e${i}`, 'pat-a'));
    expect(await target.count('audit_event')).toBe(0);
    const deadline = Date.now() + 5000;
    while ((await target.count('audit_event')) < 5 && Date.now() < deadline) await sleep(20);
    expect(await target.count('audit_event')).toBe(5);
  });

  it('reads its own writes: a query flushes what is pending', async () => {
    const store = target.openAudit({ flushMs: 60_000 });
    store.record(event('e1', 'pat-a'));
    store.record(event('e2', 'pat-b'));
    expect((await store.list({ patientId: 'pat-b' })).map((e) => e.id)).toEqual(['e2']);
  });

  it('close() makes pending events durable across a reopen', async () => {
    const store = target.openAudit({ flushMs: 60_000 });
    store.record(event('e7', 'pat-a'));
    await store.close();
    expect((await target.openAudit().list()).map((e) => e.id)).toEqual(['e7']);
  });

  it('answers newest first, by patient, since an instant, and up to a limit; the resource comes back whole', async () => {
    const store = target.openAudit({ flushMs: 60_000 });
    for (let i = 1; i <= 6; i++) store.record(event(`e${i}`, i % 2 ? 'pat-odd' : 'pat-even', i * 5));
    const all = await store.list();
    expect(all.map((e) => e.id)).toEqual(['e6', 'e5', 'e4', 'e3', 'e2', 'e1']);
    expect(all[5]).toEqual(event('e1', 'pat-odd', 5));
    expect((await store.list({ patientId: 'pat-odd' })).map((e) => e.id)).toEqual(['e5', 'e3', 'e1']);
    expect((await store.list({ since: '2026-01-01T12:00:20.000Z' })).map((e) => e.id)).toEqual(['e6', 'e5', 'e4']);
    expect((await store.list({ patientId: 'pat-even', since: '2026-01-01T12:00:20.000Z' })).map((e) => e.id)).toEqual(['e6', 'e4']);
    expect((await store.list({ limit: 2 })).map((e) => e.id)).toEqual(['e6', 'e5']);
    expect(await store.list({ patientId: "pat-odd' OR '1'='1" })).toEqual([]);
  });

  it('one store reads the events another (replica) recorded', async () => {
    const a = target.openAudit({ flushMs: 5 });
    const b = target.openAudit({ flushMs: 5 });
    a.record(event('a1', 'pat-a'));
    b.record(event('b1', 'pat-a'));
    await a.flush();
    await b.flush();
    expect((await a.list({ patientId: 'pat-a' })).map((e) => e.id).sort()).toEqual(['a1', 'b1']);
    expect((await b.list({ patientId: 'pat-a' })).map((e) => e.id).sort()).toEqual(['a1', 'b1']);
  });

  it('keeps order and every event under a burst of many small batches', async () => {
    const store = target.openAudit({ flushMs: 1 });
    for (let i = 0; i < 300; i++) {
      store.record(event(`burst-${i}`, 'pat-burst'));
      if (i % 50 === 0) await sleep(2);
    }
    const listed = await store.list({ patientId: 'pat-burst', limit: 1000 });
    expect(listed.map((e) => e.id)).toEqual(Array.from({ length: 300 }, (_, i) => `burst-${299 - i}`));
  });
});

describe('SQLite audit store', () => {
  it("restores the connection's sync level after its fsynced commit", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'vigil-audit-'));
    try {
      const db = openSecurityDatabase(dir);
      const store = createAuditStore(db, { flushMs: 60_000 });
      store.record(event('e7', 'pat-a'));
      await store.close();
      // NORMAL (1) for the replay cache stays in force after the fsynced audit commit.
      expect(db.pragma('synchronous', { simple: true })).toBe(1);
      db.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
