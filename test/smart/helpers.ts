/**
 * Test-only helpers for client JWTs: key pairs with their public JWK, a minting function whose every
 * header field and claim can be overridden or removed (for the tamper suite), and a log sink.
 */
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import { createLogger, type Logger } from '../../src/logger.js';

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
