/**
 * MLLP framing (HL7 v2 Minimal Lower Layer Protocol, release 2: HL7 v2.5.1 Appendix C §C.4.3):
 * <VT 0x0B> message <FS 0x1C><CR 0x0D>. The decoder is pure and incremental: feed it TCP chunks in
 * any split (a frame across many chunks, many frames in one chunk) and it yields complete frames.
 * Bytes outside a frame (keep-alive newlines, garbage) are skipped; a frame larger than the limit is
 * discarded up to its end block and reported once, so the connection stays usable.
 */
export const VT = 0x0b;
export const FS = 0x1c;
export const CR = 0x0d;

export type MllpEvent =
  | { kind: 'frame'; payload: Buffer }
  | { kind: 'oversize'; bytes: number; head: Buffer }
  /** A start block arrived inside an unfinished frame: the sender gave up on that frame. */
  | { kind: 'truncated'; bytes: number };

export class MllpDecoder {
  private chunks: Buffer[] = [];
  private size = 0;
  private inFrame = false;
  private discarding = false;
  private discarded = 0;
  private head: Buffer = Buffer.alloc(0);
  /** The FS of an end block was the last byte seen; its CR may arrive in the next chunk. */
  private pendingFs = false;

  constructor(private readonly maxFrameBytes: number) {}

  /** Feeds one chunk; returns the frames (and oversize reports) it completed, in order. */
  push(chunk: Buffer): MllpEvent[] {
    const events: MllpEvent[] = [];
    let i = 0;
    if (this.pendingFs) {
      this.pendingFs = false;
      if (chunk[0] === CR) {
        this.finish(events);
        i = 1;
      } else {
        // A lone FS inside the payload: keep it as data.
        this.append(Buffer.from([FS]));
      }
    }
    while (i < chunk.length) {
      if (!this.inFrame) {
        const start = chunk.indexOf(VT, i);
        if (start < 0) return events;
        this.inFrame = true;
        i = start + 1;
        continue;
      }
      const fs = chunk.indexOf(FS, i);
      const restart = chunk.indexOf(VT, i);
      if (restart >= 0 && (fs < 0 || restart < fs)) {
        this.append(chunk.subarray(i, restart));
        events.push({ kind: 'truncated', bytes: this.buffered });
        this.reset();
        this.inFrame = true;
        i = restart + 1;
        continue;
      }
      if (fs < 0) {
        this.append(chunk.subarray(i));
        return events;
      }
      if (fs === chunk.length - 1) {
        this.append(chunk.subarray(i, fs));
        this.pendingFs = true;
        return events;
      }
      if (chunk[fs + 1] === CR) {
        this.append(chunk.subarray(i, fs));
        this.finish(events);
        i = fs + 2;
      } else {
        this.append(chunk.subarray(i, fs + 1));
        i = fs + 1;
      }
    }
    return events;
  }

  /** Bytes of an unfinished frame currently held (for truncated-frame diagnostics). */
  get buffered(): number {
    return this.discarding ? this.discarded : this.size;
  }

  private append(part: Buffer): void {
    if (part.length === 0) return;
    if (this.discarding) {
      this.discarded += part.length;
      return;
    }
    if (this.size + part.length > this.maxFrameBytes) {
      // Keep the first bytes so the NAK can echo MSH-10; drop the rest until the end block.
      this.head = Buffer.concat([...this.chunks, part]).subarray(0, 1024);
      this.discarding = true;
      this.discarded = this.size + part.length;
      this.chunks = [];
      this.size = 0;
      return;
    }
    this.chunks.push(part);
    this.size += part.length;
  }

  private finish(events: MllpEvent[]): void {
    if (this.discarding) {
      events.push({ kind: 'oversize', bytes: this.discarded, head: this.head });
    } else {
      events.push({ kind: 'frame', payload: this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.size) });
    }
    this.reset();
  }

  private reset(): void {
    this.chunks = [];
    this.size = 0;
    this.inFrame = false;
    this.discarding = false;
    this.discarded = 0;
    this.head = Buffer.alloc(0);
  }
}

/** Wraps a message in an MLLP frame. */
export function frame(message: string | Buffer): Buffer {
  const body = typeof message === 'string' ? Buffer.from(message, 'utf8') : message;
  const out = Buffer.allocUnsafe(body.length + 3);
  out[0] = VT;
  body.copy(out, 1);
  out[body.length + 1] = FS;
  out[body.length + 2] = CR;
  return out;
}
