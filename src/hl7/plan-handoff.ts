/**
 * Parse once: the listener has already parsed, validated and mapped a message to decide its ACK; it
 * leaves that plan here under the queue row's seq, and the worker applies it without parsing the
 * raw text again. Memory only, on purpose: the durable record stays the raw message in the queue, so
 * after a restart (or when a plan was not kept) the worker parses the raw text as before.
 *
 * Bounded: while the FHIR store is down the queue can grow without limit, the plans must not; past
 * `maxPlans` new plans are simply not kept (those messages are parsed again when applied).
 */
import type { IngestPlan } from './plan.js';

export const DEFAULT_MAX_PLANS = 10_000;

export class PlanHandoff {
  private readonly plans = new Map<number, IngestPlan>();

  constructor(private readonly maxPlans = DEFAULT_MAX_PLANS) {}

  /** Keeps the plan of a message just stored as row `seq` (unless the hand-off is full). */
  put(seq: number, plan: IngestPlan): void {
    if (this.plans.size < this.maxPlans) this.plans.set(seq, plan);
  }

  /** The plan of row `seq`, if still kept. Stays until `release` (a transient failure retries with it). */
  get(seq: number): IngestPlan | undefined {
    return this.plans.get(seq);
  }

  /** The row was applied or set aside: its plan is no longer needed. */
  release(seq: number): void {
    this.plans.delete(seq);
  }

  get size(): number {
    return this.plans.size;
  }

  clear(): void {
    this.plans.clear();
  }
}
