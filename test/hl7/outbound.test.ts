import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import net, { type AddressInfo } from 'node:net';
import type { Patient } from 'fhir/r4';
import { FhirStore } from '../../src/sandbox/fhir/store.js';
import { startHl7Interface, type Hl7Interface } from '../../src/hl7/index.js';
import { storeWriter } from '../../src/hl7/store-writer.js';
import { buildAck } from '../../src/hl7/ack.js';
import { frame, MllpDecoder } from '../../src/hl7/mllp.js';
import { parseHl7 } from '../../src/hl7/message.js';
import { buildResultOru, news2Scorer } from '../../src/hl7/scoring.js';
import { ackParts, MllpTestClient, oruMessage, quietLogger } from './helpers.js';
import { QUEUE_BACKENDS, type QueueDb } from './queue-backends.js';

/** A results receiver: answers each message with the next code from `script` (then AA). */
async function startReceiver(script: string[] = []): Promise<{ port: number; received: string[]; close(): Promise<void> }> {
  const received: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    const decoder = new MllpDecoder(1 << 20);
    socket.on('data', (chunk) => {
      for (const e of decoder.push(chunk)) {
        if (e.kind !== 'frame') continue;
        const text = e.payload.toString();
        received.push(text);
        const code = (script.shift() ?? 'AA') as 'AA' | 'AE' | 'AR';
        socket.write(frame(buildAck(parseHl7(text).header, { code, ...(code !== 'AA' ? { condition: 207, text: 'busy' } : {}) })));
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    received,
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

let db: QueueDb | undefined;
let hl7: Hl7Interface | undefined;
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  await hl7?.close();
  for (const c of cleanups.splice(0)) await c();
  hl7 = undefined;
  await db?.drop();
  db = undefined;
});

const now = new Date();
const ts = (d: Date) => d.toISOString().replace(/[-:T]/g, '').slice(0, 14) + '+0000';

function vitalsOru(id: string): string {
  const t = ts(new Date(now.getTime() - 5 * 60_000));
  return [
    `MSH|^~\\&|MONITOR|WARD|VIGIL|HOSP|${t}||ORU^R01|${id}|P|2.5.1`,
    'PID|1||MRN77^^^HOSP^MR||Out^Test||19500101|M',
    `OBX|1|NM|9279-1^Resp rate^LN||26|/min|||||F|||${t}`,
    `OBX|2|NM|8867-4^Heart rate^LN||135|/min|||||F|||${t}`,
    `OBX|3|NM|59408-5^SpO2^LN||95|%|||||F|||${t}`,
    `OBX|4|NM|8310-5^Temp^LN||38.5|Cel|||||F|||${t}`,
  ].join('\r');
}

describe.each(QUEUE_BACKENDS)('outbound ORU^R01 results on the $name queue', (backend) => {
  beforeEach(async () => {
    db = await backend.createDb();
  });

  it('scores the patient with NEWS2 after an HL7 update and sends the result, retrying an AE until AA', async () => {
    const receiver = await startReceiver(['AE']);
    cleanups.push(() => receiver.close());
    const store = new FhirStore();
    hl7 = await startHl7Interface({ port: 0, host: '127.0.0.1', dataDir: db!.dir, store: await db!.open(), writer: storeWriter(store), logger: quietLogger, outbound: { host: '127.0.0.1', port: receiver.port, retryBaseMs: 20, retryMaxMs: 50 } });
    const client = await MllpTestClient.connect(hl7.port);
    expect(ackParts(await client.send(vitalsOru('V1'))).code).toBe('AA');
    client.close();
    await hl7.worker.idle();
    await new Promise((r) => setTimeout(r, 20));
    await hl7.outbound!.idle();
    expect(receiver.received).toHaveLength(2);
    expect(receiver.received[0]).toBe(receiver.received[1]);
    const msg = parseHl7(receiver.received[1]!);
    expect(msg.header).toMatchObject({ messageCode: 'ORU', triggerEvent: 'R01', version: '2.5.1' });
    expect(msg.value(msg.segment('PID'), 3)).toBe('MRN77');
    const obx = msg.segment('OBX');
    // RR 26 → 3, HR 135 → 3, SpO2 95 → 1, temp 38.5 → 1: total 8 (high risk: 7 or more).
    expect(msg.value(obx, 5)).toBe('8');
    expect(msg.value(obx, 8)).toBe('HH');
    expect(msg.all('NTE').map((n) => msg.value(n, 3))[1]).toBe('Respiration rate: 3 points');
    expect(await hl7.store.counts()).toMatchObject({ outboundSent: 1, outboundPending: 0 });
  });

  it('keeps results queued while the receiver is down and delivers them when it comes up', async () => {
    // The receiver's port stays bound by this test throughout (a port freed and re-bound later could be
    // taken by another process in between): while "down" every connection is reset, then it answers.
    const received: string[] = [];
    let up = false;
    const server = net.createServer((s) => {
      if (!up) {
        s.resetAndDestroy();
        return;
      }
      const d = new MllpDecoder(1 << 20);
      s.on('data', (c) => {
        for (const e of d.push(c)) {
          if (e.kind !== 'frame') continue;
          received.push(e.payload.toString());
          s.write(frame(buildAck(parseHl7(e.payload.toString()).header, { code: 'AA' })));
        }
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => server.close(() => r())));
    const port = (server.address() as net.AddressInfo).port;
    const store = new FhirStore();
    hl7 = await startHl7Interface({ port: 0, host: '127.0.0.1', dataDir: db!.dir, store: await db!.open(), writer: storeWriter(store), logger: quietLogger, outbound: { host: '127.0.0.1', port, retryBaseMs: 20, retryMaxMs: 40 } });
    const client = await MllpTestClient.connect(hl7.port);
    await client.send(vitalsOru('D1'));
    client.close();
    await hl7.worker.idle();
    await new Promise((r) => setTimeout(r, 100));
    expect((await hl7.store.counts()).outboundPending).toBe(1);
    expect(received).toHaveLength(0);
    // The receiver comes up on the same port.
    up = true;
    await hl7.outbound!.idle();
    expect(received).toHaveLength(1);
    expect((await hl7.store.counts()).outboundSent).toBe(1);
  });
});

describe('outbound ORU^R01 message', () => {
  it('builds the result message purely (PID from the first identifier, NTE summary and factors)', () => {
    const patient: Patient = { resourceType: 'Patient', id: 'p', identifier: [{ system: 'http://h.example/mrn', value: 'A|1' }], name: [{ family: 'Doe', given: ['J'] }] };
    const text = buildResultOru(patient, { code: { code: 'X', display: 'Score', system: 'L' }, value: 3, flag: 'A', summary: 'sum', factors: ['f1'] }, { now, controlId: 'C1' });
    const msg = parseHl7(text);
    expect(msg.value(msg.segment('PID'), 3)).toBe('A|1');
    expect(msg.value(msg.segment('PID'), 3, 4, 2)).toBe('http://h.example/mrn');
    expect(msg.all('NTE').map((n) => msg.value(n, 3))).toEqual(['sum', 'f1']);
    expect(news2Scorer.score([], now)).toBeUndefined();
  });
});
