/**
 * The HL7 interface's message store: the inbound queue (raw messages, written before the ACK) and
 * the outbound queue (ORU^R01 results waiting for the receiver's ACK). One interface, two back ends
 * chosen in src/hl7/index.ts: SQLite (durable, the default) and memory (HL7_DURABLE=off, for
 * benchmarks and tests only — an ACKed message is lost if the process dies).
 */

export interface NewInbound {
  /** Duplicate-detection key: MSH-3 | MSH-4 | MSH-10. */
  key: string;
  /** e.g. "ADT^A01". */
  event: string;
  raw: string;
}

export interface InboundMessage extends NewInbound {
  seq: number;
  attempts: number;
}

export interface OutboundMessage {
  seq: number;
  controlId: string;
  raw: string;
  attempts: number;
}

export interface QueueCounts {
  pending: number;
  applied: number;
  failed: number;
  outboundPending: number;
  outboundSent: number;
  outboundFailed: number;
}

export interface MessageStore {
  /** Whether an enqueued message survives a crash (and, for SQLite with synchronous=FULL, a power cut). */
  readonly durable: boolean;
  /**
   * Stores messages in one transaction (group commit); for each, its seq if stored, undefined if its
   * key was already known (a duplicate: ACK it, never apply it again).
   */
  enqueue(items: readonly NewInbound[]): Promise<Array<number | undefined>>;
  /** Pending messages after `afterSeq`, oldest first. */
  pending(afterSeq: number, limit: number): InboundMessage[];
  markApplied(seq: number): void;
  /** Counts an attempt that failed for a reason that may pass (the FHIR store was down). */
  recordAttempt(seq: number, error: string): void;
  /** Gives up on a message that can never be applied (dead letter). */
  markFailed(seq: number, error: string): void;

  enqueueOutbound(item: { controlId: string; raw: string }, now: number): void;
  /** The oldest outbound message due at `now`, if any. */
  nextOutbound(now: number): OutboundMessage | undefined;
  /** Earliest next-attempt time of any pending outbound message. */
  nextOutboundDue(): number | undefined;
  markSent(seq: number): void;
  retryOutbound(seq: number, nextAttemptAt: number, error: string): void;
  failOutbound(seq: number, error: string): void;

  counts(): QueueCounts;
  close(): void;
}
