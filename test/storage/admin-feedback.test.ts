/** GET /admin/feedback (src/smart/admin-audit.ts): admin token required, filters by service and card, arrival order. */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';
import { createAdminAuditRouter } from '../../src/smart/admin-audit.js';
import { jsonErrorHandler } from '../../src/http/error-handler.js';
import { createLogger } from '../../src/logger.js';
import { openFeedbackStore, type FeedbackStore, type StoredFeedback } from '../../src/storage/feedback-store.js';
import { StoreUnavailableError } from '../../src/errors.js';

const TOKEN = 'admin-feedback-token-0123456789abcdef';
let store: FeedbackStore;
let server: Server;
let origin: string;
let storeDown = false;

beforeAll(async () => {
  store = openFeedbackStore(':memory:');
  const entry = (card: string) => ({ card, outcome: 'overridden' as const, overrideReason: { userComment: `about ${card}` }, outcomeTimestamp: '2026-01-01T00:00:00Z' });
  await store.add('svc-a', [entry('c1'), entry('c2')], { receivedAt: '2026-01-01T00:00:01Z' });
  await store.add('svc-b', [entry('c1')], { receivedAt: '2026-01-01T00:00:02Z' });
  const app = express();
  const feedback = { list: (f?: Parameters<FeedbackStore['list']>[0]) => (storeDown ? Promise.reject(new StoreUnavailableError()) : store.list(f)) };
  app.use('/admin', createAdminAuditRouter({ adminToken: TOKEN, store: { list: async () => [] }, feedback }));
  app.use(jsonErrorHandler(createLogger('silent')));
  server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await store.close();
});

const get = (q: string, token = TOKEN) => fetch(`${origin}/admin/feedback${q}`, token ? { headers: { authorization: `Bearer ${token}` } } : {});

describe('GET /admin/feedback', () => {
  it('401 without the admin token or with a wrong one', async () => {
    expect((await get('', '')).status).toBe(401);
    const wrong = await get('', 'nope');
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('www-authenticate')).toMatch(/^Bearer realm="vigil-admin"/);
  });

  it('lists everything in arrival order, or what a service / card filter selects; never cached', async () => {
    const all = await get('');
    expect(all.status).toBe(200);
    expect(all.headers.get('cache-control')).toBe('no-store');
    const body = (await all.json()) as { feedback: StoredFeedback[] };
    expect(body.feedback.map((f) => [f.serviceId, f.card])).toEqual([['svc-a', 'c1'], ['svc-a', 'c2'], ['svc-b', 'c1']]);
    const byService = (await (await get('?service=svc-b')).json()) as { feedback: StoredFeedback[] };
    expect(byService.feedback).toEqual([expect.objectContaining({ serviceId: 'svc-b', card: 'c1', overrideReason: { userComment: 'about c1' } })]);
    const byCard = (await (await get('?card=c1')).json()) as { feedback: StoredFeedback[] };
    expect(byCard.feedback.map((f) => f.serviceId)).toEqual(['svc-a', 'svc-b']);
    expect(((await (await get('?service=svc-a&card=c2')).json()) as { feedback: StoredFeedback[] }).feedback).toHaveLength(1);
  });

  it('503 while the store is unavailable', async () => {
    storeDown = true;
    try {
      const res = await get('');
      expect(res.status).toBe(503);
      expect(await res.json()).toMatchObject({ error: 'service_unavailable' });
    } finally {
      storeDown = false;
    }
  });
});
