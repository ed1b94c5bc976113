/**
 * FeedbackStore (CDS Hooks 2.0.1 §Feedback) on every back end (backends.ts): durable across a reopen,
 * atomic per POST, filters as values, and — what several replicas rely on — one store sees what another
 * wrote. SQLite-only file details at the end.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FEEDBACK_DB_FILE, openFeedbackStore } from '../../src/storage/feedback-store.js';
import type { FeedbackEntry } from '../../src/cds-hooks/types.js';
import { BadRequestError } from '../../src/errors.js';
import { storageBackends, type StorageTarget } from './backends.js';

const accepted: FeedbackEntry = {
  card: 'card-1',
  outcome: 'accepted',
  acceptedSuggestions: [{ id: 'sugg-1' }],
  outcomeTimestamp: '2025-01-02T03:04:05Z',
};
const overridden: FeedbackEntry = {
  card: 'card-2',
  outcome: 'overridden',
  overrideReason: { reason: { system: 'http://example.org/reasons', code: 'r1', display: 'Patient refused' }, userComment: 'Discussed' },
  outcomeTimestamp: '2025-01-02T03:05:00Z',
};

describe.each(await storageBackends())('$name feedback store', (backend) => {
  let target: StorageTarget;
  beforeEach(async () => {
    target = await backend.create();
  });
  afterEach(async () => {
    await target.dispose();
  });

  it('keeps feedback across close and reopen, in arrival order, with optional fields only when given', async () => {
    const first = target.openFeedback();
    await first.add('svc-a', [accepted, overridden], { receivedAt: '2025-01-02T03:06:00.000Z', hookInstance: 'hi-1' });
    await first.close();

    const second = target.openFeedback();
    expect(await second.list()).toEqual([
      { id: 1, serviceId: 'svc-a', ...accepted, receivedAt: '2025-01-02T03:06:00.000Z', hookInstance: 'hi-1' },
      { id: 2, serviceId: 'svc-a', ...overridden, receivedAt: '2025-01-02T03:06:00.000Z', hookInstance: 'hi-1' },
    ]);
    await second.add('svc-b', [{ ...accepted, card: 'card-3' }], { receivedAt: '2025-01-02T03:07:00.000Z' });
    const svcB = await second.list({ serviceId: 'svc-b' });
    expect(svcB).toHaveLength(1);
    expect(svcB[0]).not.toHaveProperty('hookInstance');
    expect(svcB[0]).not.toHaveProperty('overrideReason');
    expect((await second.list({ card: 'card-2' })).map((f) => f.outcome)).toEqual(['overridden']);
    expect(await second.list({ serviceId: 'svc-a', card: 'card-3' })).toEqual([]);
    await second.close();
    await second.close(); // idempotent
  });

  it('stores a batch atomically', async () => {
    const store = target.openFeedback();
    const bad = { ...overridden, outcome: 'maybe' } as unknown as FeedbackEntry;
    // (SqliteError is not an Error of the test's realm, so no rejects.toThrow here.)
    expect(await store.add('svc', [accepted, bad], { receivedAt: '2025-01-01T00:00:00Z' }).then(() => 'stored', () => 'refused')).toBe('refused');
    expect(await store.list()).toEqual([]);
    expect(await target.count('feedback')).toBe(0);
  });

  it('does not interpret filter values as SQL', async () => {
    const store = target.openFeedback();
    await store.add('svc', [accepted], { receivedAt: '2025-01-01T00:00:00Z' });
    expect(await store.list({ serviceId: "svc' OR '1'='1" })).toEqual([]);
    expect(await store.list({ card: "x' OR 1=1 --" })).toEqual([]);
  });

  it('shows each store what the other wrote (two replicas), with distinct increasing ids', async () => {
    const a = target.openFeedback();
    const b = target.openFeedback();
    await Promise.all(
      Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).add('svc', [{ ...accepted, card: `c${i}` }], { receivedAt: '2025-01-01T00:00:00Z' })),
    );
    for (const store of [a, b]) {
      const all = await store.list();
      expect(all.map((f) => f.card).sort()).toEqual(Array.from({ length: 10 }, (_, i) => `c${i}`).sort());
      expect(new Set(all.map((f) => f.id)).size).toBe(10);
      expect(all.map((f) => f.id)).toEqual([...all.map((f) => f.id)].sort((x, y) => x - y));
    }
  });

  it('refuses a NUL character in a text column with BadRequestError (400), storing nothing', async () => {
    const store = target.openFeedback();
    await expect(store.add('svc', [accepted, { ...overridden, card: 'bad\u0000card' }], { receivedAt: '2025-01-01T00:00:00Z' })).rejects.toBeInstanceOf(BadRequestError);
    expect(await store.list()).toEqual([]);
    expect(await store.list({ card: 'bad\u0000card' })).toEqual([]);
  });

  it('keeps JSON fields exactly, including characters that need escaping', async () => {
    const store = target.openFeedback();
    const tricky: FeedbackEntry = { ...overridden, overrideReason: { userComment: 'quote " backslash \\ emoji 🩺 newline\n tab\t NUL\u0000' } };
    await store.add('svc', [tricky], { receivedAt: '2025-01-01T00:00:00Z' });
    expect((await store.list())[0]!.overrideReason).toEqual(tricky.overrideReason);
  });
});

describe('SQLite feedback file', () => {
  it('creates the data directory and the database file', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-feedback-'));
    try {
      const dir = path.join(root, 'nested', 'data');
      const store = openFeedbackStore(dir);
      await store.add('svc', [accepted], { receivedAt: '2025-01-02T03:04:06.000Z' });
      await store.close();
      expect(fs.existsSync(path.join(dir, FEEDBACK_DB_FILE))).toBe(true);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
