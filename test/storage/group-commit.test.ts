/** GroupCommit (src/storage/group-commit.ts): batching, no loss and no reordering when a write fails. */
import { describe, expect, it } from '@jest/globals';
import { StoreUnavailableError } from '../../src/errors.js';
import { GroupCommit } from '../../src/storage/group-commit.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('GroupCommit', () => {
  it('writes what arrives within flushMs as one batch', async () => {
    const batches: number[][] = [];
    const commits = new GroupCommit<number>((b) => void batches.push(b), { flushMs: 30 });
    for (let i = 0; i < 4; i++) commits.add(i);
    expect(batches).toEqual([]);
    await sleep(150);
    expect(batches).toEqual([[0, 1, 2, 3]]);
  });

  it('keeps a failed batch, in order, ahead of later items, and retries it by itself', async () => {
    const written: number[] = [];
    let failuresLeft = 2;
    const errors: number[] = [];
    const commits = new GroupCommit<number>(
      async (batch) => {
        await sleep(1);
        if (failuresLeft-- > 0) throw new Error('database down');
        written.push(...batch);
      },
      { flushMs: 5, retryMaxMs: 40, onError: (_err, pending) => errors.push(pending) },
    );
    commits.add(1);
    commits.add(2);
    await expect(commits.flush()).rejects.toThrow('database down');
    commits.add(3);
    expect(commits.pending).toBe(3);
    const deadline = Date.now() + 3000;
    while (written.length < 3 && Date.now() < deadline) await sleep(10);
    expect(written).toEqual([1, 2, 3]);
    expect(commits.pending).toBe(0);
    expect(errors.length).toBe(2);
    await commits.close();
  });

  it('never runs two writes at once', async () => {
    let running = 0;
    let most = 0;
    const commits = new GroupCommit<number>(
      async () => {
        running++;
        most = Math.max(most, running);
        await sleep(5);
        running--;
      },
      { flushMs: 0 },
    );
    for (let i = 0; i < 20; i++) commits.add(i);
    await Promise.all([commits.flush(), commits.flush(), commits.flush()]);
    await commits.close();
    expect(most).toBe(1);
    expect(commits.pending).toBe(0);
  });

  it('close() retries a failing write a few times before giving up', async () => {
    let failuresLeft = 2;
    const written: number[] = [];
    const commits = new GroupCommit<number>(
      (batch) => {
        if (failuresLeft-- > 0) throw new Error('restarting');
        written.push(...batch);
      },
      { flushMs: 60_000 },
    );
    commits.add(7);
    await commits.close();
    expect(written).toEqual([7]);

    const hopeless = new GroupCommit<number>(() => {
      throw new Error('gone');
    }, { flushMs: 60_000 });
    hopeless.add(1);
    await expect(hopeless.close(2)).rejects.toThrow('gone');
    expect(hopeless.pending).toBe(1);
  });

  it('refuses new items past maxPending while writes fail, instead of growing without bound', async () => {
    const commits = new GroupCommit<number>(() => {
      throw new Error('down');
    }, { flushMs: 60_000, maxPending: 3 });
    for (let i = 0; i < 3; i++) commits.add(i);
    expect(() => commits.add(3)).toThrow(StoreUnavailableError);
    expect(commits.pending).toBe(3);
    await commits.close(1).catch(() => undefined);
  });
});
