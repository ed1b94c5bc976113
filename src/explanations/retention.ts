/**
 * Retention of explanation records (EXPLANATION_RETENTION_DAYS; issue 9 §State that scales): records hold
 * patient details, and a card's explanation link is only useful for a while after the card. Records older
 * than the retention period are deleted at start-up and then every hour. Every replica runs it; the purge is
 * an idempotent DELETE by age, so replicas racing on it only delete each row once between them.
 */
import type { Logger } from '../logger.js';
import type { ExplanationStore } from './store.js';

const DAY_MS = 86_400_000;

export interface ExplanationRetentionOptions {
  store: Pick<ExplanationStore, 'purgeOlderThan'>;
  /** Days a record is kept; 0 keeps records forever (nothing is started). */
  retentionDays: number;
  /** Default one hour. */
  intervalMs?: number;
  /** Told how many records each purge deleted (the metrics counter). */
  onPurged?: (count: number) => void;
  logger?: Logger;
  now?: () => number;
}

export interface ExplanationRetention {
  /** One purge now; resolves to how many records it deleted. */
  purge(): Promise<number>;
  /** Stops the timer; resolves once an in-flight purge has finished (close the store after). */
  stop(): Promise<void>;
}

/** The instant before which records are purged at `now`. */
export function retentionCutoff(now: number, retentionDays: number): Date {
  return new Date(now - retentionDays * DAY_MS);
}

/** Purges now (not awaited) and every `intervalMs`, on an unref'd timer; returns undefined when retention is off. */
export function startExplanationRetention(options: ExplanationRetentionOptions): ExplanationRetention | undefined {
  const { store, retentionDays, logger } = options;
  if (retentionDays <= 0) return undefined;
  const now = options.now ?? Date.now;
  let running: Promise<number> | undefined;
  const purge = (): Promise<number> => {
    // One purge at a time: a slow DELETE is not stacked up by the next tick.
    running ??= store
      .purgeOlderThan(retentionCutoff(now(), retentionDays))
      .then((count) => {
        options.onPurged?.(count);
        if (count > 0) logger?.info({ purged: count, retentionDays }, 'explanation records past retention deleted');
        return count;
      })
      .finally(() => {
        running = undefined;
      });
    return running;
  };
  const quietly = () =>
    purge().catch((err: unknown) => {
      // Retried on the next tick (database down): the records only cost space meanwhile.
      logger?.warn({ errName: err instanceof Error ? err.name : typeof err, errCode: (err as { code?: unknown } | undefined)?.code }, 'explanation retention purge failed; will retry');
      return 0;
    });
  const timer = setInterval(quietly, options.intervalMs ?? 3_600_000);
  timer.unref();
  void quietly();
  return {
    purge,
    async stop() {
      clearInterval(timer);
      await running?.catch(() => undefined);
    },
  };
}
