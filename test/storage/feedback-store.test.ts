import { afterEach, describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FEEDBACK_DB_FILE, openFeedbackStore } from '../../src/storage/feedback-store.js';
import type { FeedbackEntry } from '../../src/cds-hooks/types.js';

const dirs: string[] = [];
function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-feedback-'));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

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

describe('openFeedbackStore', () => {
  it('creates the data directory and a WAL database file', () => {
    const dir = path.join(tempDir(), 'nested', 'data');
    const store = openFeedbackStore(dir);
    store.add('svc', [accepted], { receivedAt: '2025-01-02T03:04:06.000Z' });
    store.close();
    expect(fs.existsSync(path.join(dir, FEEDBACK_DB_FILE))).toBe(true);
  });

  it('keeps feedback across close and reopen', () => {
    const dir = tempDir();
    const first = openFeedbackStore(dir);
    first.add('svc-a', [accepted, overridden], { receivedAt: '2025-01-02T03:06:00.000Z', hookInstance: 'hi-1' });
    first.close();

    const second = openFeedbackStore(dir);
    const all = second.list();
    expect(all).toEqual([
      { id: 1, serviceId: 'svc-a', ...accepted, receivedAt: '2025-01-02T03:06:00.000Z', hookInstance: 'hi-1' },
      { id: 2, serviceId: 'svc-a', ...overridden, receivedAt: '2025-01-02T03:06:00.000Z', hookInstance: 'hi-1' },
    ]);
    second.add('svc-b', [{ ...accepted, card: 'card-3' }], { receivedAt: '2025-01-02T03:07:00.000Z' });
    expect(second.list({ serviceId: 'svc-b' })).toHaveLength(1);
    expect(second.list({ serviceId: 'svc-b' })[0]).not.toHaveProperty('hookInstance');
    expect(second.list({ card: 'card-2' }).map((f) => f.outcome)).toEqual(['overridden']);
    expect(second.list({ serviceId: 'svc-a', card: 'card-3' })).toEqual([]);
    second.close();
    second.close(); // idempotent
  });

  it('stores a batch atomically', () => {
    const store = openFeedbackStore(':memory:');
    const bad = { ...overridden, outcome: 'maybe' } as unknown as FeedbackEntry;
    expect(() => store.add('svc', [accepted, bad], { receivedAt: '2025-01-01T00:00:00Z' })).toThrow();
    expect(store.list()).toEqual([]);
    store.close();
  });

  it('does not interpret filter values as SQL', () => {
    const store = openFeedbackStore(':memory:');
    store.add('svc', [accepted], { receivedAt: '2025-01-01T00:00:00Z' });
    expect(store.list({ serviceId: "svc' OR '1'='1" })).toEqual([]);
    store.close();
  });
});
