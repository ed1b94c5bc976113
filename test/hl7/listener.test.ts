import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import net from 'node:net';
import type { Encounter, Observation, Patient } from 'fhir/r4';
import { FhirStore } from '../../src/sandbox/fhir/store.js';
import { startHl7Interface, type Hl7Interface } from '../../src/hl7/index.js';
import { storeWriter } from '../../src/hl7/store-writer.js';
import type { FhirWriter } from '../../src/hl7/fhir-writer.js';
import { frame, VT } from '../../src/hl7/mllp.js';
import { ackParts, fixture, fixtureNames, MllpTestClient, oruMessage, quietLogger } from './helpers.js';
import { QUEUE_BACKENDS, type QueueDb } from './queue-backends.js';

describe.each(QUEUE_BACKENDS)('HL7 listener on the $name queue', (backend) => {
  let db: QueueDb;
  let store: FhirStore;
  let hl7: Hl7Interface;
  let writes: number;

  async function start(options: { maxMessageBytes?: number; writer?: FhirWriter } = {}): Promise<void> {
    const base = storeWriter(store);
    const counting: FhirWriter = {
      ...base,
      write: async (resources) => {
        writes++;
        await base.write(resources);
      },
    };
    hl7 = await startHl7Interface({ port: 0, host: '127.0.0.1', dataDir: db.dir, store: await db.open(), writer: options.writer ?? counting, logger: quietLogger, ...(options.maxMessageBytes ? { maxMessageBytes: options.maxMessageBytes } : {}) });
  }

  beforeEach(async () => {
    db = await backend.createDb();
    store = new FhirStore();
    writes = 0;
    await start();
  });

  afterEach(async () => {
    await hl7.close();
    await db.drop();
  });

  const byType = <T>(type: string) => (store.search(type, new URLSearchParams({ _count: '1000' }), { baseUrl: 'x' }).entry ?? []).map((e) => e.resource as T);

  describe('HL7 MLLP listener with the shipped samples', () => {
    it('ACKs every sample on one persistent connection: AA for valid ones, AE naming PID-7 for the placeholder template', async () => {
      const client = await MllpTestClient.connect(hl7.port);
      for (const name of fixtureNames()) {
        const ack = ackParts(await client.send(fixture(name)));
        if (name === 'cdc-002_Epic_ORU_R01.hl7') {
          expect(ack).toMatchObject({ code: 'AE', errCode: '102', errLocation: 'PID^1^7^1' });
        } else {
          expect({ name, code: ack.code }).toEqual({ name, code: 'AA' });
        }
      }
      client.close();
      await hl7.worker.idle();
      // Three Microsoft ADT samples reuse MSH-10 "MSG00001" from the same sender: ACKed, applied once.
      expect(await hl7.store.counts()).toMatchObject({ pending: 0, applied: 12, failed: 0 });
      expect(writes).toBe(12);
    });

    it('writes ADT^A01 as Patient + Encounter into the FHIR store', async () => {
      const client = await MllpTestClient.connect(hl7.port);
      expect(ackParts(await client.send(fixture('ms-ADT-A01-01.hl7'))).code).toBe('AA');
      client.close();
      await hl7.worker.idle();
      const [patient] = byType<Patient>('Patient');
      expect(patient).toMatchObject({ gender: 'male', birthDate: '1988-08-18', name: [expect.objectContaining({ family: 'EVERYMAN' }), expect.objectContaining({ family: 'Josh' })] });
      const [encounter] = byType<Encounter>('Encounter');
      expect(encounter).toMatchObject({ status: 'in-progress', subject: { reference: `Patient/${patient!.id}` } });
      const [hr] = byType<Observation>('Observation');
      expect(hr).toMatchObject({ code: { coding: [expect.objectContaining({ code: '8867-4' })] }, valueQuantity: { value: 60, code: '/min' } });
    });

    it('links ORU results to the patient an ADT created (same PID-3), creating no second patient', async () => {
      const client = await MllpTestClient.connect(hl7.port);
      await client.send(fixture('ms-ADT01-23.hl7'));
      await client.send(fixture('ms-LAB-ORU-1.hl7'));
      await client.send(fixture('ms-LAB-ORU-2.hl7'));
      client.close();
      await hl7.worker.idle();
      const patients = byType<Patient>('Patient');
      expect(patients).toHaveLength(1);
      const observations = byType<Observation>('Observation');
      expect(observations).toHaveLength(20);
      expect(new Set(observations.map((o) => o.subject?.reference))).toEqual(new Set([`Patient/${patients[0]!.id}`]));
    });

    it('links to a patient already in the store by identifier (sandbox data) and writes A08 updates', async () => {
      store.update<Patient>({ resourceType: 'Patient', id: 'sandbox-1', identifier: [{ system: 'http://hospital.smarthealthit.org', value: 'MRN12345' }], name: [{ family: 'Old' }] });
      const client = await MllpTestClient.connect(hl7.port);
      expect(ackParts(await client.send(fixture('ms-ADT04-251.hl7'))).code).toBe('AA');
      client.close();
      await hl7.worker.idle();
      expect(byType<Patient>('Patient')).toHaveLength(1);
      expect(byType<Patient>('Patient')[0]!.name?.[0]?.family).toBe('Doe');
      expect(byType<Encounter>('Encounter')[0]!.subject?.reference).toBe('Patient/sandbox-1');
    });
  });

  describe('HL7 MLLP listener robustness', () => {
    it('answers 1,000 messages on one persistent connection, each applied exactly once (no re-delivery)', async () => {
      const client = await MllpTestClient.connect(hl7.port);
      const n = 1000;
      // Pipelined: all frames written at once, arriving in arbitrary TCP chunks.
      client.write(Buffer.concat(Array.from({ length: n }, (_, i) => frame(oruMessage(`M${i}`, { mrn: `P${i % 50}` })))));
      const acks = await client.waitFor(n, 20_000);
      expect(acks.map((a) => ackParts(a).controlId)).toEqual(Array.from({ length: n }, (_, i) => `M${i}`));
      expect(acks.every((a) => ackParts(a).code === 'AA')).toBe(true);
      client.close();
      await hl7.worker.idle();
      expect(writes).toBe(n);
      expect(store.count('Observation')).toBe(2 * n);
      expect(store.count('Patient')).toBe(50);
    });

    it('ACKs a duplicate MSH-10 with AA and does not apply it twice', async () => {
      const client = await MllpTestClient.connect(hl7.port);
      expect(ackParts(await client.send(oruMessage('DUP1'))).code).toBe('AA');
      expect(ackParts(await client.send(oruMessage('DUP1', { hr: 150 }))).code).toBe('AA');
      client.close();
      await hl7.worker.idle();
      expect(writes).toBe(1);
      expect(byType<Observation>('Observation').find((o) => o.code.coding?.[0]?.code === '8867-4')?.valueQuantity?.value).toBe(88);
    });

    it('answers AR to unparseable bytes and AE with ERR to unsupported types, and keeps the connection', async () => {
      const client = await MllpTestClient.connect(hl7.port);
      expect(ackParts(await client.send('this is not HL7'))).toMatchObject({ code: 'AR', errCode: '100' });
      expect(ackParts(await client.send(oruMessage('T1').replace('ORU^R01^ORU_R01', 'MDM^T02')))).toMatchObject({ code: 'AE', errCode: '200', controlId: 'T1', errLocation: 'MSH^1^9^1^1' });
      expect(ackParts(await client.send(oruMessage('T2')))).toMatchObject({ code: 'AA', controlId: 'T2' });
      client.close();
    });

    it('answers AR to a frame over the size limit (echoing MSH-10) and carries on', async () => {
      await hl7.close();
      await start({ maxMessageBytes: 2048 });
      const client = await MllpTestClient.connect(hl7.port);
      const big = oruMessage('BIG1') + '\rNTE|1||' + 'x'.repeat(5000);
      expect(ackParts(await client.send(big))).toMatchObject({ code: 'AR', controlId: 'BIG1' });
      expect(ackParts(await client.send(oruMessage('SMALL1'))).code).toBe('AA');
      client.close();
    });

    it('drops a truncated frame without ACKing it; a connection cut mid-frame stores nothing', async () => {
      const client = await MllpTestClient.connect(hl7.port);
      const truncated = Buffer.concat([Buffer.from([VT]), Buffer.from(oruMessage('TRUNC1').slice(0, 60))]);
      client.write(truncated);
      expect(ackParts(await client.send(oruMessage('AFTER1'))).controlId).toBe('AFTER1');
      client.write(Buffer.concat([Buffer.from([VT]), Buffer.from(oruMessage('CUT1'))]));
      client.socket.destroy();
      await client.closed;
      await new Promise((r) => setTimeout(r, 50));
      expect(client.received).toHaveLength(1);
      const counts = await hl7.store.counts();
      expect(counts.applied + counts.pending).toBe(1);
    });

    it('one stalled or garbage-spewing connection does not block others', async () => {
      const stalled = await MllpTestClient.connect(hl7.port);
      stalled.write(Buffer.concat([Buffer.from([VT]), Buffer.from('MSH|^~\\&|half a message')]));
      const noisy = net.connect({ port: hl7.port, host: '127.0.0.1' });
      noisy.on('error', () => undefined);
      noisy.write(Buffer.alloc(100_000, 0x41));
      const good = await MllpTestClient.connect(hl7.port);
      const started = Date.now();
      expect(ackParts(await good.send(oruMessage('OK1'))).code).toBe('AA');
      // Blocked behind the stalled connection it would never be answered; the bound is only for busy CI cores.
      expect(Date.now() - started).toBeLessThan(5000);
      good.close();
      stalled.close();
      noisy.destroy();
    });

    it('keeps queued messages and retries while the FHIR store is down (order kept), then applies them', async () => {
      await hl7.close();
      const base = storeWriter(store);
      let down = true;
      const { ServiceUnavailableError } = await import('../../src/errors.js');
      const flaky: FhirWriter = {
        ...base,
        write: async (r) => {
          if (down) throw new ServiceUnavailableError('store down');
          await base.write(r);
        },
      };
      hl7 = await startHl7Interface({ port: 0, host: '127.0.0.1', dataDir: db.dir, store: await db.open(), writer: flaky, logger: quietLogger, retryBaseMs: 20 });
      const client = await MllpTestClient.connect(hl7.port);
      expect(ackParts(await client.send(oruMessage('Q1'))).code).toBe('AA');
      expect(ackParts(await client.send(oruMessage('Q2'))).code).toBe('AA');
      await new Promise((r) => setTimeout(r, 100));
      expect((await hl7.store.counts()).pending).toBe(2);
      down = false;
      await hl7.worker.idle();
      expect(await hl7.store.counts()).toMatchObject({ pending: 0, applied: 2 });
      client.close();
    });
  });
});
