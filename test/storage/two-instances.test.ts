/**
 * Two replicas on one PostgreSQL database (issue 9 §State that scales): two whole Vigil apps, each on its
 * own port with its own pool and DATA_DIR, behind one public URL. A client JWT (real ES256 signature)
 * accepted by A is refused when replayed to B; feedback posted to either is listed by both; an AuditEvent
 * A wrote is served by B's /admin/audit.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import type { Bundle } from 'fhir/r4';
import type { StoredFeedback } from '../../src/storage/feedback-store.js';
import { makeKey, mintClientJwt, type TestKey } from '../smart/helpers.js';
import { createTestSchema, pgAvailable, type TestSchema } from './pg-test-db.js';
import { ISSUER, PUBLIC_BASE_URL, adminGet, news2Hook, postJson, startReplica, type Replica } from './vigil-instance.js';

const available = await pgAvailable();

(available ? describe : describe.skip)('two Vigil replicas on one PostgreSQL database', () => {
  let schema: TestSchema;
  let key: TestKey;
  let a: Replica;
  let b: Replica;

  beforeAll(async () => {
    schema = await createTestSchema();
    key = await makeKey('ES256', 'replicas-1');
    // Started together, as a rolling deployment would: table creation is serialised by the schema lock.
    [a, b] = await Promise.all([startReplica({ key, pool: schema.pool() }), startReplica({ key, pool: schema.pool() })]);
  }, 30_000);

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await schema?.drop();
  });

  const mint = (servicePath: string) => mintClientJwt({ key, iss: ISSUER, aud: `${PUBLIC_BASE_URL}${servicePath}` });

  it('uses PostgreSQL for its stores, and both replicas are ready', async () => {
    for (const replica of [a, b]) {
      const res = await fetch(`${replica.origin}/readyz`);
      const body = (await res.json()) as { checks: Array<{ name: string; ok: boolean }> };
      expect(body.checks.find((c) => c.name === 'database')).toMatchObject({ ok: true });
      expect(body.checks.map((c) => c.name)).not.toContain('security-store');
    }
  });

  it('refuses on B a client JWT already used on A (jti replay across replicas)', async () => {
    const token = await mint('/cds-services/vigil-news2');
    const first = await postJson(`${a.origin}/cds-services/vigil-news2`, news2Hook('p-replay'), token);
    expect(first.status).toBe(200);
    expect(((await first.json()) as { cards: unknown[] }).cards.length).toBeGreaterThan(0);

    const replayed = await postJson(`${b.origin}/cds-services/vigil-news2`, news2Hook('p-replay'), token);
    expect(replayed.status).toBe(401);
    expect(await replayed.json()).toMatchObject({ error: 'unauthorized' });
    // And on A itself, of course.
    expect((await postJson(`${a.origin}/cds-services/vigil-news2`, news2Hook('p-replay'), token)).status).toBe(401);
    // A fresh token is fine on B.
    expect((await postJson(`${b.origin}/cds-services/vigil-news2`, news2Hook('p-replay'), await mint('/cds-services/vigil-news2'))).status).toBe(200);
  });

  it('lets exactly one of two simultaneous uses of one token through', async () => {
    const token = await mint('/cds-services/vigil-news2');
    const statuses = await Promise.all([a, b, a, b].map((r) => postJson(`${r.origin}/cds-services/vigil-news2`, news2Hook('p-race'), token).then((res) => res.status)));
    expect(statuses.sort()).toEqual([200, 401, 401, 401]);
  });

  it('shows feedback posted to A and to B on both', async () => {
    const cards = [randomUUID(), randomUUID()];
    const path = '/cds-services/vigil-news2/feedback';
    for (const [replica, card] of [[a, cards[0]!], [b, cards[1]!]] as const) {
      const body = { feedback: [{ card, outcome: 'overridden', overrideReason: { userComment: 'seen already' }, outcomeTimestamp: new Date().toISOString() }] };
      expect((await postJson(`${replica.origin}${path}`, body, await mint(path))).status).toBe(200);
    }
    for (const replica of [a, b]) {
      const res = await adminGet(replica.origin, '/admin/feedback?service=vigil-news2');
      expect(res.status).toBe(200);
      const { feedback } = (await res.json()) as { feedback: StoredFeedback[] };
      expect(feedback.map((f) => f.card)).toEqual(expect.arrayContaining(cards));
      expect(feedback.find((f) => f.card === cards[1])).toMatchObject({ serviceId: 'vigil-news2', outcome: 'overridden', overrideReason: { userComment: 'seen already' } });
    }
  });

  it("serves on B's /admin/audit the AuditEvent A recorded for a hook call", async () => {
    const patient = `p-audit-${randomUUID().slice(0, 8)}`;
    expect((await postJson(`${a.origin}/cds-services/vigil-news2`, news2Hook(patient), await mint('/cds-services/vigil-news2'))).status).toBe(200);
    // A commits its batch within its flush window (5 ms); allow a busy CI machine far more.
    let bundle: Bundle | undefined;
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const res = await adminGet(b.origin, `/admin/audit?patient=${patient}`);
      expect(res.status).toBe(200);
      bundle = (await res.json()) as Bundle;
      if (bundle.total) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(bundle?.total).toBe(1);
    expect(bundle?.entry?.[0]?.resource).toMatchObject({
      resourceType: 'AuditEvent',
      outcome: '0',
      outcomeDesc: 'cds-hook vigil-news2',
      agent: [{ who: { identifier: { value: ISSUER } } }],
      entity: [{ what: { reference: `Patient/${patient}` } }],
    });
  });
});
