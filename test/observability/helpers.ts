/**
 * Shared by the observability, fuzz and fault tests: the whole app (createVigil) on an ephemeral
 * localhost port with a temp DATA_DIR and one trusted CDS client whose JWTs the tests mint.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { createVigil, type Vigil } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import type { Logger } from '../../src/logger.js';
import { makeKey, mintClientJwt, type TestKey } from '../smart/helpers.js';

export const TEST_ISSUER = 'https://ehr.test.example';

/** Polls GET /readyz until it answers 200 (models load in the background), or gives up after `timeoutMs`. */
export async function waitUntilReady(origin: string, timeoutMs = 30_000): Promise<Response> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await fetch(`${origin}/readyz`);
    if (res.status === 200 || Date.now() > deadline) return res;
    await res.arrayBuffer();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export interface RunningVigil {
  vigil: Vigil;
  server: Server;
  origin: string;
  dataDir: string;
  key: TestKey;
  /** Headers for a POST to `path` from the trusted test client (fresh jti each call). */
  authHeaders(path: string): Promise<Record<string, string>>;
  /** POSTs a JSON body (or raw string/Buffer) with a valid client JWT. */
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<Response>;
  stop(): Promise<void>;
}

export async function startVigil(env: Record<string, string> = {}, logger?: Logger): Promise<RunningVigil> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-obs-'));
  const key = await makeKey('ES256', 'test-1');
  const clientsFile = path.join(dataDir, 'clients.json');
  fs.writeFileSync(clientsFile, JSON.stringify([{ issuer: TEST_ISSUER, jwks: { keys: [key.jwk] }, services: ['*'] }]));
  // No models unless a test asks for them (MODELS_DIR): loading the shipped ones costs seconds per app.
  const config = loadConfig({ DATA_DIR: dataDir, SANDBOX: 'off', LOG_LEVEL: 'silent', CDS_CLIENTS_FILE: clientsFile, CDS_JWT_ALGORITHMS: 'ES256', MODELS_DIR: path.join(dataDir, 'no-models'), ...env });
  const vigil = await createVigil(config, { ...(logger ? { logger } : {}) });
  const server = vigil.app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const authHeaders = async (p: string) => ({ authorization: `Bearer ${await mintClientJwt({ key, iss: TEST_ISSUER, aud: `${origin}${p}` })}` });
  return {
    vigil,
    server,
    origin,
    dataDir,
    key,
    authHeaders,
    async post(p, body, headers = {}) {
      const raw = typeof body === 'string' ? body : Buffer.isBuffer(body) ? new Uint8Array(body) : JSON.stringify(body);
      return fetch(`${origin}${p}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(await authHeaders(p)), ...headers },
        body: raw,
      });
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await vigil.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
