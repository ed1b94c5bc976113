/**
 * GET /explanations/{id}/trend: the record of a real hook call on a shipped septic sandbox patient,
 * rescored per hour with the shipped model (401 / 403 / 200, one AuditEvent per access, points in time
 * order, at most one per hour, the last equal to the record's score), the heart-disease model's single
 * point, and the truncation rule of scoreTrendOf on a fake model.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import express from 'express';
import request from 'supertest';
import { createDeteriorationService } from '../../src/cds-hooks/services/deterioration/index.js';
import type { Card } from '../../src/cds-hooks/types.js';
import { jsonErrorHandler } from '../../src/http/error-handler.js';
import { modelProviderOf } from '../../src/explanations/model-provider.js';
import type { ExplanationRecord } from '../../src/explanations/record.js';
import { createExplanationsRouter } from '../../src/explanations/router.js';
import { openSqliteExplanationStore } from '../../src/explanations/sqlite-store.js';
import type { ExplanationStore } from '../../src/explanations/store.js';
import { RETROSPECTIVE_METHOD, inputFromWindow, scoreTrendOf, scoreableHours, windowFromInput, type ScoreTrend } from '../../src/explanations/trend.js';
import { MEASUREMENTS } from '../../src/models/data/physionet.js';
import type { DeteriorationInput, ModelRegistry } from '../../src/models/index.js';
import { createTokenSigner, type TokenSigner } from '../../src/smart/sandbox-auth/tokens.js';
import { createAuditStore, type AuditStore } from '../../src/storage/audit-store.js';
import { openSecurityDatabase } from '../../src/storage/replay-cache-sqlite.js';
import { silentLogger } from '../cds-hooks/helpers.js';
import { callService, loadSandboxFixture, openShippedRegistry } from '../cds-hooks/services/deterioration-fixtures.js';

const FHIR_BASE = 'http://vigil.test/sandbox/fhir';
const ISSUER = 'http://vigil.test/sandbox/auth';
const HOUR_MS = 3_600_000;

let registry: ModelRegistry;
let store: ExplanationStore;
let signer: TokenSigner;
let audit: AuditStore;
let septicRecord: ExplanationRecord;
const db = openSecurityDatabase(':memory:');
const app = express();

function explanationIdOf(card: Card): string {
  const link = card.links?.find((l) => l.type === 'smart');
  return (JSON.parse(link!.appContext!) as { explanationId: string }).explanationId;
}

beforeAll(async () => {
  registry = await openShippedRegistry();
  store = openSqliteExplanationStore(':memory:');
  audit = createAuditStore(db);
  signer = await createTokenSigner();
  const fixture = loadSandboxFixture();
  const patient = fixture.index.find((p) => p.provenance.physionet.septic)!;
  const service = createDeteriorationService({ models: modelProviderOf(registry), explanations: store });
  const response = await callService(service, fixture.store, patient.id);
  septicRecord = (await store.get(explanationIdOf(response.cards[0]!)))!;
  app.use(createExplanationsRouter({ store, verify: (t) => signer.verifyAccessToken(t, { audience: FHIR_BASE }), audit, logger: silentLogger, modelsDir: 'models', models: modelProviderOf(registry) }));
  app.use(jsonErrorHandler(silentLogger));
}, 60_000);
afterAll(async () => {
  await store.close();
  await registry.close();
  db.close();
});

async function token(scope: string, patient?: string): Promise<string> {
  const grant = { clientId: 'vigil-explain', scope, user: 'Practitioner/dr-1', ...(patient ? { patient } : {}) };
  return (await signer.accessToken(grant, { issuer: ISSUER, audience: FHIR_BASE, lifetimeSeconds: 300 })).token;
}

/** AuditEvent outcomes about the septic patient's trend, counted ("0" success, "4" refused). */
async function trendAudits(): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const e of await audit.list({ patientId: septicRecord.patientId })) {
    if (e.outcomeDesc?.includes('explanation trend read')) counts[e.outcome ?? ''] = (counts[e.outcome ?? ''] ?? 0) + 1;
  }
  return counts;
}

const getTrend = (id: string, bearer?: string) => {
  const req = request(app).get(`/explanations/${id}/trend`);
  return bearer ? req.set('Authorization', `Bearer ${bearer}`) : req;
};

describe('GET /explanations/{id}/trend', () => {
  it('the hook stored the raw input window the score came from', () => {
    expect(septicRecord.window?.rows).toHaveLength(48);
    expect(septicRecord.window?.features).toEqual([...MEASUREMENTS]);
    expect(Date.parse(septicRecord.window!.hourStarts[47]!) + HOUR_MS).toBe(Date.parse(septicRecord.asOf));
  });

  it('401 without a token, 403 for another patient or without RiskAssessment scope, one AuditEvent each', async () => {
    const before = await trendAudits();
    expect((await getTrend(septicRecord.id)).status).toBe(401);
    expect((await getTrend(septicRecord.id, await token('patient/RiskAssessment.rs', 'someone-else'))).status).toBe(403);
    expect((await getTrend(septicRecord.id, await token('patient/Observation.rs', septicRecord.patientId))).status).toBe(403);
    // The 401 names no patient (no token), so it has no patient AuditEvent; the two 403s do.
    expect(await trendAudits()).toEqual({ ...before, '4': (before['4'] ?? 0) + 2 });
  });

  it('200: hourly points rescored from the data available then, oldest first, the last equal to the record', async () => {
    const before = await trendAudits();
    const res = await getTrend(septicRecord.id, await token('launch patient/RiskAssessment.rs', septicRecord.patientId));
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    const trend = res.body as ScoreTrend;
    expect(trend).toMatchObject({ explanationId: septicRecord.id, model: septicRecord.model, asOf: septicRecord.asOf, method: RETROSPECTIVE_METHOD });
    const times = trend.points.map((p) => Date.parse(p.time));
    expect(trend.points.length).toBeGreaterThan(1);
    expect(trend.points.length).toBeLessThanOrEqual(48);
    for (let i = 1; i < times.length; i++) {
      expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(HOUR_MS);
      expect((times[i]! - times[0]!) % HOUR_MS).toBe(0);
    }
    expect(times[0]).toBeGreaterThan(Date.parse(septicRecord.asOf) - 48 * HOUR_MS);
    for (const p of trend.points) expect(p.probability).toBeGreaterThanOrEqual(0);
    expect(trend.points.slice(0, -1).every((p) => p.source === 'retrospective')).toBe(true);
    const last = trend.points.at(-1)!;
    expect(last).toMatchObject({ time: septicRecord.asOf, source: 'explained' });
    expect(last.probability).toBeCloseTo(septicRecord.prediction!.probability, 6);
    // Earlier hours really are different inputs: the septic patient's risk is not flat over two days.
    expect(new Set(trend.points.map((p) => p.probability.toFixed(6))).size).toBeGreaterThan(1);
    expect(await trendAudits()).toEqual({ ...before, '0': (before['0'] ?? 0) + 1 });
  });

  it('404 for an unknown id to a token that could read it', async () => {
    expect((await getTrend('33333333-3333-4333-8333-333333333333', await token('user/RiskAssessment.rs'))).status).toBe(404);
  });

  it('the heart-disease model (no time axis) and a record without a window answer the single current point', async () => {
    const heart: ExplanationRecord = {
      ...septicRecord,
      id: '44444444-4444-4444-8444-444444444444',
      serviceId: 'vigil-heart-disease',
      model: { id: 'heart-disease', version: '1.0.0' },
      prediction: { ...septicRecord.prediction!, probability: 0.31 },
      attributions: undefined,
      window: undefined,
    };
    await store.save(heart);
    const res = await getTrend(heart.id, await token('patient/RiskAssessment.rs', heart.patientId));
    expect(res.status).toBe(200);
    expect(res.body.points).toEqual([{ time: heart.asOf, probability: 0.31, source: 'explained' }]);
  });

  it('a record of another model version gets only its own point, with the reason', async () => {
    const older: ExplanationRecord = { ...septicRecord, id: '55555555-5555-4555-8555-555555555555', model: { ...septicRecord.model, version: '0.0.1' } };
    await store.save(older);
    const res = await getTrend(older.id, await token('patient/RiskAssessment.rs', older.patientId));
    expect(res.status).toBe(200);
    expect(res.body.points).toHaveLength(1);
    expect(res.body.note).toMatch(/now version/);
  });
});

describe('scoreTrendOf (pure, fake model)', () => {
  // The fake "model" scores a window by how many rows it has: the truncation rule becomes visible.
  const fake = {
    inputShape: [48, 1] as const,
    encode(input: DeteriorationInput): Float32Array {
      const out = new Float32Array(48);
      out[0] = input.rows.length;
      return out;
    },
    forward(encoded: Float32Array, n: number): Float32Array {
      return Float32Array.from({ length: n }, (_, i) => encoded[i * 48]! / 100);
    },
  };
  const hr = MEASUREMENTS.indexOf('HR');
  function window(hours: number, vitalFrom: number) {
    const rows = Array.from({ length: hours }, (_, h) => {
      const row = new Float32Array(MEASUREMENTS.length).fill(NaN);
      if (h >= vitalFrom) row[hr] = 80 + h;
      return row;
    });
    const asOf = Date.parse('2026-01-03T12:00:00Z');
    return windowFromInput({ rows, age: 70, sex: NaN }, rows.map((_, h) => new Date(asOf - (hours - h) * HOUR_MS).toISOString()));
  }
  const base = { ...({} as ExplanationRecord), id: 'r', asOf: '2026-01-03T12:00:00.000Z', model: { id: 'deterioration', version: '1' }, prediction: { probability: 0.48 } as ExplanationRecord['prediction'] };

  it('a stay shorter than 48 h: one point per hour from the 4th hour with vital signs, each from the rows up to that hour', () => {
    const trend = scoreTrendOf({ ...base, window: window(48, 38) }, fake);
    // Vital signs from row 38 on: the 4th vital hour is row 41; rows 41..47 → 7 points.
    expect(trend.points.map((p) => p.probability)).toEqual([42, 43, 44, 45, 46, 47, 48].map((n) => Math.fround(n / 100)));
    expect(trend.points[0]!.time).toBe('2026-01-03T06:00:00.000Z');
    expect(trend.points.at(-1)).toMatchObject({ time: base.asOf, source: 'explained' });
  });

  it('stored windows survive JSON: NaN as null, age and sex kept', () => {
    const w = JSON.parse(JSON.stringify(window(3, 0))) as ReturnType<typeof window>;
    expect(w.sex).toBeNull();
    const input = inputFromWindow(w);
    expect(input.age).toBe(70);
    expect(Number.isNaN(input.sex)).toBe(true);
    expect(input.rows[2]![hr]).toBe(82);
    expect(Number.isNaN(input.rows[2]![MEASUREMENTS.indexOf('Temp')]!)).toBe(true);
    expect(scoreableHours(input.rows, 2)).toEqual([1, 2]);
  });

  it('no model or no window: the single explained point', () => {
    expect(scoreTrendOf({ ...base, window: window(48, 0) }).points).toEqual([{ time: base.asOf, probability: 0.48, source: 'explained' }]);
    expect(scoreTrendOf(base, fake).points).toHaveLength(1);
  });
});

