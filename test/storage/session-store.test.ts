/**
 * The explanation view's SessionStore contract on every back end (memory; PostgreSQL, sealed), and what the
 * PostgreSQL rows may hold: AES-256-GCM ciphertext bound to the session id, keyed by the id's hash — no token
 * text, no usable cookie value. Tampered, moved or foreign-key rows read as no session; keys rotate.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { Writable } from 'node:stream';
import { loadConfig } from '../../src/config.js';
import { MemorySessionStore, type AppSession, type SessionStore } from '../../src/smart/app-launch/session-store.js';
import { SessionSealer, sessionKeyId } from '../../src/smart/app-launch/session-seal.js';
import { PgSessionStore, sessionRowKey } from '../../src/storage/session-store-pg.js';
import type { PgPool } from '../../src/storage/postgres.js';
import { createTestSchema, pgAvailable, type TestSchema } from './pg-test-db.js';

const ACCESS_TOKEN = 'eyJhbGciOiJSUzI1NiJ9.access-token-secret-text.sig';
const REFRESH_TOKEN = 'refresh-token-secret-text-0123456789';

function session(id = randomBytes(32).toString('base64url')): AppSession {
  return {
    id,
    pending: { st1: { iss: 'https://ehr.example/fhir', tokenEndpoint: 'https://ehr.example/token', redirectUri: 'https://vigil.example/app/callback', clientId: 'vigil-explain', codeVerifier: 'verifier-xyz', expiresAt: 1 } },
    contexts: {
      c1: {
        iss: 'https://ehr.example/fhir',
        tokenEndpoint: 'https://ehr.example/token',
        clientId: 'vigil-explain',
        accessToken: ACCESS_TOKEN,
        refreshToken: REFRESH_TOKEN,
        accessTokenExpiresAt: 1_900_000_000_000,
        scope: 'launch openid patient/Observation.rs',
        patient: 'patient-secret-id',
        needPatientBanner: true,
        appContext: 'expl-1',
      },
    },
    order: ['c1'],
  };
}

const key = () => randomBytes(32);

interface Backend {
  name: string;
  open(now: () => number): SessionStore;
}

const pg = await pgAvailable();
let schema: TestSchema | undefined;
const opened: PgSessionStore[] = [];
const keys = [key()];

beforeAll(async () => {
  if (pg) schema = await createTestSchema();
});
afterAll(async () => {
  for (const s of opened) s.close();
  await schema?.drop();
});

function pgStore(options: { keys?: Buffer[]; now?: () => number; pool?: PgPool; logger?: pino.Logger } = {}): PgSessionStore {
  const store = new PgSessionStore(options.pool ?? schema!.pool({ max: 2 }), { keys: options.keys ?? keys, sweepIntervalMs: 0, ...(options.now ? { now: options.now } : {}), ...(options.logger ? { logger: options.logger } : {}) });
  opened.push(store);
  return store;
}

const backends: Backend[] = [{ name: 'memory', open: (now) => new MemorySessionStore({ now }) }];
if (pg) backends.push({ name: 'postgresql', open: (now) => pgStore({ now }) });

describe.each(backends)('$name session store', (backend) => {
  it('returns a saved session whole (a copy), and undefined for an unknown id', async () => {
    const store = backend.open(Date.now);
    const s = session();
    await store.save(s, 60);
    const got = await store.get(s.id);
    expect(got).toEqual(s);
    got!.order.push('changed');
    expect((await store.get(s.id))!.order).toEqual(['c1']);
    expect(await store.get('no-such-session')).toBeUndefined();
  });

  it('replaces a session saved again under the same id (upsert)', async () => {
    const store = backend.open(Date.now);
    const s = session();
    await store.save(s, 60);
    const next = { ...s, order: [], contexts: {} };
    await store.save(next, 60);
    expect(await store.get(s.id)).toEqual(next);
  });

  it('deletes a session (and deleting an unknown one is fine)', async () => {
    const store = backend.open(Date.now);
    const s = session();
    await store.save(s, 60);
    await store.delete(s.id);
    expect(await store.get(s.id)).toBeUndefined();
    await expect(store.delete('no-such-session')).resolves.toBeUndefined();
  });

  it('hides a session once its time to live has passed, and saving again extends it', async () => {
    let clock = 1_800_000_000_000;
    const store = backend.open(() => clock);
    const s = session();
    await store.save(s, 60);
    clock += 59_000;
    expect(await store.get(s.id)).toEqual(s);
    await store.save(s, 60); // sliding expiry
    clock += 59_000;
    expect(await store.get(s.id)).toEqual(s);
    clock += 1_000;
    expect(await store.get(s.id)).toBeUndefined();
  });

  it('touch extends a live session without writing its content, and never revives an expired one', async () => {
    let clock = 1_800_000_000_000;
    const store = backend.open(() => clock);
    const s = session();
    await store.save(s, 60);
    clock += 50_000;
    await store.touch(s.id, 60);
    clock += 50_000;
    expect(await store.get(s.id)).toEqual(s);
    // Content saved meanwhile (another replica's refresh) survives a touch.
    const refreshed = { ...s, order: ['refreshed'] };
    await store.save(refreshed, 60);
    await store.touch(s.id, 60);
    expect(await store.get(s.id)).toEqual(refreshed);
    clock += 61_000;
    await store.touch(s.id, 60);
    expect(await store.get(s.id)).toBeUndefined();
    await expect(store.touch('no-such-session', 60)).resolves.toBeUndefined();
    expect(await store.get('no-such-session')).toBeUndefined();
  });

  it('keeps sessions apart', async () => {
    const store = backend.open(Date.now);
    const a = session();
    const b = { ...session(), order: ['other'] };
    await Promise.all([store.save(a, 60), store.save(b, 60)]);
    expect((await store.get(a.id))!.order).toEqual(['c1']);
    expect((await store.get(b.id))!.order).toEqual(['other']);
  });
});

describe('SessionSealer', () => {
  it('round-trips, with a fresh IV per seal', () => {
    const sealer = new SessionSealer([key()]);
    const a = sealer.seal('sid', 'hello');
    const b = sealer.seal('sid', 'hello');
    expect(a).not.toBe(b);
    expect(a.split('.')[2]).not.toBe(b.split('.')[2]);
    expect(a.startsWith(`v1.${sealer.keyId}.`)).toBe(true);
    expect(sealer.open('sid', a)).toEqual({ ok: true, plaintext: 'hello' });
  });

  it('refuses another session id, another key, any flipped bit and malformed input', () => {
    const k = key();
    const sealer = new SessionSealer([k]);
    const sealed = sealer.seal('sid-a', JSON.stringify(session('sid-a')));
    expect(sealer.open('sid-b', sealed)).toEqual({ ok: false, reason: 'not-authentic' });
    expect(new SessionSealer([key()]).open('sid-a', sealed)).toEqual({ ok: false, reason: 'unknown-key' });
    const [v, kid, iv, body] = sealed.split('.') as [string, string, string, string];
    const bytes = Buffer.from(body, 'base64url');
    for (const at of [0, Math.floor(bytes.length / 2), bytes.length - 1]) {
      const flipped = Buffer.from(bytes);
      flipped[at]! ^= 0x01;
      expect(sealer.open('sid-a', [v, kid, iv, flipped.toString('base64url')].join('.'))).toEqual({ ok: false, reason: 'not-authentic' });
    }
    const ivBytes = Buffer.from(iv, 'base64url');
    ivBytes[0]! ^= 0x80;
    expect(sealer.open('sid-a', [v, kid, ivBytes.toString('base64url'), body].join('.'))).toEqual({ ok: false, reason: 'not-authentic' });
    for (const bad of ['', 'v1', `v2.${kid}.${iv}.${body}`, `v1.${kid}.${iv}`, `v1.${kid}.AAAA.${body}`, `v1.${kid}.${iv}.AAAA`]) {
      expect(sealer.open('sid-a', bad).ok).toBe(false);
    }
  });

  it('rotates: seals with the first key, opens with any configured key', () => {
    const oldKey = key();
    const newKey = key();
    const before = new SessionSealer([oldKey]).seal('sid', 'old');
    const rotated = new SessionSealer([newKey, oldKey]);
    expect(rotated.open('sid', before)).toEqual({ ok: true, plaintext: 'old' });
    const after = rotated.seal('sid', 'new');
    expect(after.split('.')[1]).toBe(sessionKeyId(newKey));
    expect(new SessionSealer([newKey]).open('sid', after)).toEqual({ ok: true, plaintext: 'new' });
    // Once the old key is dropped, what only it sealed no longer opens.
    expect(new SessionSealer([newKey]).open('sid', before)).toEqual({ ok: false, reason: 'unknown-key' });
  });

  it('needs 32-byte keys', () => {
    expect(() => new SessionSealer([])).toThrow();
    expect(() => new SessionSealer([randomBytes(16)])).toThrow(/32 bytes/);
  });
});

describe('SESSION_KEYS configuration', () => {
  const k1 = randomBytes(32);
  const k2 = randomBytes(32);

  it('reads comma-separated base64 (or base64url) 32-byte keys, first first', () => {
    const config = loadConfig({ SESSION_KEYS: ` ${k1.toString('base64')} ,${k2.toString('base64url')}` });
    expect(config.sessionKeys.map((k) => k.toString('hex'))).toEqual([k1.toString('hex'), k2.toString('hex')]);
    expect(loadConfig({}).sessionKeys).toEqual([]);
  });

  it('is required with DATABASE_URL, and a bad key is named by position without echoing it', () => {
    expect(() => loadConfig({ DATABASE_URL: 'postgres://x@localhost/db' })).toThrow(/SESSION_KEYS is required with DATABASE_URL/);
    expect(loadConfig({ DATABASE_URL: 'postgres://x@localhost/db', SESSION_KEYS: k1.toString('base64') }).sessionKeys).toHaveLength(1);
    const short = randomBytes(16).toString('base64');
    let message = '';
    try {
      loadConfig({ SESSION_KEYS: `${k1.toString('base64')},${short}` });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/SESSION_KEYS: key 2 is not a base64-encoded 32-byte key/);
    expect(message).not.toContain(short);
    expect(() => loadConfig({ SESSION_KEYS: 'not base64 at all!' })).toThrow(/key 1/);
  });

  it('documents the retention default', () => {
    expect(loadConfig({}).explanationRetentionDays).toBe(30);
    expect(loadConfig({ EXPLANATION_RETENTION_DAYS: '0' }).explanationRetentionDays).toBe(0);
  });
});

(pg ? describe : describe.skip)('PostgreSQL session rows', () => {
  let reader: PgPool;
  beforeAll(() => {
    reader = schema!.pool({ max: 1 });
  });

  const row = async (id: string) =>
    (await reader.query<{ id_hash: Buffer; sealed: string; expires_at: string }>('SELECT id_hash, sealed, expires_at FROM app_session WHERE id_hash = $1', [sessionRowKey(id)])).rows[0];

  it('hold neither token text, nor the patient, nor the session id (the cookie)', async () => {
    const store = pgStore();
    const s = session();
    await store.save(s, 60);
    const raw = await row(s.id);
    expect(raw).toBeDefined();
    const dump = JSON.stringify((await reader.query('SELECT * FROM app_session')).rows);
    for (const secret of [ACCESS_TOKEN, REFRESH_TOKEN, 'access-token-secret-text', 'patient-secret-id', 'verifier-xyz', s.id]) expect(dump).not.toContain(secret);
    expect(raw!.sealed).toMatch(/^v1\.[A-Za-z0-9_-]{8}\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/);
  });

  it('reads a tampered row, a row moved to another id, or one sealed with an unknown key as no session, logging only the reason', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, new Writable({ write: (chunk: Buffer, _e, cb) => (lines.push(chunk.toString()), cb()) }));
    const store = pgStore({ logger });
    const s = session();
    await store.save(s, 60);
    const original = (await row(s.id))!.sealed;

    // One character of the ciphertext changed.
    const parts = original.split('.');
    const body = parts[3]!;
    parts[3] = (body[0] === 'A' ? 'B' : 'A') + body.slice(1);
    await reader.query('UPDATE app_session SET sealed = $1 WHERE id_hash = $2', [parts.join('.'), sessionRowKey(s.id)]);
    expect(await store.get(s.id)).toBeUndefined();

    // Another browser's row copied over this id.
    const other = session();
    await store.save(other, 60);
    await reader.query('UPDATE app_session SET sealed = (SELECT sealed FROM app_session WHERE id_hash = $1) WHERE id_hash = $2', [sessionRowKey(other.id), sessionRowKey(s.id)]);
    expect(await store.get(s.id)).toBeUndefined();
    expect(await store.get(other.id)).toEqual(other);

    // Sealed by a replica with a key this one does not have.
    await pgStore({ keys: [key()] }).save(s, 60);
    expect(await store.get(s.id)).toBeUndefined();

    // Garbage.
    await reader.query('UPDATE app_session SET sealed = $1 WHERE id_hash = $2', ['{"accessToken":"x"}', sessionRowKey(s.id)]);
    expect(await store.get(s.id)).toBeUndefined();

    const reasons = lines.map((l) => (JSON.parse(l) as { reason: string }).reason);
    expect(reasons).toEqual(['not-authentic', 'not-authentic', 'unknown-key', 'malformed']);
    const log = lines.join('');
    for (const secret of [s.id, other.id, ACCESS_TOKEN, original.split('.')[3]!]) expect(log).not.toContain(secret);
  });

  it('rotate keys across replicas: the new key seals, the old one still opens until it is dropped', async () => {
    const oldKey = key();
    const newKey = key();
    const s = session();
    await pgStore({ keys: [oldKey] }).save(s, 60);
    const rotated = pgStore({ keys: [newKey, oldKey] });
    expect(await rotated.get(s.id)).toEqual(s);
    await rotated.save(s, 60);
    expect((await row(s.id))!.sealed.split('.')[1]).toBe(sessionKeyId(newKey));
    expect(await pgStore({ keys: [newKey] }).get(s.id)).toEqual(s);
    expect(await pgStore({ keys: [oldKey] }).get(s.id)).toBeUndefined();
  });

  it('sweeps expired rows, and only those', async () => {
    let clock = 2_000_000_000_000;
    const store = pgStore({ now: () => clock });
    const short = session();
    const long = session();
    await store.save(short, 60);
    await store.save(long, 600);
    clock += 120_000;
    expect(await row(short.id)).toBeDefined(); // still there, but invisible
    expect(await store.get(short.id)).toBeUndefined();
    expect(await store.sweep()).toBeGreaterThanOrEqual(1);
    expect(await row(short.id)).toBeUndefined();
    expect(await store.get(long.id)).toEqual(long);
  });

  it('exclusive: work under one key runs one replica at a time, other keys do not wait, errors pass through', async () => {
    const [one, two] = [pgStore(), pgStore()];
    const events: string[] = [];
    const job = (name: string) => async () => {
      events.push(`${name}:start`);
      await new Promise((r) => setTimeout(r, 150));
      events.push(`${name}:end`);
      return name;
    };
    const results = await Promise.all([one.exclusive('sid:ctx', job('a')), two.exclusive('sid:ctx', job('b'))]);
    expect(results).toEqual(['a', 'b']);
    expect(events.slice(0, 2)).toEqual([`${events[0]!.split(':')[0]}:start`, `${events[0]!.split(':')[0]}:end`]);

    const started: number[] = [];
    const t0 = Date.now();
    await Promise.all(['k1', 'k2'].map((k, i) => [one, two][i]!.exclusive(k, async () => {
      started.push(Date.now() - t0);
      await new Promise((r) => setTimeout(r, 800));
    })));
    // Serialised, the second would start after ≥ 800 ms; a wide margin for a busy machine.
    expect(Math.max(...started)).toBeLessThan(600);

    class Expired extends Error {}
    await expect(one.exclusive('sid:ctx', async () => { throw new Expired('gone'); })).rejects.toBeInstanceOf(Expired);
    await expect(two.exclusive('sid:ctx', async () => 'free again')).resolves.toBe('free again');
  });

  it('is shared: a session saved through one pool is read through another (another replica)', async () => {
    const s = session();
    await pgStore().save(s, 60);
    expect(await pgStore().get(s.id)).toEqual(s);
  });
});
