/**
 * Explanation records already issued (stored and linked from a card), so identical hook calls link to the
 * one stored record instead of writing a new ~10 KB row per call (issue 7 §Speed; docs/performance.md).
 * The key is the service's: it must cover everything the record and the card are built from (for
 * vigil-deterioration see services/deterioration/issued-key.ts), so a record is reused only for exactly
 * the data it was made from — never for older or merely similar data.
 *
 * A record is remembered only once the store accepted it (its id can be fetched); a failed write is
 * forgotten, so the next call writes again. Concurrent calls with one key share one write. In memory,
 * least recently used dropped first.
 */
import type { Prediction } from '../models/index.js';
import type { ExplanationFactor, ExplanationMethod } from './record.js';

/** What a card needs from an issued record (the record itself stays in the ExplanationStore). */
export interface IssuedExplanation {
  /** ExplanationRecord id: the card's explanation link. */
  id: string;
  prediction: Prediction;
  /** The factors the card lists (cardFactors of the stored ones). */
  factors: ExplanationFactor[];
  method?: ExplanationMethod;
}

export class IssuedExplanations {
  private readonly entries = new Map<string, IssuedExplanation>();
  private readonly inFlight = new Map<string, Promise<IssuedExplanation | undefined>>();
  private counters = { issued: 0, reused: 0 };

  constructor(private readonly maxEntries = 1000) {}

  /** The record issued for exactly this key, refreshed as most recently used. */
  get(key: string): IssuedExplanation | undefined {
    const hit = this.entries.get(key);
    if (!hit) return undefined;
    this.entries.delete(key);
    this.entries.set(key, hit);
    this.counters.reused++;
    return hit;
  }

  /**
   * The record issued for this key, or the one `issue` stores now — once however many callers ask
   * meanwhile. `issue` resolves undefined when nothing was stored (explainer or store failure): not kept.
   */
  async getOrIssue(key: string, issue: () => Promise<IssuedExplanation | undefined>): Promise<{ issued: IssuedExplanation | undefined; reused: boolean }> {
    const hit = this.get(key);
    if (hit) return { issued: hit, reused: true };
    const running = this.inFlight.get(key);
    if (running) {
      const issued = await running;
      if (issued) this.counters.reused++;
      return { issued, reused: issued !== undefined };
    }
    const job = issue()
      .then((issued) => {
        if (issued) {
          this.counters.issued++;
          this.entries.set(key, issued);
          while (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
        }
        return issued;
      })
      .finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, job);
    return { issued: await job, reused: false };
  }

  /** issued: records written; reused: calls answered with an already stored record. */
  get stats(): { issued: number; reused: number; size: number } {
    return { ...this.counters, size: this.entries.size };
  }
}
