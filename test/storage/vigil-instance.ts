/**
 * A whole Vigil (createVigil) on its own localhost port, its own DATA_DIR, and shared state on the
 * PostgreSQL pool it is given — one replica of a scaled-out deployment. Used by the two-instance and
 * database-fault tests.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { createVigil, type Vigil } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import type { PgPool } from '../../src/storage/postgres.js';
import type { TestKey } from '../smart/helpers.js';

export const ISSUER = 'https://ehr.test.example';
export const ADMIN_TOKEN = 'admin-token-for-tests-0123456789abcdef';
/** What EHRs call behind the load balancer: the JWT audience is the same whichever replica answers. */
export const PUBLIC_BASE_URL = 'https://vigil.lb.example';

export interface Replica {
  vigil: Vigil;
  origin: string;
  dataDir: string;
  stop(): Promise<void>;
}

/**
 * `pool` omitted: stores on SQLite in DATA_DIR. `dataDir` given: the replica uses it and leaves it in place
 * on stop (a restart: the next replica opens the same files; the caller deletes it).
 */
export async function startReplica(options: { key: TestKey; pool?: PgPool; dataDir?: string; env?: Record<string, string> }): Promise<Replica> {
  const dataDir = options.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-replica-'));
  const clientsFile = path.join(dataDir, 'clients.json');
  fs.writeFileSync(clientsFile, JSON.stringify([{ issuer: ISSUER, jwks: { keys: [options.key.jwk] }, services: ['*'] }]));
  const config = loadConfig({
    DATA_DIR: dataDir,
    SANDBOX: 'off',
    LOG_LEVEL: 'silent',
    CDS_CLIENTS_FILE: clientsFile,
    CDS_JWT_ALGORITHMS: 'ES256',
    ADMIN_TOKEN,
    PUBLIC_BASE_URL,
    RATE_LIMIT_RPS: '0',
    PRECOMPUTE: 'off',
    // No models: loading the shipped ones costs seconds per app, and NEWS2 needs none.
    MODELS_DIR: path.join(dataDir, 'no-models'),
    ...options.env,
  });
  const vigil = await createVigil(config, options.pool ? { pgPool: options.pool } : {});
  const server: Server = vigil.app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  return {
    vigil,
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    dataDir,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await vigil.close();
      if (!options.dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A minimal patient-view call NEWS2 answers from its prefetch alone (no FHIR server needed). */
export function news2Hook(patientId: string): Record<string, unknown> {
  return {
    hook: 'patient-view',
    hookInstance: crypto.randomUUID(),
    context: { userId: 'Practitioner/u1', patientId },
    prefetch: { patient: { resourceType: 'Patient', id: patientId, birthDate: '1950-01-01' } },
  };
}

export async function postJson(url: string, body: unknown, token: string): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(body) });
}

export async function adminGet(origin: string, pathAndQuery: string): Promise<Response> {
  return fetch(`${origin}${pathAndQuery}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
}
