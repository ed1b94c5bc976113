/**
 * Ahead-of-time scoring and explanation (src/precompute) with the shipped deterioration model and the
 * sandbox patients: the worker fills the explanation cache from the FHIR store; the hook serves the
 * cached score + explanation only when the data it received hash to the same data version; changed data
 * miss and are recomputed; an HL7 ORU applied to the store notifies the worker through the HL7 seam.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Bundle, Observation, Patient } from 'fhir/r4';
import { createDeteriorationService } from '../../src/cds-hooks/services/deterioration/index.js';
import type { Card, CdsService } from '../../src/cds-hooks/types.js';
import { ExplanationEngine } from '../../src/explanations/engine.js';
import { modelProviderOf } from '../../src/explanations/model-provider.js';
import type { ExplanationRecord } from '../../src/explanations/record.js';
import { openSqliteExplanationStore } from '../../src/explanations/sqlite-store.js';
import type { ExplanationStore } from '../../src/explanations/store.js';
import { startHl7Interface } from '../../src/hl7/index.js';
import { storeWriter } from '../../src/hl7/store-writer.js';
import type { ModelRegistry } from '../../src/models/index.js';
import { fhirStoreSource, precomputeDeterioration, PrecomputeWorker } from '../../src/precompute/index.js';
import { FHIR_BASE, NOW, callService, loadSandboxFixture, openShippedRegistry, sandboxPrefetch, type SandboxFixture } from '../cds-hooks/services/deterioration-fixtures.js';
import { silentLogger } from '../cds-hooks/helpers.js';
import { ackParts, MllpTestClient } from '../hl7/helpers.js';

let registry: ModelRegistry;
let store: ExplanationStore;

beforeAll(async () => {
  registry = await openShippedRegistry();
  store = openSqliteExplanationStore(':memory:');
});
afterAll(async () => {
  await store.close();
  await registry.close();
});

interface Setup {
  fixture: SandboxFixture;
  engine: ExplanationEngine;
  service: CdsService;
  worker: PrecomputeWorker;
}

/** A fresh store, engine (empty cache), service and worker reading the store as the sandbox EHR does. */
function setup(now: () => Date = () => NOW, explanations: ExplanationStore = store): Setup {
  const fixture = loadSandboxFixture();
  const engine = new ExplanationEngine({ maxWaitMs: 0 });
  const models = modelProviderOf(registry);
  const service = createDeteriorationService({ models, explanations, engine });
  const worker = new PrecomputeWorker({ models, engine, source: fhirStoreSource(fixture.store, FHIR_BASE), logger: silentLogger, now });
  return { fixture, engine, service, worker };
}

const septicId = (fixture: SandboxFixture, k = 0) => fixture.index.filter((p) => p.provenance.physionet.septic)[k]!.id;

async function recordOf(card: Card, from: ExplanationStore = store): Promise<ExplanationRecord> {
  const link = card.links!.find((l) => l.type === 'smart')!;
  return (await from.get((JSON.parse(link.appContext!) as { explanationId: string }).explanationId))!;
}

function heartRate(patientId: string, id: string, value: number, minutesBefore: number): Observation {
  return {
    resourceType: 'Observation',
    id,
    status: 'final',
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }],
    code: { coding: [{ system: 'http://loinc.org', code: '8867-4', display: 'Heart rate' }] },
    subject: { reference: `Patient/${patientId}` },
    effectiveDateTime: new Date(NOW.getTime() - minutesBefore * 60_000).toISOString(),
    valueQuantity: { value, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
  };
}

describe('precompute → hook', () => {
  it('serves the precomputed score and explanation when the hook receives the same data (cache hit, no inline work)', async () => {
    const { fixture, engine, service, worker } = setup();
    const id = septicId(fixture);
    worker.notify(id);
    await worker.idle();
    expect(worker.stats).toMatchObject({ notified: 1, computed: 1, failed: 0 });
    const computedBefore = engine.stats.computed;

    const { cards } = await callService(service, fixture.store, id);
    const record = await recordOf(cards[0]!);
    expect(engine.stats.computed).toBe(computedBefore);
    expect(record.method).toMatchObject({ computed: 'cache' });
    expect(cards[0]!.detail).toContain('computed ahead of time');
    // The cached record is exactly the one for the hook's data version.
    const cached = engine.cache.get({ patient: `Patient/${id}`, modelId: 'deterioration', modelVersion: record.model.version, dataVersion: record.dataHash })!;
    expect(cached.prediction!.probability).toBe(record.prediction!.probability);
    expect(record.factors.length).toBeGreaterThan(0);
    await worker.close();
  });

  it('new data in the store: the hook misses and computes inline; the worker then recomputes and the next call hits', async () => {
    const { fixture, engine, service, worker } = setup();
    const id = septicId(fixture, 1);
    const first = await precomputeDeterioration({ models: modelProviderOf(registry), engine, source: fhirStoreSource(fixture.store, FHIR_BASE), now: NOW }, id);
    expect(first.status).toBe('computed');

    // A heart rate of 150 arrives after the precompute.
    fixture.store.update(heartRate(id, 'precompute-hr-150', 150, 3));
    const missed = await recordOf((await callService(service, fixture.store, id)).cards[0]!);
    expect(missed.method).toMatchObject({ computed: 'inline' });
    expect(missed.dataHash).not.toBe(first.status === 'computed' ? first.dataVersion : '');
    // The new reading is in the explained window and was attributed (its hourly cell carries a contribution);
    // whether it is also heart rate's peak factor is the model's business.
    const hr = missed.attributions!.features.indexOf('HR');
    const cell = missed.attributions!.sources.findIndex((row) => (row[hr] ?? []).some((s) => s.endsWith('precompute-hr-150')));
    expect(cell).toBeGreaterThanOrEqual(0);
    expect(missed.attributions!.values[cell]![hr]).not.toBe(0);

    // The worker, told of the change, finds that version already explained (by the hook) — nothing recomputed.
    worker.notify(id);
    await worker.idle();
    expect(worker.stats).toMatchObject({ fresh: 1, computed: 0 });

    // Another change, this time notified before the hook call: recomputed ahead, then served from the cache.
    fixture.store.update(heartRate(id, 'precompute-hr-160', 160, 1));
    worker.notify(id);
    await worker.idle();
    expect(worker.stats).toMatchObject({ computed: 1 });
    const hit = await recordOf((await callService(service, fixture.store, id)).cards[0]!);
    expect(hit.method).toMatchObject({ computed: 'cache' });
    expect(hit.dataHash).not.toBe(missed.dataHash);
    expect(hit.attributions!.sources.flat(2)).toContain('precompute-hr-160');
    await worker.close();
  });

  it('never serves an explanation of other data: a prefetch that differs from the store misses', async () => {
    const { fixture, engine, service, worker } = setup();
    const id = septicId(fixture, 2);
    worker.notify(id);
    await worker.idle();
    // The EHR sends one more Observation than the store held when the worker ran (e.g. not yet synchronised).
    const prefetch = await sandboxPrefetch(service, fixture.store, { userId: 'Practitioner/x', patientId: id });
    const bundle = prefetch.observations as Bundle;
    const extra = heartRate(id, 'only-in-prefetch', 40, 2);
    const changed = { ...prefetch, observations: { ...bundle, entry: [{ resource: extra }, ...(bundle.entry ?? [])] } as Bundle };
    const computedBefore = engine.stats.computed;
    const record = await recordOf((await callService(service, fixture.store, id, { prefetch: changed })).cards[0]!);
    expect(record.method).toMatchObject({ computed: 'inline' });
    expect(engine.stats.computed).toBe(computedBefore + 1);
    expect(record.attributions!.sources.flat(2)).toContain('only-in-prefetch');

    // And the same prefetch as the store again: served from the cache, not the inline record of the other data.
    const same = await recordOf((await callService(service, fixture.store, id)).cards[0]!);
    expect(same.method).toMatchObject({ computed: 'cache' });
    expect(same.dataHash).not.toBe(record.dataHash);
    expect(same.attributions!.sources.flat(2)).not.toContain('only-in-prefetch');
    await worker.close();
  });

  it('the window moves on at the whole hour: a result computed in an earlier hour is not served', async () => {
    const sameHour = setup(() => new Date(NOW.getTime() - 10 * 60_000)); // 12:10, hook at 12:20
    const id = septicId(sameHour.fixture, 3);
    sameHour.worker.notify(id);
    await sameHour.worker.idle();
    const hit = await recordOf((await callService(sameHour.service, sameHour.fixture.store, id)).cards[0]!);
    expect(hit.method).toMatchObject({ computed: 'cache' });
    await sameHour.worker.close();

    // Its own store: on the first half's store the record issued for these data would be linked again
    // (one record per exact data, across restarts: src/explanations/issued.ts).
    const fresh = openSqliteExplanationStore(':memory:');
    const earlierHour = setup(() => new Date(NOW.getTime() - 25 * 60_000), fresh); // 11:55
    earlierHour.worker.notify(id);
    await earlierHour.worker.idle();
    expect(earlierHour.worker.stats.computed).toBe(1);
    const miss = await recordOf((await callService(earlierHour.service, earlierHour.fixture.store, id)).cards[0]!, fresh);
    expect(miss.method).toMatchObject({ computed: 'inline' });
    expect(miss.asOf).toBe('2026-01-01T13:00:00.000Z');
    await earlierHour.worker.close();
    await fresh.close();
  });

  it('a patient the model cannot score is reported, not cached; an unknown patient fails without stopping the worker', async () => {
    const { fixture, engine, worker } = setup();
    const child = fixture.index.find((p) => !p.provenance.physionet.septic)!.id;
    const patient = fixture.store.read('Patient', child) as Patient;
    fixture.store.update({ ...patient, birthDate: '2015-05-01' });
    worker.notify(child);
    worker.notify('no-such-patient');
    await worker.idle();
    expect(worker.stats.notScorable + worker.stats.failed).toBe(2);
    expect(engine.cache.size).toBe(0);
    await worker.close();
  });
});

describe('HL7 ORU → precompute (the patient-data-changed seam)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'vigil-precompute-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('an applied ORU with Observations notifies the worker, which explains the new data before the hook asks', async () => {
    const { fixture, engine, service, worker } = setup();
    const id = septicId(fixture, 4);
    const patient = fixture.store.read('Patient', id) as Patient;
    const mrn = patient.identifier!.find((i) => i.system === 'http://hospital.smarthealthit.org')!.value!;
    const changed: string[] = [];
    const hl7 = await startHl7Interface({
      port: 0,
      host: '127.0.0.1',
      dataDir: dir,
      durable: false,
      writer: storeWriter(fixture.store),
      logger: silentLogger,
      onPatientDataChanged: (patientId) => {
        changed.push(patientId);
        worker.notify(patientId);
      },
    });
    try {
      const t = new Date(NOW.getTime() - 4 * 60_000).toISOString().replace(/[-:T]/g, '').slice(0, 14) + '+0000';
      const oru = [
        `MSH|^~\\&|MONITOR|ICU|VIGIL|HOSP|${t}||ORU^R01^ORU_R01|PRE1|P|2.5.1`,
        `PID|1||${mrn}^^^HOSP^MR`,
        `OBR|1||PRE1|85353-1^Vital signs panel^LN|||${t}`,
        `OBX|1|NM|8867-4^Heart rate^LN||142|/min^^UCUM|||||F|||${t}`,
        `OBX|2|NM|9279-1^Respiratory rate^LN||31|/min^^UCUM|||||F|||${t}`,
      ].join('\r');
      const client = await MllpTestClient.connect(hl7.port);
      expect(ackParts(await client.send(oru)).code).toBe('AA');
      client.close();
      await hl7.worker.idle();
      expect(changed).toEqual([id]);
      await worker.idle();
      expect(worker.stats.computed).toBe(1);
      const computedBefore = engine.stats.computed;
      const record = await recordOf((await callService(service, fixture.store, id)).cards[0]!);
      expect(record.method).toMatchObject({ computed: 'cache' });
      expect(engine.stats.computed).toBe(computedBefore);
      // The ORU's heart rate is among the data explained.
      const hrColumn = record.attributions!.features.indexOf('HR');
      const lastHour = record.attributions!.sources.length - 1;
      expect(record.attributions!.sources[lastHour]![hrColumn]!.length).toBe(1);
    } finally {
      await hl7.close();
      await worker.close();
    }
  });
});
