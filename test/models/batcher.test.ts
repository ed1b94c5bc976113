import { describe, expect, it } from '@jest/globals';
import { MicroBatcher } from '../../src/models/batcher.js';

describe('MicroBatcher', () => {
  it('merges concurrent calls into batches of at most maxBatch, answering each caller in order', async () => {
    const sizes: number[] = [];
    const b = new MicroBatcher<number, number>({ maxBatch: 4, maxWaitMs: 50, run: (xs) => (sizes.push(xs.length), xs.map((x) => x * 10)) });
    const out = await Promise.all(Array.from({ length: 10 }, (_, i) => b.submit(i)));
    expect(out).toEqual([0, 10, 20, 30, 40, 50, 60, 70, 80, 90]);
    expect(sizes).toEqual([4, 4, 2]);
    expect(b.stats).toEqual({ batches: 3, items: 10, largestBatch: 4 });
  });

  it('a lone call waits at most maxWaitMs', async () => {
    const b = new MicroBatcher<number, number>({ maxBatch: 64, maxWaitMs: 5, run: (xs) => xs });
    const started = Date.now();
    await expect(b.submit(7)).resolves.toBe(7);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('a failing batch rejects every call in it and not later ones', async () => {
    let fail = true;
    const b = new MicroBatcher<number, number>({
      maxBatch: 2,
      maxWaitMs: 1,
      run: (xs) => {
        if (fail) throw new Error('boom');
        return xs;
      },
    });
    const first = [b.submit(1), b.submit(2)];
    await expect(Promise.all(first)).rejects.toThrow('boom');
    await expect(first[1]).rejects.toThrow('boom');
    fail = false;
    await expect(b.submit(3)).resolves.toBe(3);
  });

  it('drain waits for queued and running batches', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    const b = new MicroBatcher<number, number>({ maxBatch: 8, maxWaitMs: 1000, run: async (xs) => (await gate, xs) });
    const p = b.submit(1);
    let drained = false;
    const d = b.drain().then(() => (drained = true));
    await new Promise((r) => setTimeout(r, 10));
    expect(drained).toBe(false);
    expect(b.pending).toBe(1);
    release();
    await d;
    await expect(p).resolves.toBe(1);
    expect(b.pending).toBe(0);
  });
});
