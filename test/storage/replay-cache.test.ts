/**
 * jti replay cache on every durable back end (backends.ts): first use true, reuse before expiry false,
 * reuse after expiry true, issuers apart, remembered across a reopen — and, what several replicas need,
 * exactly one of many concurrent first uses of one key wins, across caches on the same database.
 * (test/smart/replay-cache.test.ts covers the in-memory cache.)
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { replayKey } from '../../src/smart/replay-cache.js';
import { PgReplayCache } from '../../src/storage/replay-cache-pg.js';
import { storageBackends, type StorageTarget } from './backends.js';
import { createTestSchema, pgAvailable } from './pg-test-db.js';

describe.each(await storageBackends())('$name replay cache', (backend) => {
  let target: StorageTarget;
  beforeEach(async () => {
    target = await backend.create();
  });
  afterEach(async () => {
    await target.dispose();
  });

  it('accepts a key once until it expires', async () => {
    const cache = target.openReplayCache();
    expect(await cache.firstUse('a', 1100, 1000)).toBe(true);
    expect(await cache.firstUse('a', 1100, 1050)).toBe(false);
    expect(await cache.firstUse('b', 1100, 1050)).toBe(true);
    // Past its expiry the token is refused on exp anyway; the key may be taken again.
    expect(await cache.firstUse('a', 1300, 1101)).toBe(true);
    expect(await cache.firstUse('a', 1300, 1200)).toBe(false);
  });

  it('keeps issuers apart (keys with NUL separators included)', async () => {
    const cache = target.openReplayCache();
    expect(await cache.firstUse(replayKey('https://a.example', 'j1'), 2000, 1000)).toBe(true);
    expect(await cache.firstUse(replayKey('https://b.example', 'j1'), 2000, 1000)).toBe(true);
    expect(await cache.firstUse(replayKey('https://a.example', 'j1'), 2000, 1000)).toBe(false);
  });

  it('remembers across a restart', async () => {
    expect(await target.openReplayCache().firstUse('jti-1', 5000, 1000)).toBe(true);
    expect(await target.openReplayCache().firstUse('jti-1', 5000, 1001)).toBe(false);
  });

  it('lets exactly one of many concurrent first uses win, across two caches on one database', async () => {
    const a = target.openReplayCache();
    const b = target.openReplayCache();
    const results = await Promise.all(Array.from({ length: 16 }, (_, i) => (i % 2 ? a : b).firstUse('raced', 9000, 1000)));
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await target.count('token_replay')).toBe(1);
  });
});

(await pgAvailable() ? describe : describe.skip)('PgReplayCache sweep', () => {
  it('deletes expired rows only', async () => {
    const schema = await createTestSchema();
    try {
      const pool = schema.pool();
      const cache = new PgReplayCache(pool, { sweepIntervalMs: 0 });
      for (let i = 0; i < 5; i++) await cache.firstUse(`old${i}`, 10, 5);
      for (let i = 0; i < 3; i++) await cache.firstUse(`new${i}`, 1000, 20);
      expect(await cache.sweep(20)).toBe(5);
      const { rows } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM token_replay');
      expect(rows[0]!.n).toBe('3');
      expect(await cache.firstUse('new0', 1000, 30)).toBe(false);
      cache.close();
      // Waiting for the WAL flush changes nothing but durability; fractional NumericDates are fine.
      const durable = new PgReplayCache(pool, { sweepIntervalMs: 0, synchronousCommit: true });
      expect(await durable.firstUse('new0', 1000, 30)).toBe(false);
      expect(await durable.firstUse('frac', 1000.5, 30.2)).toBe(true);
      expect(await cache.firstUse('frac', 1000, 1000.7)).toBe(false);
      expect(await cache.firstUse('frac', 2000, 1001)).toBe(true);
      durable.close();
    } finally {
      await schema.drop();
    }
  });
});
