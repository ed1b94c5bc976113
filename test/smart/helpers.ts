/**
 * Test-only helpers for client JWTs: key pairs with their public JWK, a minting function whose every
 * header field and claim can be overridden or removed (for the tamper suite), a log sink, and the whole app
 * with the sandbox EHR on an ephemeral port.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import { createLogger, type Logger } from '../../src/logger.js';
import type { Vigil, VigilOptions } from '../../src/app.js';

export interface TestKey {
  alg: string;
  kid: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  /** Public JWK with kid, alg and use. */
  jwk: JWK & { kty: string };
}

export async function makeKey(alg: string, kid: string): Promise<TestKey> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = (await exportJWK(publicKey)) as JWK & { kty: string };
  return { alg, kid, privateKey, publicKey, jwk: { ...jwk, kid, alg, use: 'sig' } };
}

export interface MintOptions {
  key: TestKey;
  iss: string;
  aud: string | string[];
  /** Header fields to add or override; `null` removes one. */
  header?: Record<string, unknown>;
  /** Claims to add or override; `null` removes one. */
  claims?: Record<string, unknown>;
  /** Epoch seconds used for iat/exp. Default now. */
  now?: number;
}

function withoutNulls(record: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).filter(([, v]) => v !== null));
}

/** A client JWT as CDS Hooks 2.0.1 describes it, signed with `key`, then adjusted by the overrides. */
export async function mintClientJwt(opts: MintOptions): Promise<string> {
  const now = opts.now ?? Math.floor(Date.now() / 1000);
  const header = withoutNulls({ alg: opts.key.alg, typ: 'JWT', kid: opts.key.kid, ...opts.header });
  const claims = withoutNulls({ iss: opts.iss, aud: opts.aud, iat: now, exp: now + 300, jti: randomUUID(), ...opts.claims });
  return new SignJWT(claims as JWTPayload).setProtectedHeader(header as { alg: string }).sign(opts.key.privateKey);
}

/** An unsigned token (`alg: none`) carrying the given claims. */
export function unsignedJwt(header: Record<string, unknown>, claims: Record<string, unknown>): string {
  const part = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  return `${part({ ...header, alg: 'none' })}.${part(claims)}.`;
}

/** A logger writing into `lines`, to assert what was (and was not) logged. */
export function capturingLogger(level = 'info'): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  return { logger: createLogger(level, sink), lines };
}

export interface SandboxPatient {
  id: string;
  name: string;
}

/** createVigil with SANDBOX=on over real HTTP, its temp DATA_DIR, and the sandbox's shipped patients. */
export interface SandboxVigil {
  tmp: string;
  vigil: Vigil;
  server: Server;
  origin: string;
  /** `${origin}/sandbox/fhir` */
  fhirBase: string;
  patients: SandboxPatient[];
  close(): Promise<void>;
}

/**
 * Starts the assembled app with the sandbox EHR on 127.0.0.1:0, silent, with a fresh temp DATA_DIR; `env`
 * adds to that environment; `options` may depend on the temp dir. The app is imported here, not at the top,
 * so the JWT-only suites never load it.
 */
export async function startSandboxVigil(
  tmpPrefix: string,
  env: Record<string, string> = {},
  options?: VigilOptions | ((tmp: string) => VigilOptions),
): Promise<SandboxVigil> {
  const [{ createVigil }, { loadConfig }] = await Promise.all([import('../../src/app.js'), import('../../src/config.js')]);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), tmpPrefix));
  const vigil = await createVigil(loadConfig({ DATA_DIR: tmp, SANDBOX: 'on', LOG_LEVEL: 'silent', ...env }), typeof options === 'function' ? options(tmp) : options);
  const server = vigil.app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const patients = ((await (await fetch(`${origin}/sandbox/api/patients`)).json()) as { patients: SandboxPatient[] }).patients;
  return {
    tmp,
    vigil,
    server,
    origin,
    fhirBase: `${origin}/sandbox/fhir`,
    patients,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await vigil.close();
      fs.rmSync(tmp, { recursive: true, force: true });
    },
  };
}
