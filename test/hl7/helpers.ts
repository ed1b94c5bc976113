/** Test helpers: an MLLP client over a real socket, fixtures, a quiet logger. */
import net from 'node:net';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger } from '../../src/logger.js';
import { frame, MllpDecoder } from '../../src/hl7/mllp.js';
import { parseHl7 } from '../../src/hl7/message.js';

export const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'hl7');

export function fixture(name: string): Buffer {
  return readFileSync(path.join(FIXTURES, name));
}

export function fixtureNames(): string[] {
  return readdirSync(FIXTURES).filter((f) => f.endsWith('.hl7')).sort();
}

export const quietLogger = createLogger('silent');

/** A persistent MLLP connection: send frames (raw bytes allowed), collect ACK payloads in order. */
export class MllpTestClient {
  private readonly decoder = new MllpDecoder(10 * 1024 * 1024);
  private readonly acks: string[] = [];
  private waiters: Array<{ n: number; resolve: (acks: string[]) => void; reject: (err: Error) => void }> = [];
  private ended = false;
  closed: Promise<void>;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      for (const e of this.decoder.push(chunk)) if (e.kind === 'frame') this.acks.push(e.payload.toString('utf8'));
      this.check();
    });
    this.closed = new Promise((resolve) =>
      socket.on('close', () => {
        this.ended = true;
        for (const w of this.waiters.splice(0)) w.reject(new Error('connection closed'));
        resolve();
      }),
    );
    socket.on('error', () => undefined);
  }

  static connect(port: number): Promise<MllpTestClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host: '127.0.0.1' }, () => resolve(new MllpTestClient(socket)));
      socket.once('error', reject);
    });
  }

  private check(): void {
    this.waiters = this.waiters.filter((w) => {
      if (this.acks.length >= w.n) {
        w.resolve(this.acks.slice(0, w.n));
        return false;
      }
      return true;
    });
  }

  write(bytes: Buffer | string): void {
    this.socket.write(bytes);
  }

  /** Frames and sends a message, then waits for the total number of ACKs to reach `received + 1`. */
  async send(message: Buffer | string): Promise<string> {
    const n = this.acks.length + 1;
    this.write(frame(typeof message === 'string' ? Buffer.from(message) : message));
    return (await this.waitFor(n))[n - 1]!;
  }

  waitFor(n: number, timeoutMs = 10_000): Promise<string[]> {
    return new Promise((resolve, reject) => {
      if (this.ended && this.acks.length < n) return reject(new Error('connection closed'));
      const timer = setTimeout(() => reject(new Error(`expected ${n} ACKs, got ${this.acks.length}`)), timeoutMs);
      this.waiters.push({
        n,
        resolve: (a) => {
          clearTimeout(timer);
          resolve(a);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.check();
    });
  }

  get received(): readonly string[] {
    return this.acks;
  }

  close(): void {
    this.socket.end();
  }
}

/** MSA-1, MSA-2 and the ERR segment fields of an ACK. */
export function ackParts(ack: string): { code: string; controlId: string; errLocation: string; errCode: string; errText: string } {
  const msg = parseHl7(ack);
  const msa = msg.segment('MSA');
  const err = msg.segment('ERR');
  return {
    code: msg.value(msa, 1),
    controlId: msg.value(msa, 2),
    errLocation: msg.field(err, 2),
    errCode: msg.value(err, 3, 1),
    errText: msg.value(err, 8),
  };
}

/** A minimal valid message with the given control id (CR segment endings). */
export function oruMessage(controlId: string, opts: { mrn?: string; hr?: number; rr?: number; time?: string; sender?: string } = {}): string {
  const time = opts.time ?? '20260101120000+0000';
  return [
    `MSH|^~\\&|${opts.sender ?? 'MONITOR'}|WARD|VIGIL|HOSP|${time}||ORU^R01^ORU_R01|${controlId}|P|2.5.1`,
    `PID|1||${opts.mrn ?? 'MRN1'}^^^HOSP^MR||Test^Pat||19600101|F`,
    `OBR|1||${controlId}|85353-1^Vital signs panel^LN|||${time}`,
    `OBX|1|NM|8867-4^Heart rate^LN||${opts.hr ?? 88}|/min^^UCUM|||||F|||${time}`,
    `OBX|2|NM|9279-1^Respiratory rate^LN||${opts.rr ?? 18}|/min^^UCUM|||||F|||${time}`,
  ].join('\r');
}
