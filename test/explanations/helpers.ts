/**
 * Test fixtures for explanation records (src/explanations/record.ts): a high sepsis-risk deterioration record
 * for a given patient, the one the access-control suites store and read back, a bare record the storage
 * suites file by patient, model and creation time, and the explanations router on its real stores with
 * tokens from the sandbox authorization server's signer.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import express from 'express';
import type Database from 'better-sqlite3';
import { jsonErrorHandler } from '../../src/http/error-handler.js';
import { createExplanationsRouter } from '../../src/explanations/router.js';
import { dataHash, type ExplanationRecord } from '../../src/explanations/record.js';
import { openSqliteExplanationStore } from '../../src/explanations/sqlite-store.js';
import type { ExplanationStore } from '../../src/explanations/store.js';
import { createAuditStore, type AuditStore } from '../../src/storage/audit-store.js';
import { openSecurityDatabase } from '../../src/storage/replay-cache-sqlite.js';
import { createTokenSigner, type TokenSigner } from '../../src/smart/sandbox-auth/tokens.js';
import { silentLogger } from '../cds-hooks/helpers.js';

/** The audience the router checks tokens for, and the issuer the signer names. */
export const FHIR_BASE = 'http://vigil.test/sandbox/fhir';
export const ISSUER = 'http://vigil.test/sandbox/auth';

/** One lactate factor with its evidence; `rows` feeds dataHash, so suites can vary the hashed input. */
export function sepsisRecord(id: string, patientId: string, rows: number[][]): ExplanationRecord {
  return {
    id,
    patientId,
    serviceId: 'vigil-deterioration',
    cardUuid: `card-${id}`,
    model: { id: 'deterioration', version: '1.1.0' },
    created: '2026-01-01T12:00:00.000Z',
    asOf: '2026-01-01T12:00:00.000Z',
    dataHash: dataHash({ rows, age: 60, sex: 1 }),
    prediction: { probability: 0.07, band: 'high', indicator: 'critical', thresholds: { moderate: 0.01, high: 0.05 }, outcome: 'sepsis', horizonHours: 6 },
    factors: [{ feature: 'Lactate', label: 'Lactate', text: 'Lactate 4 mmol/L raised the risk', contribution: 0.03, evidence: ['Observation/lac-1'] }],
    notUsed: [],
  };
}

/** No factors, a moderate prediction and a hash named after the id: only where and when it was filed matter. */
export function bareRecord(id: string, patientId: string, model: string, created: string): ExplanationRecord {
  return {
    id,
    patientId,
    serviceId: `vigil-${model}`,
    cardUuid: `card-${id}`,
    model: { id: model, version: '1.0.0' },
    created,
    asOf: created,
    dataHash: `hash-${id}`,
    prediction: { probability: 0.2, band: 'moderate', indicator: 'warning', thresholds: { moderate: 0.1, high: 0.3 }, outcome: 'test' },
    factors: [],
    notUsed: [],
  };
}

/** The explanations router (GET /explanations/{id}, …/latest, model cards) as an express app, and its stores. */
export interface ExplanationsApi {
  /** Temp dir of the SQLite explanation store (reopen it to check persistence). */
  dir: string;
  db: Database.Database;
  audit: AuditStore;
  store: ExplanationStore;
  signer: TokenSigner;
  app: express.Express;
  /** A 5-minute access token for FHIR_BASE from the signer, as the sandbox issues to the view. */
  token(scope: string, patient?: string): Promise<string>;
  close(): Promise<void>;
}

/** Saves `records` in a fresh SQLite store, then mounts the router on it with an in-memory audit store. */
export async function createExplanationsApi(tmpPrefix: string, records: readonly ExplanationRecord[]): Promise<ExplanationsApi> {
  const dir = mkdtempSync(path.join(tmpdir(), tmpPrefix));
  const db = openSecurityDatabase(':memory:');
  const audit = createAuditStore(db);
  const store = openSqliteExplanationStore(dir);
  const signer = await createTokenSigner();
  for (const record of records) await store.save(record);
  const app = express();
  app.use(createExplanationsRouter({ store, verify: (token) => signer.verifyAccessToken(token, { audience: FHIR_BASE }), audit, logger: silentLogger, modelsDir: path.resolve('models') }));
  app.use(jsonErrorHandler(silentLogger));
  return {
    dir,
    db,
    audit,
    store,
    signer,
    app,
    async token(scope, patient) {
      const grant = { clientId: 'vigil-explain', scope, user: 'Practitioner/dr-1', ...(patient ? { patient } : {}) };
      return (await signer.accessToken(grant, { issuer: ISSUER, audience: FHIR_BASE, lifetimeSeconds: 300 })).token;
    },
    async close() {
      await store.close();
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
