/**
 * The issued-record index kept by the explanation stores (findIssued / saveIssued) on every back end, the
 * schema upgrade of databases made before it (SQLite file, PostgreSQL table: rows kept, key column and index
 * added), and the in-memory side (src/explanations/issued.ts): retention, recall once per key, remembered.
 */
import { describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { issuedFromRecord, IssuedExplanations, type IssuedExplanation } from '../../src/explanations/issued.js';
import { openPgExplanationStore } from '../../src/explanations/pg-store.js';
import type { ExplanationRecord } from '../../src/explanations/record.js';
import { EXPLANATIONS_DB_FILE, openSqliteExplanationStore } from '../../src/explanations/sqlite-store.js';
import { storageBackends } from '../storage/backends.js';
import { createTestSchema, pgAvailable } from '../storage/pg-test-db.js';
import { bareRecord } from './helpers.js';

const pgUp = await pgAvailable();
const KEY = JSON.stringify(['vigil-deterioration', 'Patient/p1', '1.0.0', 'hash-a']);
const record = (id: string, created: string): ExplanationRecord => bareRecord(id, 'p1', 'deterioration', created);

describe.each(await storageBackends())('$name issued-record index', (backend) => {
  const withTarget = async (work: (target: Awaited<ReturnType<typeof backend.create>>) => Promise<void>) => {
    const target = await backend.create();
    try {
      await work(target);
    } finally {
      await target.dispose();
    }
  };

  it('finds the record saved under a key, from another store on the same database; not under another key', () =>
    withTarget(async (target) => {
      const a = target.openExplanations();
      const b = target.openExplanations();
      const r = record('r1', '2026-11-25T10:00:00.000Z');
      expect(await a.saveIssued(r, KEY)).toEqual(r);
      expect(await b.findIssued(KEY)).toEqual(r);
      expect(await b.get('r1')).toEqual(r);
      expect(await b.findIssued(`${KEY}x`)).toBeUndefined();
      // A record saved without a key is never found by key.
      await a.save(record('plain', '2026-11-25T10:00:00.000Z'));
      expect(await b.findIssued('')).toBeUndefined();
    }));

  it('keeps the first record under a key: a second save resolves to it and writes nothing', () =>
    withTarget(async (target) => {
      const a = target.openExplanations();
      const b = target.openExplanations();
      const first = record('first', '2026-11-25T10:00:00.000Z');
      await a.saveIssued(first, KEY);
      expect((await b.saveIssued(record('second', '2026-11-25T10:00:01.000Z'), KEY)).id).toBe('first');
      expect(await b.get('second')).toBeUndefined();
      expect(await target.count('explanation')).toBe(1);
    }));

  it('keeps one row when two stores save under one key at the same moment', () =>
    withTarget(async (target) => {
      const stores = [target.openExplanations(), target.openExplanations()];
      const kept = await Promise.all(stores.map((s, k) => s.saveIssued(record(`race-${k}`, '2026-11-25T10:00:00.000Z'), KEY)));
      expect(kept[1]!.id).toBe(kept[0]!.id);
      expect(await target.count('explanation')).toBe(1);
    }));

  it('never reuses a record past retention: not found, and a new save takes the key (the old row stays for the purge)', () =>
    withTarget(async (target) => {
      const store = target.openExplanations();
      await store.saveIssued(record('old', '2026-10-01T00:00:00.000Z'), KEY);
      const cutoff = new Date('2026-10-25T00:00:00.000Z');
      expect(await store.findIssued(KEY, cutoff)).toBeUndefined();
      expect(await store.findIssued(KEY, new Date('2026-10-01T00:00:00.000Z'))).toBeDefined();
      expect((await store.saveIssued(record('new', '2026-11-25T10:00:00.000Z'), KEY, cutoff)).id).toBe('new');
      expect((await store.findIssued(KEY, cutoff))!.id).toBe('new');
      // Released for good: even without a limit the key now means the new record.
      expect((await store.findIssued(KEY))!.id).toBe('new');
      expect(await store.get('old')).toBeDefined();
      expect(await store.purgeOlderThan(cutoff)).toBe(1);
      expect((await store.findIssued(KEY))!.id).toBe('new');
    }));

  it('refuses a keyed record whose id is already used (ids are never reused)', () =>
    withTarget(async (target) => {
      const store = target.openExplanations();
      await store.save(record('same', '2026-11-25T08:00:00.000Z'));
      const refused = await store.saveIssued(record('same', '2026-11-25T09:00:00.000Z'), KEY).then(() => false, () => true);
      expect(refused).toBe(true);
      expect(await store.findIssued(KEY)).toBeUndefined();
    }));
});

describe('schema upgrade of databases made before the issued key', () => {
  const OLD_TABLE = (created: string) => `
    CREATE TABLE explanation (id TEXT PRIMARY KEY, patient_id TEXT NOT NULL, model_id TEXT NOT NULL, model_version TEXT NOT NULL,
      data_hash TEXT NOT NULL, created ${created} NOT NULL, record TEXT NOT NULL);
    CREATE INDEX explanation_patient ON explanation (patient_id, created);`;
  const old = record('before-upgrade', '2026-11-20T10:00:00.000Z');
  const oldRow = [old.id, old.patientId, old.model.id, old.model.version, old.dataHash, old.created, JSON.stringify(old)];

  it('SQLite: an old file keeps its rows, gains the key column and its unique index; opening it again changes nothing', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-issued-upgrade-'));
    try {
      const db = new Database(path.join(dir, EXPLANATIONS_DB_FILE));
      db.exec(OLD_TABLE('TEXT'));
      db.prepare('INSERT INTO explanation VALUES (?, ?, ?, ?, ?, ?, ?)').run(...oldRow);
      db.close();
      for (let open = 0; open < 2; open++) {
        const store = openSqliteExplanationStore(dir);
        expect(await store.get(old.id)).toEqual(old);
        if (open === 0) {
          expect(await store.findIssued(KEY)).toBeUndefined();
          await store.saveIssued(record('after-upgrade', '2026-11-25T10:00:00.000Z'), KEY);
        }
        expect((await store.findIssued(KEY))!.id).toBe('after-upgrade');
        await store.close();
      }
      const check = new Database(path.join(dir, EXPLANATIONS_DB_FILE), { readonly: true });
      const indexes = check.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'explanation'").all() as Array<{ name: string; sql: string }>;
      check.close();
      expect(indexes.find((i) => i.name === 'explanation_issued')?.sql).toMatch(/UNIQUE INDEX .*\(issued_key\) WHERE issued_key IS NOT NULL/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  (pgUp ? it : it.skip)('PostgreSQL: an old table keeps its rows and gains the key column and its unique index', async () => {
    const schema = await createTestSchema();
    try {
      const admin = schema.pool({ max: 1 });
      await admin.query(OLD_TABLE('TIMESTAMPTZ'));
      await admin.query('INSERT INTO explanation VALUES ($1, $2, $3, $4, $5, $6, $7)', oldRow);
      const store = openPgExplanationStore(schema.pool({ max: 2 }));
      expect(await store.get(old.id)).toEqual(old);
      await store.saveIssued(record('after-upgrade', '2026-11-25T10:00:00.000Z'), KEY);
      expect((await openPgExplanationStore(schema.pool({ max: 1 })).findIssued(KEY))!.id).toBe('after-upgrade');
      const { rows } = await admin.query<{ indexdef: string }>("SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND indexname = 'explanation_issued'", [schema.schema]);
      expect(rows[0]?.indexdef).toMatch(/UNIQUE INDEX .*\(issued_key\) WHERE \(issued_key IS NOT NULL\)/);
    } finally {
      await schema.drop();
    }
  });
});

describe('IssuedExplanations (in memory)', () => {
  const DAY = 86_400_000;
  const issued = (id: string, created: string): IssuedExplanation => ({
    id,
    prediction: { modelId: 'deterioration', version: '1.0.0', probability: 0.2, band: 'moderate', indicator: 'warning' },
    factors: [],
    created,
  });

  it('recalls a miss from the store once however many callers ask, then answers from memory', async () => {
    const index = new IssuedExplanations();
    let lookups = 0;
    const find = async () => {
      lookups++;
      await new Promise((resolve) => setTimeout(resolve, 20));
      return issued('stored', '2026-11-25T10:00:00.000Z');
    };
    const found = await Promise.all([index.recall('k', find), index.recall('k', find), index.recall('k', find)]);
    expect(found.map((f) => f?.id)).toEqual(['stored', 'stored', 'stored']);
    expect(lookups).toBe(1);
    expect(index.get('k')?.id).toBe('stored');
    expect(await index.recall('k', find)).toBeDefined();
    expect(lookups).toBe(1);
    expect(index.stats).toMatchObject({ recalled: 1, reused: 5, issued: 0, size: 1 });
  });

  it('does not remember a miss: the next call asks the store again', async () => {
    const index = new IssuedExplanations();
    let lookups = 0;
    const none = async () => {
      lookups++;
      return undefined;
    };
    expect(await index.recall('k', none)).toBeUndefined();
    expect(await index.recall('k', none)).toBeUndefined();
    expect(lookups).toBe(2);
    expect(index.stats.size).toBe(0);
  });

  it('passes the retention cut-off to the store and drops a remembered record once it is past retention', async () => {
    let now = Date.parse('2026-11-25T10:00:00.000Z');
    const index = new IssuedExplanations({ retentionDays: 30, now: () => now });
    let asked: Date | undefined;
    await index.getOrIssue('k', async () => issued('r', new Date(now).toISOString()));
    expect(index.get('k')?.id).toBe('r');
    now += 30 * DAY + 1;
    expect(index.get('k')).toBeUndefined();
    expect(index.stats.size).toBe(0);
    // A store answering with an expired record (clock skew between replicas) is not trusted either.
    expect(await index.recall('k', async (notBefore) => {
      asked = notBefore;
      return issued('r', '2026-11-25T10:00:00.000Z');
    })).toBeUndefined();
    expect(asked?.toISOString()).toBe('2026-11-25T10:00:00.001Z');
  });

  it('with retention off there is no cut-off', () => {
    expect(new IssuedExplanations({ retentionDays: 0 }).notBefore()).toBeUndefined();
  });

  it('builds the card part from a stored record only for the same patient, service and model version', () => {
    const r = { ...record('x', '2026-11-25T10:00:00.000Z'), factors: [{ feature: 'HR', label: 'Heart rate', text: 'Heart rate 130/min', contribution: 0.05, evidence: [] }] };
    const expected = { patientId: 'p1', serviceId: 'vigil-deterioration', model: { id: 'deterioration', version: '1.0.0' } };
    expect(issuedFromRecord(r, expected)).toEqual({
      id: 'x',
      prediction: { modelId: 'deterioration', version: '1.0.0', probability: 0.2, band: 'moderate', indicator: 'warning' },
      factors: r.factors,
      created: r.created,
    });
    expect(issuedFromRecord(r, { ...expected, patientId: 'p2' })).toBeUndefined();
    expect(issuedFromRecord(r, { ...expected, serviceId: 'vigil-heart-disease' })).toBeUndefined();
    expect(issuedFromRecord(r, { ...expected, model: { id: 'deterioration', version: '1.0.1' } })).toBeUndefined();
    const { prediction: _omitted, ...unscored } = r;
    expect(issuedFromRecord(unscored, expected)).toBeUndefined();
  });
});
