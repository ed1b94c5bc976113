/**
 * Group commit for append-only records (audit events): items added within `flushMs` are written by one
 * `write(batch)` call — one transaction on SQLite, one multi-row INSERT on PostgreSQL — so a busy
 * instance pays one durable commit per few milliseconds instead of one per request.
 *
 * A failed write loses nothing: the batch goes back in front of whatever arrived meanwhile and is retried
 * with exponential back-off (up to `retryMaxMs`) until it succeeds or someone calls flush() again.
 * Writes never overlap, so the order of items is kept. close() flushes, retrying a failing write briefly.
 */
import { StoreUnavailableError } from '../errors.js';

export interface GroupCommitOptions {
  /** Longest an item waits before its batch is written. 0 writes each at once. */
  flushMs: number;
  /** Longest pause between retries of a failed batch. Default 5000 ms. */
  retryMaxMs?: number;
  /** Told about each failed write (already retried later). */
  onError?: (err: unknown, pending: number) => void;
  /**
   * Most items held while writes fail (a long outage). Past it add() throws StoreUnavailableError — the
   * caller logs the loss — instead of growing until the process runs out of memory. Default 100,000.
   */
  maxPending?: number;
}

export class GroupCommit<T> {
  readonly #write: (batch: T[]) => Promise<void> | void;
  readonly #options: GroupCommitOptions;
  #pending: T[] = [];
  #timer: NodeJS.Timeout | undefined;
  #inFlight: Promise<void> | undefined;
  #failures = 0;
  #closed = false;

  constructor(write: (batch: T[]) => Promise<void> | void, options: GroupCommitOptions) {
    this.#write = write;
    this.#options = options;
  }

  /** Items not yet written. */
  get pending(): number {
    return this.#pending.length;
  }

  add(item: T): void {
    if (this.#pending.length >= (this.#options.maxPending ?? 100_000)) throw new StoreUnavailableError();
    this.#pending.push(item);
    if (this.#options.flushMs === 0) this.#flushInBackground();
    else if (!this.#timer && this.#failures === 0) this.#schedule(this.#options.flushMs);
  }

  /** Writes everything added so far; rejects (keeping the items for a retry) when the write fails. */
  async flush(): Promise<void> {
    while (this.#inFlight) await this.#inFlight.catch(() => undefined);
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#pending.length === 0) return;
    const batch = this.#pending;
    this.#pending = [];
    // A synchronous writer (better-sqlite3) has written by the time this call returns.
    const attempt = (async () => {
      try {
        await this.#write(batch);
        this.#failures = 0;
      } catch (err) {
        this.#pending = batch.concat(this.#pending);
        this.#failures++;
        this.#options.onError?.(err, this.#pending.length);
        const backoff = Math.min(Math.max(this.#options.flushMs, 50) * 2 ** this.#failures, this.#options.retryMaxMs ?? 5000);
        if (!this.#closed) this.#schedule(backoff);
        throw err;
      }
    })();
    this.#inFlight = attempt;
    try {
      await attempt;
    } finally {
      if (this.#inFlight === attempt) this.#inFlight = undefined;
    }
  }

  /**
   * Flushes and stops the timers. A failing write is tried `attempts` times in all (default 3, pausing
   * 100 ms, 200 ms…: a database restarting during a rolling deploy); if the last fails, close() rejects
   * and the items are lost with the process.
   */
  async close(attempts = 3): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.flush();
        return;
      } catch (err) {
        if (attempt >= attempts) throw err;
        await new Promise((resolve) => setTimeout(resolve, 100 * 2 ** (attempt - 1)));
      }
    }
  }

  #schedule(ms: number): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#flushInBackground();
    }, ms);
  }

  #flushInBackground(): void {
    // Failures were reported through onError and a retry is scheduled.
    this.flush().catch(() => undefined);
  }
}
