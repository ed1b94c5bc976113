/**
 * Micro-batching: concurrent predict calls for one model are merged into one forward pass. A batch is
 * run when it reaches maxBatch or when its first call has waited maxWaitMs, whichever comes first, so
 * a lone request pays at most maxWaitMs extra latency.
 */

export interface MicroBatcherOptions<I, O> {
  maxBatch: number;
  maxWaitMs: number;
  /** Runs one batch; must return one output per input, in order. */
  run(inputs: I[]): Promise<O[]> | O[];
}

interface Pending<I, O> {
  input: I;
  resolve(output: O): void;
  reject(err: unknown): void;
}

export interface BatcherStats {
  batches: number;
  items: number;
  largestBatch: number;
}

export class MicroBatcher<I, O> {
  private queue: Pending<I, O>[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running = 0;
  private idleWaiters: Array<() => void> = [];
  readonly stats: BatcherStats = { batches: 0, items: 0, largestBatch: 0 };

  constructor(private readonly options: MicroBatcherOptions<I, O>) {
    if (options.maxBatch < 1) throw new Error('maxBatch must be at least 1');
  }

  submit(input: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ input, resolve, reject });
      if (this.queue.length >= this.options.maxBatch) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), this.options.maxWaitMs);
    });
  }

  /** Calls queued or running right now. */
  get pending(): number {
    return this.queue.length + this.running;
  }

  /** Resolves once every call submitted so far has been answered. */
  async drain(): Promise<void> {
    if (this.queue.length) this.flush();
    if (this.pending === 0) return;
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  private flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    while (this.queue.length) {
      const batch = this.queue.splice(0, this.options.maxBatch);
      void this.runBatch(batch);
    }
  }

  private async runBatch(batch: Pending<I, O>[]): Promise<void> {
    this.running += batch.length;
    this.stats.batches++;
    this.stats.items += batch.length;
    this.stats.largestBatch = Math.max(this.stats.largestBatch, batch.length);
    try {
      const outputs = await this.options.run(batch.map((p) => p.input));
      if (outputs.length !== batch.length) throw new Error(`batch returned ${outputs.length} outputs for ${batch.length} inputs`);
      batch.forEach((p, i) => p.resolve(outputs[i]!));
    } catch (err) {
      batch.forEach((p) => p.reject(err));
    } finally {
      this.running -= batch.length;
      if (this.pending === 0) this.idleWaiters.splice(0).forEach((w) => w());
    }
  }
}
