import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { openSqliteFile } from '../../src/storage/sqlite.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-sqlite-open-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

describe('openSqliteFile', () => {
  it('creates the data directory and the file, in WAL with a 5 s busy timeout and the synchronous level asked for', () => {
    const dir = path.join(root, 'a', 'b');
    const db = openSqliteFile(dir, 'x.sqlite', { synchronous: 'FULL' });
    try {
      expect(fs.existsSync(path.join(dir, 'x.sqlite'))).toBe(true);
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(db.pragma('synchronous', { simple: true })).toBe(2);
      expect(db.pragma('busy_timeout', { simple: true })).toBe(5000);
    } finally {
      db.close();
    }
    const normal = openSqliteFile(dir, 'y.sqlite', { synchronous: 'NORMAL' });
    expect(normal.pragma('synchronous', { simple: true })).toBe(1);
    normal.close();
  });

  it('opens an in-memory database for ":memory:" and writes nothing to disk', () => {
    const before = fs.readdirSync(process.cwd());
    const db = openSqliteFile(':memory:', 'x.sqlite', { synchronous: 'FULL' });
    db.exec('CREATE TABLE t (x INTEGER)');
    expect(db.memory).toBe(true);
    db.close();
    expect(fs.readdirSync(process.cwd())).toEqual(before);
  });
});
