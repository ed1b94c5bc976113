/**
 * One explanation record per exact data through whole Vigil apps over real HTTP (signed ES256 client JWTs),
 * for each service that reuses records (vigil-deterioration, vigil-heart-disease, vigil-ecg-rhythm): an app
 * restarted on the same DATA_DIR (SQLite) links the same hook call's card to the record the first run stored,
 * and two replicas on one PostgreSQL database link the same record whichever answers — one row either way, and
 * the app that did not store it explains nothing (src/explanations/issued.ts). vigil-ecg-rhythm builds its card
 * from the analysis, which is kept in memory only: there that app classifies the tracing once, writing nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { FhirResource } from 'fhir/r4';
import { deteriorationDefinition, DETERIORATION_SERVICE_ID } from '../../src/cds-hooks/services/deterioration/definition.js';
import { ECG_SERVICE_ID, ecgDefinition } from '../../src/cds-hooks/services/ecg-rhythm/definition.js';
import { HEART_SERVICE_ID, heartDefinition } from '../../src/cds-hooks/services/heart-disease/definition.js';
import { fillPrefetchTemplate } from '../../src/cds-hooks/prefetch-template.js';
import type { Card, CdsServiceDefinition } from '../../src/cds-hooks/types.js';
import { fillPrefetch } from '../../src/sandbox/ehr/hook-request.js';
import { openSqliteExplanationStore } from '../../src/explanations/sqlite-store.js';
import { explanationIdOf, loadSandboxFixture, type SandboxFixture } from '../cds-hooks/services/deterioration-fixtures.js';
import { makeKey, mintClientJwt, type TestKey } from '../smart/helpers.js';
import { createTestSchema, pgAvailable, type TestSchema } from '../storage/pg-test-db.js';
import { ISSUER, PUBLIC_BASE_URL, postJson, startReplica, type Replica } from '../storage/vigil-instance.js';

/** The shipped models (startReplica's default has none). */
const WITH_MODELS = { MODELS_DIR: path.resolve('models') };
const HOUR = 3_600_000;

const pgUp = await pgAvailable();

interface ServiceCase {
  serviceId: string;
  definition: () => CdsServiceDefinition;
  patientOf: (fixture: SandboxFixture) => string;
  summary: RegExp;
  /** What must be equal between the first card and the card linked to its record (uuids always differ). */
  sameCard: (before: Card, after: Card) => void;
  /** Inputs the app that did not store the record still computes (0: the record alone makes the card). */
  computedOnRelink: number;
}

const CASES: ServiceCase[] = [
  {
    serviceId: DETERIORATION_SERVICE_ID,
    definition: deteriorationDefinition,
    patientOf: (fixture) => fixture.index.find((p) => p.provenance.physionet.septic)!.id,
    summary: /Sepsis risk/,
    sameCard: (before, after) => expect(after.detail).toBe(before.detail),
    computedOnRelink: 0,
  },
  {
    serviceId: HEART_SERVICE_ID,
    definition: heartDefinition,
    patientOf: (fixture) => fixture.index.find((p) => p.provenance.uci !== null)!.id,
    summary: /^Coronary disease probability \d/,
    sameCard: (before, after) => expect({ ...after, uuid: before.uuid }).toEqual(before),
    computedOnRelink: 0,
  },
  {
    serviceId: ECG_SERVICE_ID,
    definition: ecgDefinition,
    // A sandbox patient with a shipped ECG (data/sandbox-ecg): the one whose tracing the model calls AF.
    patientOf: (fixture) => {
      const resources = fixture.bundles.map((b) => (b.entry ?? []).map((e) => e.resource)).find((rs) => rs.some((r) => r?.resourceType === 'Observation' && r.device?.display?.includes('A00027')))!;
      return resources.find((r) => r?.resourceType === 'Patient')!.id!;
    },
    summary: /^ECG rhythm: atrial fibrillation/,
    sameCard: (before, after) => expect({ ...after, uuid: before.uuid }).toEqual(before),
    computedOnRelink: 1,
  },
];

let key: TestKey;
let fixture: SandboxFixture;

beforeAll(async () => {
  key = await makeKey('ES256', 'issued-replicas');
  // The deterioration window is cut at the app's clock: make the calls of a test fall in one hour.
  const toNextHour = HOUR - (Date.now() % HOUR);
  if (toNextHour < 150_000) await new Promise((resolve) => setTimeout(resolve, toNextHour + 1000));
  fixture = loadSandboxFixture(new Date());
}, 240_000);

/** Waits until the replica's models are loaded (until then the model services answer "model unavailable"). */
async function ready(replica: Replica): Promise<Replica> {
  for (let i = 0; i < 300; i++) {
    const body = (await (await fetch(`${replica.origin}/readyz`)).json()) as { checks: Array<{ name: string; ok: boolean }> };
    if (body.checks.find((c) => c.name === 'models')?.ok) return replica;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('models not loaded in 30 s');
}

describe.each(CASES)('$serviceId', (c) => {
  const servicePath = `/cds-services/${c.serviceId}`;
  let patientId: string;
  let prefetch: Record<string, FhirResource | null>;

  beforeAll(async () => {
    patientId = c.patientOf(fixture);
    const context = { userId: 'Practitioner/u1', patientId };
    prefetch = await fillPrefetch(c.definition().prefetch ?? {}, context, { fill: fillPrefetchTemplate, source: fixture.store, fhirServer: 'http://ehr.test/fhir' });
  });

  async function callHook(replica: Replica): Promise<Card> {
    const token = await mintClientJwt({ key, iss: ISSUER, aud: `${PUBLIC_BASE_URL}${servicePath}` });
    const body = { hook: 'patient-view', hookInstance: randomUUID(), context: { userId: 'Practitioner/u1', patientId }, prefetch };
    const res = await postJson(`${replica.origin}${servicePath}`, body, token);
    expect(res.status).toBe(200);
    const card = ((await res.json()) as { cards: Card[] }).cards[0]!;
    expect(card.summary).toMatch(c.summary);
    return card;
  }

  describe('a restart on the same DATA_DIR (SQLite)', () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-issued-restart-'));
    afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

    it('links the same hook call to the record the first run stored: same explanation id, same card, one row', async () => {
      const first = await ready(await startReplica({ key, dataDir, env: WITH_MODELS }));
      let before: Card;
      try {
        before = await callHook(first);
      } finally {
        await first.stop();
      }
      const second = await ready(await startReplica({ key, dataDir, env: WITH_MODELS }));
      let after: Card;
      try {
        after = await callHook(second);
        // Found by key: nothing written, and nothing recomputed but the ECG analysis (computedOnRelink).
        expect(second.vigil.explanationEngine.stats).toMatchObject({ computed: c.computedOnRelink, issued: { issued: 0, recalled: 1, reused: 1 } });
      } finally {
        await second.stop();
      }
      expect(explanationIdOf(before)).toBeDefined();
      expect(explanationIdOf(after)).toBe(explanationIdOf(before));
      expect(after.uuid).not.toBe(before.uuid);
      c.sameCard(before, after);
      const store = openSqliteExplanationStore(dataDir);
      try {
        expect((await store.latestByModel(patientId)).map((r) => r.id)).toEqual([explanationIdOf(before)]);
      } finally {
        await store.close();
      }
    }, 120_000);
  });

  (pgUp ? describe : describe.skip)('two replicas on one PostgreSQL database', () => {
    let schema: TestSchema;
    let a: Replica;
    let b: Replica;

    beforeAll(async () => {
      schema = await createTestSchema();
      [a, b] = await Promise.all([startReplica({ key, pool: schema.pool(), env: WITH_MODELS }), startReplica({ key, pool: schema.pool(), env: WITH_MODELS })]);
      await Promise.all([ready(a), ready(b)]);
    }, 120_000);

    afterAll(async () => {
      await Promise.all([a?.stop(), b?.stop()]);
      await schema?.drop();
    });

    it('B links the record A stored for the same hook call, and A links it again: one row', async () => {
      const fromA = await callHook(a);
      const fromB = await callHook(b);
      const againA = await callHook(a);
      expect(b.vigil.explanationEngine.stats).toMatchObject({ computed: c.computedOnRelink, issued: { issued: 0, recalled: 1 } });
      expect(a.vigil.explanationEngine.stats.issued).toMatchObject({ issued: 1, recalled: 0, reused: 1 });
      expect(explanationIdOf(fromA)).toBeDefined();
      expect(explanationIdOf(fromB)).toBe(explanationIdOf(fromA));
      expect(explanationIdOf(againA)).toBe(explanationIdOf(fromA));
      expect(fromB.detail).toBe(fromA.detail);
      const { rows } = await schema.pool({ max: 1 }).query<{ n: string }>('SELECT count(*) AS n FROM explanation WHERE patient_id = $1', [patientId]);
      expect(Number(rows[0]!.n)).toBe(1);
    }, 60_000);
  });
});
