/**
 * Applies queued inbound messages to the FHIR store, one at a time in arrival order (an A03 must not
 * overtake its A01). On start it first replays whatever is still pending from before a restart.
 *
 * Failures: a FHIR store that is down, slow or throttling (5xx, 429, time-out, network) blocks the
 * queue and is retried with capped exponential backoff — order is kept and nothing is skipped; a
 * message that can never apply (content refused by the store, 4xx) is set aside as failed (dead
 * letter, visible in the queue counts) so it does not block the rest.
 */
import type { Logger } from '../logger.js';
import { BadGatewayError, GatewayTimeoutError, ServiceUnavailableError, TooManyRequestsError } from '../errors.js';
import { FhirReadError } from '../fhir/fhir-reader.js';
import { isRetryableFhirError } from '../fhir/fhir-client.js';
import type { MessageStore } from './queue.js';
import type { ApplyResult } from './apply.js';
import type { IngestPlan } from './plan.js';
import type { PlanHandoff } from './plan-handoff.js';

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
  private wake: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private idleWaiters: Array<() => void> = [];
  private failuresInARow = 0;

  constructor(private readonly options: WorkerOptions) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** New messages were stored. */
  notify(): void {
    this.wake?.();
  }

  /** Resolves when the queue has no pending message (tests, graceful shutdown). */
  idle(): Promise<void> {
    if (this.options.store.counts().pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.wake?.();
    await this.loop;
  }

  private sleep(ms: number | undefined): Promise<void> {
    return new Promise((resolve) => {
      this.wake = () => {
        this.wake = undefined;
        if (this.timer) clearTimeout(this.timer);
        this.timer = undefined;
        resolve();
      };
      if (ms !== undefined) this.timer = setTimeout(() => this.wake?.(), ms);
    });
  }

  private async run(): Promise<void> {
    const { store, logger } = this.options;
    const batchSize = this.options.batchSize ?? 100;
    while (this.running) {
      const batch = store.pending(0, batchSize);
      if (batch.length === 0) {
        for (const resolve of this.idleWaiters.splice(0)) resolve();
        await this.sleep(undefined);
        continue;
      }
      let blocked = false;
      for (const message of batch) {
        if (!this.running) return;
        // A macrotask turn per message: an in-process store answers synchronously, and without this a
        // whole batch would run before the listener reads another frame (ACK latency). It also
        // puts the listener's plan hand-over for this row (a microtask after its commit) behind us.
        await new Promise((resolve) => setImmediate(resolve));
        try {
          const result = await this.options.apply(message.raw, this.options.handoff?.get(message.seq));
          store.markApplied(message.seq);
          this.options.handoff?.release(message.seq);
          this.failuresInARow = 0;
          try {
            await this.options.onApplied?.(result);
          } catch (err) {
            logger.error({ errName: (err as Error)?.name, errMessage: (err as Error)?.message }, 'hl7: post-apply step failed');
          }
        } catch (err) {
          const reason = `${(err as Error)?.name ?? 'Error'}: ${(err as Error)?.message ?? String(err)}`;
          if (isTransient(err)) {
            store.recordAttempt(message.seq, reason);
            this.failuresInARow++;
            const base = this.options.retryBaseMs ?? 500;
            const delay = Math.min(this.options.retryMaxMs ?? 30_000, base * 2 ** Math.min(this.failuresInARow - 1, 16));
            logger.warn({ seq: message.seq, attempt: message.attempts + 1, retryInMs: delay, errName: (err as Error)?.name }, 'hl7: FHIR store unavailable, will retry');
            blocked = true;
            await this.sleep(delay);
            break;
          }
          store.markFailed(message.seq, reason);
          this.options.handoff?.release(message.seq);
          logger.error({ seq: message.seq, event: message.event, errName: (err as Error)?.name, errMessage: (err as Error)?.message }, 'hl7: message could not be applied (dead letter)');
        }
      }
      if (!blocked) await Promise.resolve();
    }
  }
}
