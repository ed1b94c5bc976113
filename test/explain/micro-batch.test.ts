import { MicroBatcher, type Batched } from '../../src/explain/micro-batch.js';
import { GatewayTimeoutError } from '../../src/errors.js';

interface Req {
  n: number;
  signal?: AbortSignal;
}

function recorder(fail = false): { batches: Array<[string, number[]]>; run: (key: string, batch: Batched<Req, number>[]) => void } {
  const batches: Array<[string, number[]]> = [];
  return {
    batches,
    run(key, batch) {
      batches.push([key, batch.map((b) => b.request.n)]);
      if (fail) throw new Error('boom');
      batch.forEach((b) => b.resolve(b.request.n * 10));
    },
  };
}

describe('MicroBatcher', () => {
  it('merges concurrent requests per key and answers each in order', async () => {
    const r = recorder();
    const batcher = new MicroBatcher<string, Req, number>({ maxWaitMs: 20, maxBatch: 8, run: r.run });
    const answers = await Promise.all([batcher.add('a', { n: 1 }), batcher.add('b', { n: 2 }), batcher.add('a', { n: 3 })]);
    expect(answers).toEqual([10, 20, 30]);
    expect(r.batches).toEqual([
      ['a', [1, 3]],
      ['b', [2]],
    ]);
  });

  it('runs a batch as soon as it is full, without waiting', async () => {
    const r = recorder();
    const batcher = new MicroBatcher<string, Req, number>({ maxWaitMs: 60_000, maxBatch: 2, run: r.run });
    await expect(Promise.all([batcher.add('a', { n: 1 }), batcher.add('a', { n: 2 })])).resolves.toEqual([10, 20]);
  });

  it('rejects requests abandoned while waiting and computes only the rest', async () => {
    const r = recorder();
    const batcher = new MicroBatcher<string, Req, number>({ maxWaitMs: 20, maxBatch: 8, run: r.run });
    const gone = new AbortController();
    const abandoned = batcher.add('a', { n: 1, signal: gone.signal });
    const kept = batcher.add('a', { n: 2 });
    gone.abort();
    await expect(abandoned).rejects.toBeInstanceOf(GatewayTimeoutError);
    await expect(kept).resolves.toBe(20);
    expect(r.batches).toEqual([['a', [2]]]);
  });

  it('rejects every request of a batch whose run throws', async () => {
    const batcher = new MicroBatcher<string, Req, number>({ maxWaitMs: 0, maxBatch: 8, run: recorder(true).run });
    await expect(batcher.add('a', { n: 1 })).rejects.toThrow('boom');
  });
});
