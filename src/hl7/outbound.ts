/**
 * Outbound results: ORU^R01 messages from the durable outbound queue, sent over MLLP to
 * HL7_OUT_HOST:HL7_OUT_PORT one at a time on a persistent connection, each kept until the receiver
 * ACKs it. AA/CA → sent; AE/CE, no answer, or no connection → retried with capped exponential backoff
 * and jitter (the queue survives restarts); AR/CR (the receiver rejects the message itself) → failed,
 * since resending the same bytes cannot succeed.
 */
import net, { type Socket } from 'node:net';
import type { Logger } from '../logger.js';
import { frame, MllpDecoder } from './mllp.js';
import { parseHl7 } from './message.js';
import type { MessageStore, OutboundMessage } from './queue.js';
import { WakeSignal } from './wake-signal.js';

export interface OutboundOptions {
  host: string;
  port: number;
  store: MessageStore;
  logger: Logger;
  ackTimeoutMs?: number;
  connectTimeoutMs?: number;
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** How often an idle sender looks for other replicas' results on a shared store. Default 1000 ms. */
  pollMs?: number;
}

/** One MLLP client connection that answers each request with the next frame received. */
class MllpClient {
  private readonly decoder = new MllpDecoder(1024 * 1024);
  private waiting: { resolve: (b: Buffer) => void; reject: (e: Error) => void } | undefined;
  private closed = false;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      for (const event of this.decoder.push(chunk)) {
        if (event.kind === 'frame' && this.waiting) {
          const w = this.waiting;
          this.waiting = undefined;
          w.resolve(event.payload);
        }
      }
    });
    const fail = (err: Error) => {
      this.closed = true;
      const w = this.waiting;
      this.waiting = undefined;
      w?.reject(err);
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('connection closed')));
  }

  static connect(host: string, port: number, timeoutMs: number): Promise<MllpClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port, noDelay: true });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error('connect timed out'));
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeListener('error', reject);
        resolve(new MllpClient(socket));
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  get usable(): boolean {
    return !this.closed && !this.socket.destroyed;
  }

  request(message: string, timeoutMs: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting = undefined;
        this.destroy();
        reject(new Error('no ACK in time'));
      }, timeoutMs);
      this.waiting = {
        resolve: (b) => {
          clearTimeout(timer);
          resolve(b);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.socket.write(frame(message));
    });
  }

  destroy(): void {
    this.closed = true;
    this.socket.destroy();
  }
}

/** MSA-1 and MSA-2 of an ACK. */
export function readAck(payload: Buffer): { code: string; controlId: string } {
  const msg = parseHl7(payload.toString('utf8'));
  const msa = msg.segment('MSA');
  return { code: msg.value(msa, 1).trim().toUpperCase(), controlId: msg.value(msa, 2).trim() };
}

export class OutboundSender {
  private running = false;
  private loop: Promise<void> | undefined;
  private client: MllpClient | undefined;
  private readonly signal = new WakeSignal();
  private failures = 0;

  constructor(private readonly options: OutboundOptions) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  notify(): void {
    this.signal.notify();
  }

  /** Resolves when nothing is left to send (tests). */
  idle(): Promise<void> {
    return this.signal.lookAgainUntilIdle();
  }

  async stop(): Promise<void> {
    this.running = false;
    // Cutting the connection ends an ACK wait at once; the message stays queued for next time.
    this.client?.destroy();
    this.signal.wake();
    await this.loop;
  }

  private backoff(): number {
    const base = this.options.retryBaseMs ?? 1000;
    const capped = Math.min(this.options.retryMaxMs ?? 60_000, base * 2 ** Math.min(this.failures, 16));
    // Full jitter keeps many Vigil instances from retrying in step against one receiver.
    return capped / 2 + Math.random() * (capped / 2);
  }

  private async run(): Promise<void> {
    const { store, logger } = this.options;
    while (this.running) {
      const generation = this.signal.generation;
      const now = Date.now();
      let next: OutboundMessage | undefined;
      try {
        next = await store.nextOutbound(now);
        if (!next) {
          const due = await store.nextOutboundDue();
          // "Nothing due" seen by a look-up that began before a notify proves nothing: look again.
          if (this.signal.announcedSince(generation)) continue;
          if (due === undefined) this.signal.reportIdle();
          // A shared store also fills from other replicas: look again at least every poll interval.
          const poll = store.shared ? (this.options.pollMs ?? 1000) : undefined;
          const wait = due === undefined ? poll : Math.min(due - now, poll ?? Infinity);
          await this.signal.sleep(wait);
          continue;
        }
      } catch (err) {
        this.failures++;
        const delay = this.backoff();
        logger.warn({ retryInMs: Math.round(delay), errName: (err as Error)?.name, errMessage: (err as Error)?.message }, 'hl7 out: message store unavailable, will retry');
        await this.signal.sleep(delay);
        continue;
      }
      const outcome = await this.send(next);
      try {
        if (outcome.kind === 'sent') {
          await store.markSent(next.seq);
          this.failures = 0;
        } else if (outcome.kind === 'rejected') {
          await store.failOutbound(next.seq, `receiver answered ${outcome.code}`);
          logger.error({ seq: next.seq, ack: outcome.code }, 'hl7 out: result rejected by the receiver');
        } else {
          this.failures++;
          const delay = this.backoff();
          await store.retryOutbound(next.seq, Date.now() + delay, outcome.error);
          logger.warn({ seq: next.seq, attempt: next.attempts + 1, retryInMs: Math.round(delay), errMessage: outcome.error }, 'hl7 out: send failed, will retry');
        }
      } catch (err) {
        // Not recorded: the message stays pending (on a shared store, claimed by us until the claim
        // lapses) and may be sent once more; receivers de-duplicate on MSH-10.
        this.failures++;
        const delay = this.backoff();
        logger.warn({ seq: next.seq, retryInMs: Math.round(delay), errName: (err as Error)?.name }, 'hl7 out: could not record the send result, will retry');
        await this.signal.sleep(delay);
      }
    }
  }

  /** One attempt: AA/CA → sent; AR/CR → rejected; anything else (AE, no answer, no connection) → retry. */
  private async send(next: OutboundMessage): Promise<{ kind: 'sent' } | { kind: 'rejected'; code: string } | { kind: 'retry'; error: string }> {
    try {
      if (!this.client?.usable) {
        this.client = await MllpClient.connect(this.options.host, this.options.port, this.options.connectTimeoutMs ?? 5000);
      }
      const ack = readAck(await this.client.request(next.raw, this.options.ackTimeoutMs ?? 10_000));
      if (ack.code === 'AA' || ack.code === 'CA') return { kind: 'sent' };
      if (ack.code === 'AR' || ack.code === 'CR') return { kind: 'rejected', code: ack.code };
      return { kind: 'retry', error: `receiver answered ${ack.code || 'no MSA-1'}` };
    } catch (err) {
      if (this.client && !this.client.usable) this.client = undefined;
      return { kind: 'retry', error: (err as Error)?.message ?? String(err) };
    }
  }
}
