/**
 * Applies queued inbound messages to the FHIR store, one at a time in arrival order (an A03 must not
 * overtake its A01). On start it first replays whatever is still pending from before a restart.
 *
 * Failures: a FHIR store that is down, slow or throttling (5xx, 429, time-out, network) blocks the
 * queue and is retried with capped exponential backoff — order is kept and nothing is skipped; a
 * message that can never apply (content refused by the store, 4xx) is set aside as failed (dead
 * letter, visible in the queue counts) so it does not block the rest. A message store that fails
 * (PostgreSQL unreachable) pauses the worker with the same backoff; the rows stay pending.
 *
 * Several replicas on one PostgreSQL queue each run a worker: each applies only the rows it claimed
 * (src/hl7/pg-queue.ts), and rows of one patient are never claimed by two workers at once, so the
 * per-patient order holds across replicas.
 */
import type { Logger } from '../logger.js';
import { BadGatewayError, GatewayTimeoutError, ServiceUnavailableError, TooManyRequestsError } from '../errors.js';
import { FhirReadError } from '../fhir/fhir-reader.js';
import { isRetryableFhirError } from '../fhir/fhir-client.js';
import type { InboundMessage, MessageStore } from './queue.js';
import type { ApplyResult } from './apply.js';
import type { IngestPlan } from './plan.js';
import type { PlanHandoff } from './plan-handoff.js';
import { WakeSignal } from './wake-signal.js';

export interface WorkerOptions {
  store: MessageStore;
  /** Applies one message: its plan when the listener handed one over, else parses `raw`. */
  apply: (raw: string, plan: IngestPlan | undefined) => Promise<ApplyResult>;
  /** Plans left by the listener (parse once); released once a message is applied or set aside. */
  handoff?: Pick<PlanHandoff, 'get' | 'release'>;
  logger: Logger;
  /** Called after each applied message (e.g. to score the patient and send results). */
  onApplied?: (result: ApplyResult) => void | Promise<void>;
  retryBaseMs?: number;
  retryMaxMs?: number;
  batchSize?: number;
  /** How often an idle worker looks for other replicas' messages on a shared store. Default 1000 ms. */
  pollMs?: number;
}

/** Errors worth retrying: the store may recover. */
export function isTransient(err: unknown): boolean {
  if (err instanceof FhirReadError) return isRetryableFhirError(err);
  return (
    err instanceof ServiceUnavailableError ||
    err instanceof GatewayTimeoutError ||
    err instanceof BadGatewayError ||
    err instanceof TooManyRequestsError
  );
}

export class Hl7Worker {
  private running = false;
  private loop: Promise<void> | undefined;
  private readonly signal = new WakeSignal();
  private failuresInARow = 0;

  constructor(private readonly options: WorkerOptions) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** New messages were stored. */
  notify(): void {
    this.signal.notify();
  }

  /**
   * Resolves when this worker finds nothing left to claim (tests, graceful shutdown). On a shared
   * store, messages other replicas hold may still be pending.
   */
  idle(): Promise<void> {
    if (!this.running) {
      return this.options.store.counts().then((c) => (c.pending === 0 ? undefined : this.signal.nextIdle()));
    }
    return this.signal.lookAgainUntilIdle();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.signal.wake();
    await this.loop;
  }

  private backoff(): number {
    const base = this.options.retryBaseMs ?? 500;
    return Math.min(this.options.retryMaxMs ?? 30_000, base * 2 ** Math.min(this.failuresInARow - 1, 16));
  }

  private async run(): Promise<void> {
    const { store, logger } = this.options;
    const batchSize = this.options.batchSize ?? 100;
    while (this.running) {
      const generation = this.signal.generation;
      try {
        const batch = await store.claim(batchSize);
        if (batch.length === 0) {
          // An empty claim that began before a notify proves nothing: claim again before idling.
          if (this.signal.announcedSince(generation)) continue;
          this.signal.reportIdle();
          // A shared store also fills from other replicas (and from claims a crashed one left): poll.
          await this.signal.sleep(store.shared ? (this.options.pollMs ?? 1000) : undefined);
          continue;
        }
        await this.applyBatch(batch);
      } catch (err) {
        // The message store itself failed (database unreachable): nothing is lost, the rows stay
        // pending (claimed by us until the claim lapses); try again after a pause.
        this.failuresInARow++;
        const delay = this.backoff();
        logger.warn({ retryInMs: delay, errName: (err as Error)?.name, errMessage: (err as Error)?.message }, 'hl7: message store unavailable, will retry');
        await this.signal.sleep(delay);
      }
    }
  }

  private async applyBatch(batch: readonly InboundMessage[]): Promise<void> {
    const { store, logger } = this.options;
    for (const message of batch) {
      if (!this.running) return;
      // A macrotask turn per message: an in-process store answers synchronously, and without this a
      // whole batch would run before the listener reads another frame (ACK latency). It also
      // puts the listener's plan hand-over for this row (a microtask after its commit) behind us.
      await new Promise((resolve) => setImmediate(resolve));
      let result: ApplyResult;
      try {
        result = await this.options.apply(message.raw, this.options.handoff?.get(message.seq));
      } catch (err) {
        const reason = `${(err as Error)?.name ?? 'Error'}: ${(err as Error)?.message ?? String(err)}`;
        if (isTransient(err)) {
          await store.recordAttempt(message.seq, reason);
          this.failuresInARow++;
          const delay = this.backoff();
          logger.warn({ seq: message.seq, attempt: message.attempts + 1, retryInMs: delay, errName: (err as Error)?.name }, 'hl7: FHIR store unavailable, will retry');
          await this.signal.sleep(delay);
          return;
        }
        await store.markFailed(message.seq, reason);
        this.options.handoff?.release(message.seq);
        logger.error({ seq: message.seq, event: message.event, errName: (err as Error)?.name, errMessage: (err as Error)?.message }, 'hl7: message could not be applied (dead letter)');
        continue;
      }
      // Recorded in groups by the durable stores (no round trip per message).
      await store.markApplied(message.seq);
      this.options.handoff?.release(message.seq);
      this.failuresInARow = 0;
      try {
        await this.options.onApplied?.(result);
      } catch (err) {
        logger.error({ errName: (err as Error)?.name, errMessage: (err as Error)?.message }, 'hl7: post-apply step failed');
      }
    }
    await Promise.resolve();
  }
}
