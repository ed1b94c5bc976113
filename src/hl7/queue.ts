/**
 * The HL7 interface's message store: the inbound queue (raw messages, written before the ACK) and
 * the outbound queue (ORU^R01 results waiting for the receiver's ACK). One interface, three back ends
 * chosen in src/hl7/index.ts: SQLite (durable, one instance, the default), PostgreSQL (durable,
 * shared by every replica when DATABASE_URL is set) and memory (HL7_DURABLE=off, for benchmarks and
 * tests only — an ACKed message is lost if the process dies).
 *
 * Every method is asynchronous (PostgreSQL answers over the network); the SQLite and memory back ends
 * answer from memory or a local file and resolve at once.
 */

export interface NewInbound {
  /** Duplicate-detection key: MSH-3 | MSH-4 | MSH-10. */
  key: string;
  /** e.g. "ADT^A01". */
  event: string;
  raw: string;
  /**
   * Messages with the same ordering key are applied in arrival order even by several workers on a
   * shared store (the patient's first PID-3 identifier, so an A03 never overtakes its A01).
   * Default: the message key (no ordering constraint).
   */
  orderKey?: string;
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

/**
 * What `counts()` reports. Exact where an operator acts on the number (pending and failed: the
 * queue-depth gauge and its alerts), capped where it only grows with traffic: `applied` and
 * `outboundSent` are exact below `COUNT_CAP` and equal to it when at least that many rows are kept,
 * so a scrape reads at most `COUNT_CAP` index entries per capped figure, whatever the table size.
 */
export interface QueueCounts {
  pending: number;
  /** min(applied rows kept, COUNT_CAP). */
  applied: number;
  failed: number;
  outboundPending: number;
  /** min(sent rows kept, COUNT_CAP). */
  outboundSent: number;
  outboundFailed: number;
}

/** Where `applied` and `outboundSent` stop counting (QueueCounts). */
export const COUNT_CAP = 10_000;

/** One retention batch (`purgeBatch`). */
export interface PurgeResult {
  /** Inbound rows deleted (applied or failed). */
  inbound: number;
  /** Outbound rows deleted (sent or failed). */
  outbound: number;
  /** Another replica holds the purge lock (PostgreSQL): nothing was deleted, try again later. */
  busy: boolean;
}

export interface MessageStore {
  /** Whether an enqueued message survives a crash (and, for SQLite with synchronous=FULL, a power cut). */
  readonly durable: boolean;
  /**
   * Whether other processes enqueue into and drain this store too (PostgreSQL): a worker then polls
   * for their messages (and for claims a crashed replica left behind) instead of waiting to be told.
   */
  readonly shared: boolean;
  /**
   * Stores messages in one transaction (group commit); for each, its seq if stored, undefined if its
   * key was already known (a duplicate: ACK it, never apply it again). Resolves only after the commit
   * is durable; rejects with Hl7QueueUnavailableError when the store cannot take them.
   */
  enqueue(items: readonly NewInbound[]): Promise<Array<number | undefined>>;
  /**
   * Up to `limit` pending messages for this instance's worker to apply, oldest first. On a shared
   * store they are claimed for this instance (no other worker gets them) until applied, failed,
   * released by `close`, or until the claim lapses because this instance stopped renewing it.
   */
  claim(limit: number): Promise<InboundMessage[]>;
  /** May be recorded lazily (in groups, before the next claim, state change, `counts` or `close`). */
  markApplied(seq: number): Promise<void>;
  /** Counts an attempt that failed for a reason that may pass (the FHIR store was down). */
  recordAttempt(seq: number, error: string): Promise<void>;
  /** Gives up on a message that can never be applied (dead letter). */
  markFailed(seq: number, error: string): Promise<void>;

  enqueueOutbound(item: { controlId: string; raw: string }, now: number): Promise<void>;
  /** The oldest outbound message due at `now`, if any (on a shared store, claimed for this instance). */
  nextOutbound(now: number): Promise<OutboundMessage | undefined>;
  /** Earliest next-attempt time of any pending outbound message. */
  nextOutboundDue(): Promise<number | undefined>;
  markSent(seq: number): Promise<void>;
  retryOutbound(seq: number, nextAttemptAt: number, error: string): Promise<void>;
  failOutbound(seq: number, error: string): Promise<void>;

  /** See QueueCounts for which figures are exact and which are capped. */
  counts(): Promise<QueueCounts>;
  /**
   * Retention (HL7_RETENTION_DAYS, src/hl7/retention.ts): deletes up to `limit` inbound rows that are
   * applied or failed and were received before `before` (ms since the epoch), and up to `limit`
   * outbound rows sent or failed and created before it, in one short transaction per table. Pending
   * rows are never deleted, however old, nor rows under another replica's live claim. A deleted
   * inbound row takes its duplicate-detection key with it: the same message sent again is stored and
   * applied again (docs/hl7.md "Retention"). On PostgreSQL one replica purges at a time (an advisory
   * lock per batch); a batch that finds it taken deletes nothing and reports `busy`.
   */
  purgeBatch(before: number, limit: number): Promise<PurgeResult>;
  close(): Promise<void>;
}
