/**
 * Inbound message handling up to the ACK: decode → parse (AR if unreadable) → validate and map
 * (AE naming the field if refused) → store durably → AA. Duplicates (same sender and MSH-10) get AA
 * and are not stored again.
 *
 * Group commit: every message that arrives within one event-loop turn, from any connection, is stored
 * in one transaction (SQLite or PostgreSQL) — one fsync for the lot — and all their ACKs go out after it. With 8
 * busy connections that divides the fsync cost by up to 8 without delaying any ACK by a timer. While
 * a commit is in flight (it runs off the event loop), new messages gather and go in the next commit
 * as one group.
 */
import type { Logger } from '../logger.js';
import { ackFor, buildAck, type AckDecision } from './ack.js';
import { Hl7ParseError } from './errors.js';
import { parseHl7, salvageHeader, type MessageHeader } from './message.js';
import { planMessage, type IngestPlan, type PlanOptions } from './plan.js';
import type { PlanHandoff } from './plan-handoff.js';
import type { MessageStore, NewInbound } from './queue.js';

export interface IngestOptions extends PlanOptions {
  store: MessageStore;
  logger: Logger;
  /** Called after messages were stored, to wake the worker. */
  onStored?: () => void;
  /** Where the plans of stored messages are left for the worker (parse once). */
  handoff?: Pick<PlanHandoff, 'put'>;
  /** MSH-3/4 of our ACKs when the message named no receiver. */
  application?: string;
  facility?: string;
}

export interface IngestOutcome {
  ack: string;
  decision: AckDecision;
  duplicate: boolean;
}

interface Waiting {
  item: NewInbound;
  plan: IngestPlan;
  resolve: (stored: boolean) => void;
  reject: (err: unknown) => void;
}

/** MSH-18 names a single-byte character set: decode the bytes as Latin-1 instead of UTF-8. */
function decode(bytes: Buffer): string {
  const text = bytes.toString('utf8');
  const firstLine = text.slice(0, 512).split(/[\r\n]/, 1)[0] ?? '';
  if (/\|8859\/1\b|\|ISO[-_ ]?8859-?1\b/i.test(firstLine)) return bytes.toString('latin1');
  return text;
}

/** Messages about one patient keep their order across workers: the first PID-3 identifier. */
function orderKeyOf(plan: IngestPlan): string {
  const id = plan.identifiers[0];
  return id ? `${id.system ?? ''}|${id.value ?? ''}` : plan.messageKey;
}

export class Ingest {
  private batch: Waiting[] = [];
  private scheduled = false;
  private committing = false;

  constructor(private readonly options: IngestOptions) {}

  /** Handles one message (the payload of one MLLP frame) and returns its ACK. Never throws. */
  async receive(bytes: Buffer): Promise<IngestOutcome> {
    const text = decode(bytes);
    let header: Partial<MessageHeader>;
    try {
      const msg = parseHl7(text);
      header = msg.header;
      const plan = planMessage(msg, this.options);
      const stored = await this.store({ key: plan.messageKey, event: plan.event, raw: text, orderKey: orderKeyOf(plan) }, plan);
      return this.answer(header, { code: 'AA' }, !stored);
    } catch (err) {
      header ??= salvageHeader(text);
      const decision = ackFor(err);
      if (decision.condition === 207) {
        this.options.logger.error({ errName: (err as Error)?.name, errMessage: (err as Error)?.message }, 'hl7: message not stored');
      } else {
        this.options.logger.warn({ ack: decision.code, condition: decision.condition, location: decision.location }, 'hl7: message refused');
      }
      return this.answer(header, decision, false);
    }
  }

  /** The NAK for a frame over the size limit (only its first bytes were kept). */
  oversize(head: Buffer, bytes: number): IngestOutcome {
    const err = new Hl7ParseError(`Message of ${bytes} bytes exceeds the size limit`, 100);
    this.options.logger.warn({ bytes }, 'hl7: message over the size limit refused');
    return this.answer(salvageHeader(decode(head)), ackFor(err), false);
  }

  private answer(header: Partial<MessageHeader>, decision: AckDecision, duplicate: boolean): IngestOutcome {
    const ack = buildAck(header, decision, { application: this.options.application, facility: this.options.facility });
    return { ack, decision, duplicate };
  }

  private store(item: NewInbound, plan: IngestPlan): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.batch.push({ item, plan, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.committing || this.batch.length === 0) return;
    this.scheduled = true;
    setImmediate(() => void this.flush());
  }

  private async flush(): Promise<void> {
    const batch = this.batch;
    this.batch = [];
    this.scheduled = false;
    let seqs: Array<number | undefined>;
    this.committing = true;
    try {
      seqs = await this.options.store.enqueue(batch.map((w) => w.item));
    } catch (err) {
      for (const w of batch) w.reject(err);
      return;
    } finally {
      this.committing = false;
      this.schedule();
    }
    // Committed: hand the plans over before the worker can see the rows (src/hl7/sqlite-queue.ts).
    let stored = false;
    batch.forEach((w, i) => {
      const seq = seqs[i];
      if (seq !== undefined) {
        stored = true;
        this.options.handoff?.put(seq, w.plan);
      }
      w.resolve(seq !== undefined);
    });
    if (stored) this.options.onStored?.();
  }
}
