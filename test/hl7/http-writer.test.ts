import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import express from 'express';
import type { Observation, Patient } from 'fhir/r4';
import { FhirStore } from '../../src/sandbox/fhir/store.js';
import { createFhirRouter } from '../../src/sandbox/fhir/router.js';
import { startHl7Interface, type Hl7Interface } from '../../src/hl7/index.js';
import { httpWriter } from '../../src/hl7/http-writer.js';
import { ackParts, fixture, MllpTestClient, quietLogger } from './helpers.js';

// FHIR_STORE_URL mode: HL7 data written over HTTP (transaction of PUTs) to a FHIR server that
// validates every resource against the R4 StructureDefinitions.
let server: Server;
let store: FhirStore;
let hl7: Hl7Interface;
let dir: string;
const tokens: string[] = [];

beforeAll(async () => {
  store = new FhirStore();
  const app = express();
  app.use('/fhir', (req, _res, next) => {
    tokens.push(req.get('authorization') ?? '');
    next();
  });
  app.use('/fhir', createFhirRouter({ store, logger: quietLogger, validate: true }));
  server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  dir = mkdtempSync(path.join(os.tmpdir(), 'vigil-hl7-http-'));
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/fhir`;
  hl7 = await startHl7Interface({ port: 0, host: '127.0.0.1', dataDir: dir, writer: httpWriter({ baseUrl, token: async () => 'store-token' }), logger: quietLogger });
});

afterAll(async () => {
  await hl7.close();
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

describe('HL7 → FHIR server over HTTP', () => {
  it('writes ADT and ORU samples as valid R4 resources, with the bearer token on every call', async () => {
    const client = await MllpTestClient.connect(hl7.port);
    for (const name of ['ms-ADT01-23.hl7', 'ms-LAB-ORU-1.hl7', 'ms-LRI_2.0-NG_CBC_Typ_Message.hl7', 'cdc-004_Oracle_ORU_R01.hl7', 'ms-ADT-A01-01.hl7']) {
      expect({ name, ack: ackParts(await client.send(fixture(name))).code }).toEqual({ name, ack: 'AA' });
    }
    client.close();
    await hl7.worker.idle();
    expect(await hl7.store.counts()).toMatchObject({ applied: 5, failed: 0 });
    expect(store.count('Patient')).toBe(4);
    expect(store.count('Observation')).toBe(10 + 28 + 3 + 1);
    const obs = (store.search('Observation', new URLSearchParams({ code: 'http://loinc.org|14959-1' }), { baseUrl: 'x' }).entry ?? [])[0]!.resource as Observation;
    const patient = store.read('Patient', obs.subject!.reference!.split('/')[1]!) as Patient;
    expect(patient.identifier?.[0]?.value).toBe('557204');
    expect(tokens.length).toBeGreaterThan(0);
    expect(tokens.every((t) => t === 'Bearer store-token')).toBe(true);
  });
});
