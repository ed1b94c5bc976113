/**
 * The schedule both retention jobs share (explanation records, HL7 messages): one run at start-up and then
 * every interval on an unref'd timer (it never keeps the process alive), never two runs at once (a slow
 * run is not stacked up by the next tick), and a failed run logged without detail and retried on the next
 * tick (a database that is down only costs space meanwhile).
 */
import type { Logger } from '../logger.js';

export const DAY_MS = 86_400_000;

export interface PeriodicPurge<T> {
  /** One run now, or the one already in flight. */
  purge(): Promise<T>;
  /** Stops the timer; resolves once a run in flight has finished. */
  stop(): Promise<void>;
}

export interface PeriodicPurgeOptions<T> {
  run: () => Promise<T>;
  /** Default one hour. */
  intervalMs?: number;
  /** What a failed tick resolves to. */
  nothing: T;
  logger?: Logger;
  /** Log message for a failed run. */
  failure: string;
  /** Called by stop() before waiting for the run in flight (e.g. to end a batch loop early). */
  onStop?: () => void;
}

export function startPeriodicPurge<T>(options: PeriodicPurgeOptions<T>): PeriodicPurge<T> {
  let running: Promise<T> | undefined;
  const purge = (): Promise<T> => {
    running ??= options.run().finally(() => {
      running = undefined;
    });
    return running;
  };
  const quietly = () =>
    purge().catch((err: unknown) => {
      options.logger?.warn({ errName: err instanceof Error ? err.name : typeof err, errCode: (err as { code?: unknown } | undefined)?.code }, options.failure);
      return options.nothing;
    });
  const timer = setInterval(quietly, options.intervalMs ?? 3_600_000);
  timer.unref();
  void quietly();
  return {
    purge,
    async stop() {
      options.onStop?.();
      clearInterval(timer);
      await running?.catch(() => undefined);
    },
  };
}
