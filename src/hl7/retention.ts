/**
 * Retention of HL7 messages (HL7_RETENTION_DAYS; issue 9 §State that scales): applied and dead-lettered
 * inbound messages hold raw patient data, and sent or failed results are no longer needed once the
 * window for looking into them has passed. Purged at start-up and then every hour, in small batches
 * with a pause between them, so no purge holds a write lock (SQLite) or a transaction (PostgreSQL) for
 * long. Pending messages are never purged (src/hl7/queue.ts `purgeBatch`). docs/hl7.md "Retention".
 */
import type { Logger } from '../logger.js';
import { DAY_MS, startPeriodicPurge } from '../storage/periodic-purge.js';
import type { MessageStore, PurgeResult } from './queue.js';

export const DEFAULT_PURGE_BATCH = 500;

export interface Hl7RetentionOptions {
  store: Pick<MessageStore, 'purgeBatch'>;
  /** Days a finished message is kept, counted from its arrival; 0 keeps messages forever (nothing is started). */
  retentionDays: number;
  /** Default one hour. */
  intervalMs?: number;
  /** Rows per table per batch. Default 500. */
  batchSize?: number;
  /** Pause between batches, so ingest and the worker get the database in between. Default 20 ms. */
  pauseMs?: number;
  /** Told how many rows each batch deleted (the metrics counter). */
  onPurged?: (purged: { inbound: number; outbound: number }) => void;
  logger?: Logger;
  now?: () => number;
}

export interface Hl7Retention {
  /** One purge run now (every batch until none is left, or another replica holds the lock); rows deleted. */
  purge(): Promise<Omit<PurgeResult, 'busy'>>;
  /** Stops the timer and any run in flight after its current batch; close the store after. */
  stop(): Promise<void>;
}

/** Purges now (not awaited) and every `intervalMs`, on an unref'd timer; undefined when retention is off. */
export function startHl7Retention(options: Hl7RetentionOptions): Hl7Retention | undefined {
  const { store, retentionDays, logger } = options;
  if (retentionDays <= 0) return undefined;
  const now = options.now ?? Date.now;
  const batchSize = Math.max(1, options.batchSize ?? DEFAULT_PURGE_BATCH);
  const pauseMs = options.pauseMs ?? 20;
  let stopped = false;

  const run = async () => {
    const before = now() - retentionDays * DAY_MS;
    const total = { inbound: 0, outbound: 0 };
    while (!stopped) {
      const batch = await store.purgeBatch(before, batchSize);
      total.inbound += batch.inbound;
      total.outbound += batch.outbound;
      if (batch.inbound + batch.outbound > 0) options.onPurged?.({ inbound: batch.inbound, outbound: batch.outbound });
      // Busy: another replica is purging, and will finish the job.
      if (batch.busy || (batch.inbound < batchSize && batch.outbound < batchSize)) break;
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
    }
    if (total.inbound + total.outbound > 0) logger?.info({ ...total, retentionDays }, 'hl7: messages past retention deleted');
    return total;
  };
  return startPeriodicPurge({
    run,
    nothing: { inbound: 0, outbound: 0 },
    ...(options.intervalMs !== undefined ? { intervalMs: options.intervalMs } : {}),
    ...(logger ? { logger } : {}),
    failure: 'hl7: retention purge failed; will retry',
    onStop: () => {
      stopped = true;
    },
  });
}
