/**
 * Fuzzing the HL7 v2 MLLP listener (issue 9, "Bad input") over real sockets: random bytes, random and
 * truncated frames, mutated shipped sample messages (byte flips, segment and field shuffles, delimiter
 * swaps, huge fields), oversized frames and abrupt disconnects. Properties: the process never crashes,
 * every complete frame is answered with exactly one ACK (AA, AE or AR — never silence), the listener keeps
 * serving valid messages afterwards, and the heap stays bounded.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import fc from 'fast-check';
import { FhirStore } from '../../src/sandbox/fhir/store.js';
import { startHl7Interface, type Hl7Interface } from '../../src/hl7/index.js';
import { storeWriter } from '../../src/hl7/store-writer.js';
import { frame, FS, VT } from '../../src/hl7/mllp.js';
import { fixture, fixtureNames, MllpTestClient, quietLogger } from '../hl7/helpers.js';
import { heapAfterGc } from './heap.js';

let dir: string;
let hl7: Hl7Interface;
const MAX_BYTES = 64 * 1024;
const samples = fixtureNames().map((n) => fixture(n));

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'vigil-mllp-fuzz-'));
  // In-memory queue: this test is about parsing and framing, not durability (and fsyncs would slow it).
  hl7 = await startHl7Interface({ port: 0, host: '127.0.0.1', dataDir: dir, durable: false, maxMessageBytes: MAX_BYTES, writer: storeWriter(new FhirStore()), logger: quietLogger, applyPaused: true });
});

afterAll(async () => {
  await hl7.close();
  rmSync(dir, { recursive: true, force: true });
});

/** MSA-1 of an ACK payload. */
function ackCode(ack: string): string | undefined {
  const msa = ack.split(/\r\n|\r|\n/).find((s) => s.startsWith('MSA'));
  return msa?.split(msa[3] ?? '|')[1];
}

async function expectServing(): Promise<void> {
  const client = await MllpTestClient.connect(hl7.port);
  try {
    expect(ackCode(await client.send(samples[0]!))).toMatch(/^(AA|CA)$/);
  } finally {
    client.socket.destroy();
  }
}

/** A mutated sample: flips bytes, drops/duplicates/shuffles segments, swaps delimiters, inflates a field. */
const mutatedMessage = fc
  .tuple(
    fc.nat({ max: samples.length - 1 }),
    fc.array(
      fc.oneof(
        fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
        fc.record({ kind: fc.constant('drop-segment' as const), at: fc.nat() }),
        fc.record({ kind: fc.constant('dup-segment' as const), at: fc.nat() }),
        fc.record({ kind: fc.constant('swap-delims' as const), a: fc.constantFrom('|', '^', '~', '\\', '&'), b: fc.constantFrom('|', '^', '~', '\\', '&', '\r', '\n') }),
        fc.record({ kind: fc.constant('inflate' as const), at: fc.nat(), size: fc.integer({ min: 100, max: 20_000 }) }),
        fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
        fc.record({ kind: fc.constant('bom' as const) }),
      ),
      { minLength: 1, maxLength: 5 },
    ),
  )
  .map(([which, mutations]) => {
    let text = samples[which]!.toString('latin1');
    for (const m of mutations) {
      const segments = text.split('\r');
      switch (m.kind) {
        case 'flip': {
          const bytes = Buffer.from(text, 'latin1');
          // Never inject an MLLP block byte: that is a framing test, done separately.
          const b = m.byte === VT || m.byte === FS ? 0x20 : m.byte;
          if (bytes.length) bytes[m.at % bytes.length] = b;
          text = bytes.toString('latin1');
          break;
        }
        case 'drop-segment':
          segments.splice(m.at % segments.length, 1);
          text = segments.join('\r');
          break;
        case 'dup-segment':
          segments.splice(m.at % segments.length, 0, segments[m.at % segments.length]!);
          text = segments.join('\r');
          break;
        case 'swap-delims':
          text = text.split(m.a).join(m.b);
          break;
        case 'inflate': {
          const at = m.at % Math.max(1, text.length);
          text = text.slice(0, at) + 'Z'.repeat(m.size) + text.slice(at);
          break;
        }
        case 'truncate':
          text = text.slice(0, m.at % Math.max(1, text.length));
          break;
        case 'bom':
          text = '\ufeff' + text;
          break;
      }
    }
    return Buffer.from(text, 'latin1');
  });

describe('fuzzing the MLLP listener', () => {
  it('answers every mutated sample frame with exactly one ACK, in order, on one connection', async () => {
    const client = await MllpTestClient.connect(hl7.port);
    try {
      await fc.assert(
        fc.asyncProperty(mutatedMessage, async (message) => {
          const ack = await client.send(message);
          expect(['AA', 'AE', 'AR', 'CA', 'CE', 'CR']).toContain(ackCode(ack));
        }),
        { numRuns: 400, seed: 21 },
      );
    } finally {
      client.socket.destroy();
    }
    await expectServing();
  }, 60_000);

  it('answers random payloads inside valid frames (AR/AE, never silence)', async () => {
    const client = await MllpTestClient.connect(hl7.port);
    try {
      await fc.assert(
        fc.asyncProperty(fc.uint8Array({ minLength: 0, maxLength: 4096 }), async (bytes) => {
          const payload = Buffer.from(bytes.map((b) => (b === VT || b === FS ? 0x41 : b)));
          const ack = await client.send(payload);
          expect(ack.startsWith('MSH')).toBe(true);
        }),
        { numRuns: 300, seed: 22 },
      );
    } finally {
      client.socket.destroy();
    }
    await expectServing();
  }, 60_000);

  it('survives raw random bytes, broken framing and abrupt disconnects on many connections', async () => {
    const streams = fc.sample(fc.array(fc.uint8Array({ minLength: 1, maxLength: 8192 }), { minLength: 1, maxLength: 6 }), { numRuns: 150, seed: 23 });
    await Promise.all(
      streams.map(
        (chunks, i) =>
          new Promise<void>((resolve) => {
            const socket = net.connect({ port: hl7.port, host: '127.0.0.1' }, () => {
              for (const c of chunks) socket.write(c);
              // Half the connections vanish mid-stream; the others close politely.
              if (i % 2) socket.destroy();
              else socket.end();
            });
            socket.on('data', () => undefined);
            socket.on('error', () => resolve());
            socket.on('close', () => resolve());
          }),
      ),
    );
    await expectServing();
  }, 60_000);

  it('answers a frame over the size limit AR without buffering it whole, and stays up', async () => {
    const client = await MllpTestClient.connect(hl7.port);
    try {
      const huge = Buffer.concat([samples[0]!, Buffer.alloc(MAX_BYTES * 4, 0x5a)]);
      expect(ackCode(await client.send(huge))).toMatch(/^(AR|CR)$/);
      // A start block with no end block, then a valid frame: the truncated one is dropped, the next answered.
      client.write(Buffer.from([VT, 0x4d, 0x53, 0x48]));
      expect(ackCode(await client.send(samples[1]!))).toMatch(/^(AA|AE|CA)$/);
    } finally {
      client.socket.destroy();
    }
    await expectServing();
  });

  it('keeps the heap bounded over a few thousand frames', async () => {
    const messages = fc.sample(mutatedMessage, { numRuns: 250, seed: 24 });
    const client = await MllpTestClient.connect(hl7.port);
    let sent = 0;
    const round = async () => {
      for (const m of messages) client.write(frame(m));
      sent += messages.length;
      await client.waitFor(sent, 30_000);
    };
    try {
      await round();
      const before = heapAfterGc();
      for (let r = 0; r < 8; r++) await round();
      const growth = heapAfterGc() - before;
      // The in-memory queue keeps the accepted messages (they are ~1–20 kB each, applyPaused): allow for
      // those, and nothing per rejected frame.
      const queued = (await hl7.store.counts()).pending;
      expect(growth).toBeLessThan(16 * 1024 * 1024 + queued * 25 * 1024);
    } finally {
      client.socket.destroy();
    }
  }, 120_000);
});
