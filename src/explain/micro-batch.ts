/**
 * Micro-batching of explanation requests: concurrent requests with the same key (a network, a model)
 * wait up to `maxWaitMs` for each other, or until `maxBatch` are queued, and are then handed to `run`
 * together so they share gradient calls. A request whose hook deadline passed while it waited (its
 * signal aborted) is rejected with GatewayTimeoutError instead of being computed for nobody.
 */
import { GatewayTimeoutError } from '../errors.js';

export interface Batched<Req, Res> {
  request: Req;
  resolve(value: Res): void;
  reject(reason: unknown): void;
}

export interface MicroBatcherOptions<K, Req, Res> {
  /** Longest a request waits for others with its key; 0 = run at once. */
  maxWaitMs: number;
  /** Most requests in one batch (at least 1). */
  maxBatch: number;
  /** Computes one batch and settles each item; a throw rejects every item not yet settled. */
  run(key: K, batch: Batched<Req, Res>[]): void | Promise<void>;
}

export class MicroBatcher<K, Req extends { signal?: AbortSignal }, Res> {
  private readonly queues = new Map<K, { items: Batched<Req, Res>[]; timer?: NodeJS.Timeout }>();

  constructor(private readonly options: MicroBatcherOptions<K, Req, Res>) {}

  add(key: K, request: Req): Promise<Res> {
    return new Promise<Res>((resolve, reject) => {
      let queue = this.queues.get(key);
      if (!queue) {
        queue = { items: [] };
        this.queues.set(key, queue);
      }
      queue.items.push({ request, resolve, reject });
      if (queue.items.length >= this.options.maxBatch || this.options.maxWaitMs === 0) void this.flush(key);
      else queue.timer ??= setTimeout(() => void this.flush(key), this.options.maxWaitMs);
    });
  }

  private async flush(key: K): Promise<void> {
    const queue = this.queues.get(key);
    if (!queue) return;
    this.queues.delete(key);
    clearTimeout(queue.timer);
    const live = queue.items.filter((p) => {
      if (!p.request.signal?.aborted) return true;
      p.reject(new GatewayTimeoutError('explanation abandoned at the hook deadline'));
      return false;
    });
    if (!live.length) return;
    try {
      await this.options.run(key, live);
    } catch (err) {
      live.forEach((p) => p.reject(err));
    }
  }
}
