/**
 * Database unavailable (issue 9 §Faults) with PostgreSQL: the app's pool goes through a TCP proxy on
 * localhost that the test can cut (open and new connections reset), turn into a black hole (accepted,
 * never answered), and restore — the real PostgreSQL server is never touched, and the proxy's port stays
 * bound from start to end (no re-bind another process could race). While the database is gone:
 * hook calls fail closed with 503 (a token whose jti cannot be checked is never accepted), feedback and the
 * admin reads answer 503, /readyz is 503 naming the database, /healthz stays 200. Once it is back,
 * everything recovers without a restart. Audit events recorded during an outage are kept and written
 * after it.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import net from 'node:net';
import { randomUUID } from 'node:crypto';
import type { AuditEvent } from 'fhir/r4';
import { StoreUnavailableError } from '../../src/errors.js';
import { openPgAuditStore } from '../../src/storage/audit-store-pg.js';
import { openPgPool, type PgPool } from '../../src/storage/postgres.js';
import { makeKey, mintClientJwt, type TestKey } from '../smart/helpers.js';
import { createTestSchema, pgAvailable, PG_TEST_URL, type TestSchema } from '../storage/pg-test-db.js';
import { ISSUER, PUBLIC_BASE_URL, adminGet, news2Hook, postJson, startReplica, type Replica } from '../storage/vigil-instance.js';

type Mode = 'up' | 'refuse' | 'blackhole';

/** A TCP proxy in front of PostgreSQL whose behaviour the test switches. */
class SwitchableProxy {
  readonly #target: { host: string; port: number };
  readonly #sockets = new Set<net.Socket>();
  #server: net.Server | undefined;
  #mode: Mode = 'up';
  port = 0;

  constructor(target: { host: string; port: number }) {
    this.#target = target;
  }

  async listen(): Promise<void> {
    const server = net.createServer((client) => {
      this.#sockets.add(client);
      client.on('close', () => this.#sockets.delete(client));
      client.on('error', () => undefined);
      if (this.#mode === 'refuse') {
        client.resetAndDestroy();
        return;
      }
      if (this.#mode === 'blackhole') return; // accepted, never answered
      const upstream = net.connect(this.#target.port, this.#target.host);
      this.#sockets.add(upstream);
      upstream.on('close', () => {
        this.#sockets.delete(upstream);
        client.destroy();
      });
      upstream.on('error', () => client.destroy());
      client.on('close', () => upstream.destroy());
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    this.#server = server;
    this.port = (server.address() as net.AddressInfo).port;
  }

  #dropAll(): void {
    for (const s of this.#sockets) s.destroy();
    this.#sockets.clear();
  }

  /**
   * Database gone: open connections reset, new ones reset at once. The port stays bound throughout: closing
   * the listener and binding the port again later would race any other process for it.
   */
  async refuse(): Promise<void> {
    this.#mode = 'refuse';
    this.#dropAll();
  }

  /** Database hung: open connections reset, new ones accepted and never answered. */
  async blackhole(): Promise<void> {
    this.#mode = 'blackhole';
    this.#dropAll();
  }

  async up(): Promise<void> {
    this.#mode = 'up';
    this.#dropAll();
  }

  async close(): Promise<void> {
    this.#mode = 'refuse';
    this.#dropAll();
    const server = this.#server;
    this.#server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

const available = await pgAvailable();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Retries `probe` until it returns true or `ms` pass. */
async function eventually(probe: () => Promise<boolean>, ms = 15_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await probe()) return true;
    await sleep(100);
  }
  return false;
}

(available ? describe : describe.skip)('PostgreSQL unavailable', () => {
  let schema: TestSchema;
  let proxy: SwitchableProxy;
  let pool: PgPool;
  let key: TestKey;
  let app: Replica;

  beforeAll(async () => {
    schema = await createTestSchema();
    const target = new URL(PG_TEST_URL);
    proxy = new SwitchableProxy({ host: target.hostname, port: Number(target.port || 5432) });
    await proxy.listen();
    const viaProxy = new URL(PG_TEST_URL);
    viaProxy.port = String(proxy.port);
    // Short connection time-out: a hung database must not hold a hook call for long.
    pool = openPgPool(viaProxy.toString(), { schema: schema.schema, connectionTimeoutMs: 1000, statementTimeoutMs: 2000 });
    key = await makeKey('ES256', 'faults-1');
    app = await startReplica({ key, pool });
  }, 30_000);

  afterAll(async () => {
    await app?.stop();
    await proxy?.up();
    await pool?.end();
    await proxy?.close();
    await schema?.drop();
  });

  const hookPath = '/cds-services/vigil-news2';
  const feedbackPath = '/cds-services/vigil-news2/feedback';
  const mint = (p: string) => mintClientJwt({ key, iss: ISSUER, aud: `${PUBLIC_BASE_URL}${p}` });
  const callHook = async () => postJson(`${app.origin}${hookPath}`, news2Hook('p-fault'), await mint(hookPath));
  const postFeedback = async () =>
    postJson(`${app.origin}${feedbackPath}`, { feedback: [{ card: randomUUID(), outcome: 'overridden', outcomeTimestamp: new Date().toISOString() }] }, await mint(feedbackPath));
  const readyz = async () => {
    const res = await fetch(`${app.origin}/readyz`);
    return { status: res.status, body: (await res.json()) as { checks: Array<{ name: string; ok: boolean; reason?: string }> } };
  };

  async function expectUnavailable(): Promise<void> {
    const hook = await callHook();
    expect(hook.status).toBe(503);
    expect(await hook.json()).toMatchObject({ error: 'service_unavailable', message: expect.stringMatching(/storage/i) });
    expect((await postFeedback()).status).toBe(503);
    expect((await adminGet(app.origin, '/admin/audit')).status).toBe(503);
    expect((await adminGet(app.origin, '/admin/feedback')).status).toBe(503);
    const ready = await readyz();
    expect(ready.status).toBe(503);
    expect(ready.body.checks.find((c) => c.name === 'database')).toMatchObject({ ok: false, reason: expect.any(String) });
    expect((await fetch(`${app.origin}/healthz`)).status).toBe(200);
  }

  async function expectRecovered(): Promise<void> {
    expect(await eventually(async () => (await callHook()).status === 200)).toBe(true);
    expect((await postFeedback()).status).toBe(200);
    expect((await readyz()).status).toBe(200);
    expect((await adminGet(app.origin, '/admin/feedback')).status).toBe(200);
  }

  it('works through the proxy while the database is up', async () => {
    expect((await callHook()).status).toBe(200);
    expect((await postFeedback()).status).toBe(200);
    expect((await readyz()).status).toBe(200);
  });

  it('database down (every connection reset at once): 503 everywhere the store is needed, fail closed, then recovery', async () => {
    await proxy.refuse();
    const started = Date.now();
    await expectUnavailable();
    // Reset connections fail fast: nothing waits for a time-out.
    expect(Date.now() - started).toBeLessThan(10_000);
    await proxy.up();
    await expectRecovered();
  }, 60_000);

  it('database hung (connections never answered): 503 within the connection time-out, then recovery', async () => {
    await proxy.blackhole();
    const started = Date.now();
    const hook = await callHook();
    expect(hook.status).toBe(503);
    expect(Date.now() - started).toBeLessThan(8_000);
    const ready = await readyz();
    expect(ready.status).toBe(503);
    await proxy.up();
    await expectRecovered();
  }, 60_000);

  it('a token refused during the outage was never recorded; one accepted before is still refused after', async () => {
    const token = await mint(hookPath);
    expect((await postJson(`${app.origin}${hookPath}`, news2Hook('p-fault'), token)).status).toBe(200);
    await proxy.refuse();
    expect((await postJson(`${app.origin}${hookPath}`, news2Hook('p-fault'), token)).status).toBe(503);
    await proxy.up();
    expect(await eventually(async () => (await postJson(`${app.origin}${hookPath}`, news2Hook('p-fault'), token)).status === 401)).toBe(true);
  }, 60_000);

  it('keeps audit events recorded during an outage and writes them once the database is back', async () => {
    const store = openPgAuditStore(pool, { flushMs: 10 });
    const event = (id: string): AuditEvent => ({
      resourceType: 'AuditEvent',
      id,
      type: { code: 'rest' },
      recorded: new Date().toISOString(),
      agent: [{ requestor: true, who: { identifier: { value: 'client-1' } } }],
      source: { observer: { display: 'vigil' } },
      entity: [{ what: { reference: 'Patient/p-outage' }, role: { code: '1' } }],
    });
    await proxy.refuse();
    for (let i = 0; i < 5; i++) store.record(event(`outage-${i}`));
    const failed = await store.flush().then(() => undefined, (err: unknown) => err);
    expect(failed).toBeInstanceOf(StoreUnavailableError);
    // Kept for the retry, and visible to operators (vigil_audit_events_pending).
    expect(store.pending).toBe(5);
    await proxy.up();
    // The store retries by itself (back-off); no further record() or flush() is needed.
    const direct = schema.pool({ max: 1 });
    expect(
      await eventually(async () => {
        const { rows } = await direct.query<{ n: string }>("SELECT count(*) AS n FROM audit_event WHERE patient_id = 'p-outage'");
        return rows[0]!.n === '5';
      }),
    ).toBe(true);
    expect((await store.list({ patientId: 'p-outage' })).map((e) => e.id)).toEqual(['outage-4', 'outage-3', 'outage-2', 'outage-1', 'outage-0']);
    expect(store.pending).toBe(0);
    await store.close();
  }, 60_000);
});
