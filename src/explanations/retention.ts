/**
 * Retention of explanation records (EXPLANATION_RETENTION_DAYS; issue 9 §State that scales): records hold
 * patient details, and a card's explanation link is only useful for a while after the card. Records older
 * than the retention period are deleted at start-up and then every hour. Every replica runs it; the purge is
 * an idempotent DELETE by age, so replicas racing on it only delete each row once between them.
 */
import type { Logger } from '../logger.js';
import { DAY_MS, startPeriodicPurge } from '../storage/periodic-purge.js';
import type { ExplanationStore } from './store.js';

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
  return startPeriodicPurge({
    run: async () => {
      const count = await store.purgeOlderThan(retentionCutoff(now(), retentionDays));
      options.onPurged?.(count);
      if (count > 0) logger?.info({ purged: count, retentionDays }, 'explanation records past retention deleted');
      return count;
    },
    nothing: 0,
    ...(options.intervalMs !== undefined ? { intervalMs: options.intervalMs } : {}),
    ...(logger ? { logger } : {}),
    failure: 'explanation retention purge failed; will retry',
  });
}
