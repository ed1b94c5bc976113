/**
 * The sleep/wake/idle mechanics of a queue-draining loop (the inbound worker and the outbound sender):
 * the loop sleeps until new work is announced or a due time passes, and callers (tests, graceful
 * shutdown) can wait for the next moment the loop finds nothing to do.
 *
 * Announcements are counted: a look-up that began before an announcement and found nothing proves
 * nothing (the row may have been committed while the look-up was in flight), so the loop compares
 * `generation` before and after and looks again instead of sleeping or reporting idle.
 */
export class WakeSignal {
  private wakeSleeper: (() => void) | undefined;
  private idleWaiters: Array<() => void> = [];
  private announced = 0;

  /** Counts announcements; take it before a look-up and compare after with `announcedSince`. */
  get generation(): number {
    return this.announced;
  }

  announcedSince(generation: number): boolean {
    return generation !== this.announced;
  }

  /** New work was stored: ends the current sleep, and invalidates look-ups already in flight. */
  notify(): void {
    this.announced++;
    this.wake();
  }

  /** Ends the current sleep without announcing work (stopping the loop). */
  wake(): void {
    this.wakeSleeper?.();
  }

  /** Resolves after `ms` (never, when undefined) or at the next `notify`/`wake`, whichever is first. */
  sleep(ms: number | undefined): Promise<void> {
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      this.wakeSleeper = () => {
        this.wakeSleeper = undefined;
        if (timer) clearTimeout(timer);
        resolve();
      };
      if (ms !== undefined) timer = setTimeout(() => this.wakeSleeper?.(), Math.max(0, ms));
    });
  }

  /** Resolves when the loop next reports idle, without prompting it to look. */
  nextIdle(): Promise<void> {
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Makes the loop look again and resolves once that look (or a later one) finds nothing to do. */
  lookAgainUntilIdle(): Promise<void> {
    const idle = this.nextIdle();
    this.notify();
    return idle;
  }

  /** The loop found nothing left to do: releases everyone waiting in `nextIdle`. */
  reportIdle(): void {
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }
}
