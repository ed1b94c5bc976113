/**
 * A keyed job queue drained one job at a time, with a macrotask yield before each, so pending hook calls
 * and I/O run between jobs. A key queued again while waiting is kept once, in its place; one queued
 * while it runs is run again afterwards. Shared by the deterioration and ECG precompute queues.
 */
export class SerialQueue<J> {
  private readonly jobs = new Map<string, J>();
  private running: Promise<void> | undefined;
  private closed = false;

  /** `run` must not throw (each caller counts and logs its own failures). */
  constructor(private readonly run: (job: J) => Promise<unknown>) {}

  add(key: string, job: J): void {
    if (this.closed) return;
    // A key already waiting keeps its place (Map.set), with the newest job.
    this.jobs.set(key, job);
    this.kick();
  }

  get size(): number {
    return this.jobs.size;
  }

  /** Resolves when the queue is empty. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  /** Drops what is queued; the job running finishes. */
  async close(): Promise<void> {
    this.closed = true;
    this.jobs.clear();
    await this.idle();
  }

  private kick(): void {
    if (this.running || this.closed) return;
    this.running = this.drain().finally(() => {
      this.running = undefined;
      if (this.jobs.size && !this.closed) this.kick();
    });
  }

  private async drain(): Promise<void> {
    while (this.jobs.size && !this.closed) {
      await new Promise((resolve) => setImmediate(resolve));
      const next = this.jobs.entries().next().value;
      if (!next) return;
      this.jobs.delete(next[0]);
      await this.run(next[1]);
    }
  }
}
