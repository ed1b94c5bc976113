/**
 * Both replay-cache back ends behave alike: first use true, reuse before expiry false, reuse after expiry
 * true. The SQLite one also remembers across a reopen (a restart must not re-open the replay window).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { MemoryReplayCache, replayKey, type ReplayCache } from '../../src/smart/replay-cache.js';
import { openSecurityDatabase, SqliteReplayCache } from '../../src/storage/replay-cache-sqlite.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-replay-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const backEnds: Array<[string, () => ReplayCache]> = [
  ['memory', () => new MemoryReplayCache()],
  ['sqlite', () => new SqliteReplayCache(':memory:')],
];

describe.each(backEnds)('%s replay cache', (_name, open) => {
  it('accepts a key once until it expires', async () => {
    const cache = open();
    expect(await cache.firstUse('a', 1100, 1000)).toBe(true);
    expect(await cache.firstUse('a', 1100, 1050)).toBe(false);
    expect(await cache.firstUse('b', 1100, 1050)).toBe(true);
    // Past its expiry the token is refused on exp anyway; the key may be taken again.
    expect(await cache.firstUse('a', 1300, 1101)).toBe(true);
    expect(await cache.firstUse('a', 1300, 1200)).toBe(false);
    cache.close?.();
  });

  it('keeps issuers apart', async () => {
    const cache = open();
    expect(await cache.firstUse(replayKey('https://a.example', 'j1'), 2000, 1000)).toBe(true);
    expect(await cache.firstUse(replayKey('https://b.example', 'j1'), 2000, 1000)).toBe(true);
    expect(await cache.firstUse(replayKey('https://a.example', 'j1'), 2000, 1000)).toBe(false);
    cache.close?.();
  });
});

describe('SqliteReplayCache', () => {
  it('remembers across a restart', () => {
    const first = new SqliteReplayCache(tmp);
    expect(first.firstUse('jti-1', 5000, 1000)).toBe(true);
    first.close();
    const second = new SqliteReplayCache(tmp);
    expect(second.firstUse('jti-1', 5000, 1001)).toBe(false);
    second.close();
  });

  it('sweeps expired rows as it goes, so the table holds only live tokens', () => {
    const db = openSecurityDatabase(':memory:');
    const cache = new SqliteReplayCache(db);
    const rows = () => (db.prepare('SELECT count(*) AS n FROM token_replay').get() as { n: number }).n;
    for (let i = 0; i < 400; i++) cache.firstUse(`old${i}`, 10, 5);
    expect(rows()).toBe(400);
    for (let i = 0; i < 600; i++) cache.firstUse(`new${i}`, 1000, 20);
    expect(rows()).toBeLessThan(1000);
    expect(rows()).toBeGreaterThanOrEqual(600);
    db.close();
  });
});

describe('MemoryReplayCache', () => {
  it('fails closed when full of live keys', () => {
    const cache = new MemoryReplayCache({ maxEntries: 2 });
    expect(cache.firstUse('a', 100, 0)).toBe(true);
    expect(cache.firstUse('b', 100, 0)).toBe(true);
    expect(cache.firstUse('c', 100, 0)).toBe(false);
    // Once the earlier keys expire there is room again.
    expect(cache.firstUse('c', 200, 150)).toBe(true);
    expect(cache.size).toBe(1);
  });
});
