import { afterEach, describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import express from 'express';
import request from 'supertest';
import { createCdsHooksRouter } from '../../src/cds-hooks/router.js';
import type { CdsService } from '../../src/cds-hooks/types.js';
import { openFeedbackStore, type FeedbackStore } from '../../src/storage/feedback-store.js';
import { silentLogger, testConfig } from './helpers.js';
import { storageBackends } from '../storage/backends.js';

const service: CdsService = {
  definition: { id: 'svc', hook: 'patient-view', description: 'test' },
  async handle() {
    return { cards: [] };
  },
};

const dirs: string[] = [];
const stores: FeedbackStore[] = [];
// Awaited before the directories go: close() is asynchronous in the FeedbackStore interface.
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

function appWith(store: FeedbackStore): express.Express {
  const app = express();
  app.use('/cds-services', createCdsHooksRouter({ config: testConfig(), logger: silentLogger, services: [service], feedbackStore: store }));
  return app;
}

const ok = {
  card: '4e0a3a1e-3283-4575-ab82-028d55fe2719',
  outcome: 'accepted',
  acceptedSuggestions: [{ id: 'e56e1945-20b3-4393-8503-a1a20fd73152' }],
  outcomeTimestamp: '2020-12-11T00:00:00Z',
};
const overridden = {
  card: '9368d37b-283f-44a0-93ea-547cebab93ed',
  outcome: 'overridden',
  overrideReason: { reason: { code: 'd7ecf885', system: 'https://example.com/override' }, userComment: 'A comment' },
  outcomeTimestamp: '2020-12-11T00:00:00.123+01:00',
};

describe('POST /cds-services/{id}/feedback', () => {
  it('stores feedback durably: it survives reopening the SQLite file', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-fb-'));
    dirs.push(dir);
    const store = openFeedbackStore(dir);
    const res = await request(appWith(store))
      .post('/cds-services/svc/feedback')
      .send({ feedback: [ok, overridden, { card: 'c3', outcome: 'overridden', outcomeTimestamp: '2020-12-11T00:00:00Z' }] })
      .expect(200);
    expect(res.body).toEqual({});
    await store.close();

    const reopened = openFeedbackStore(dir);
    stores.push(reopened);
    const rows = await reopened.list({ serviceId: 'svc' });
    expect(rows.map((r) => [r.card, r.outcome])).toEqual([
      [ok.card, 'accepted'],
      [overridden.card, 'overridden'],
      ['c3', 'overridden'],
    ]);
    expect(rows[0]!.acceptedSuggestions).toEqual(ok.acceptedSuggestions);
    expect(rows[1]!.overrideReason).toEqual(overridden.overrideReason);
    expect(Date.parse(rows[0]!.receivedAt)).not.toBeNaN();
  });

  it('keeps only the spec fields', async () => {
    const store = openFeedbackStore(':memory:');
    stores.push(store);
    await request(appWith(store))
      .post('/cds-services/svc/feedback')
      .send({ feedback: [{ ...ok, extra: 'x', acceptedSuggestions: [{ id: 's', junk: 1 }] }] })
      .expect(200);
    const [row] = await store.list();
    expect(row).not.toHaveProperty('extra');
    expect(row!.acceptedSuggestions).toEqual([{ id: 's' }]);
  });

  const bad: Array<[string, unknown, string]> = [
    ['no feedback array', {}, 'feedback'],
    ['feedback not an array', { feedback: ok }, 'feedback'],
    ['empty feedback', { feedback: [] }, 'feedback'],
    ['entry not an object', { feedback: ['x'] }, 'feedback[0]'],
    ['missing card', { feedback: [{ ...ok, card: undefined }] }, 'feedback[0].card'],
    ['missing outcome', { feedback: [{ ...ok, outcome: undefined }] }, 'feedback[0].outcome'],
    ['unknown outcome', { feedback: [{ ...ok, outcome: 'ignored' }] }, 'feedback[0].outcome'],
    ['accepted without acceptedSuggestions', { feedback: [{ ...ok, acceptedSuggestions: undefined }] }, 'feedback[0].acceptedSuggestions'],
    ['accepted with empty acceptedSuggestions', { feedback: [{ ...ok, acceptedSuggestions: [] }] }, 'feedback[0].acceptedSuggestions'],
    ['acceptedSuggestion without id', { feedback: [{ ...ok, acceptedSuggestions: [{}] }] }, 'feedback[0].acceptedSuggestions[0].id'],
    ['overridden with acceptedSuggestions', { feedback: [{ ...overridden, acceptedSuggestions: [{ id: 'x' }] }] }, 'feedback[0].acceptedSuggestions'],
    ['accepted with overrideReason', { feedback: [{ ...ok, overrideReason: { userComment: 'x' } }] }, 'feedback[0].overrideReason'],
    ['empty overrideReason', { feedback: [{ ...overridden, overrideReason: {} }] }, 'feedback[0].overrideReason'],
    ['reason without system', { feedback: [{ ...overridden, overrideReason: { reason: { code: 'x' } } }] }, 'feedback[0].overrideReason.reason.system'],
    ['reason without code', { feedback: [{ ...overridden, overrideReason: { reason: { system: 'x' } } }] }, 'feedback[0].overrideReason.reason.code'],
    ['userComment not a string', { feedback: [{ ...overridden, overrideReason: { userComment: 5 } }] }, 'feedback[0].overrideReason.userComment'],
    ['missing outcomeTimestamp', { feedback: [{ ...ok, outcomeTimestamp: undefined }] }, 'feedback[0].outcomeTimestamp'],
    ['date-only outcomeTimestamp', { feedback: [{ ...ok, outcomeTimestamp: '2020-12-11' }] }, 'feedback[0].outcomeTimestamp'],
    ['outcomeTimestamp without zone', { feedback: [{ ...ok, outcomeTimestamp: '2020-12-11T00:00:00' }] }, 'feedback[0].outcomeTimestamp'],
    ['impossible outcomeTimestamp', { feedback: [{ ...ok, outcomeTimestamp: '2020-13-45T00:00:00Z' }] }, 'feedback[0].outcomeTimestamp'],
    ['second entry bad', { feedback: [ok, { ...ok, card: '' }] }, 'feedback[1].card'],
  ];

  it.each(bad)('400 for %s, naming %s, storing nothing', async (_name, body, field) => {
    const store = openFeedbackStore(':memory:');
    stores.push(store);
    const res = await request(appWith(store)).post('/cds-services/svc/feedback').send(body as object).expect(400);
    expect(res.body.error).toBe('bad_request');
    expect(res.body.details.map((d: { field: string }) => d.field)).toContain(field);
    expect(await store.list()).toEqual([]);
  });

  it('415 for non-JSON, 400 for malformed JSON, 404 for an unknown service', async () => {
    const store = openFeedbackStore(':memory:');
    stores.push(store);
    const app = appWith(store);
    await request(app).post('/cds-services/svc/feedback').set('Content-Type', 'text/plain').send('x').expect(415);
    await request(app).post('/cds-services/svc/feedback').set('Content-Type', 'application/json').send('{"feedback":').expect(400);
    await request(app).post('/cds-services/other/feedback').send({ feedback: [ok] }).expect(404);
    await request(app).get('/cds-services/svc/feedback').expect(404);
  });
});

// The same route on each storage back end (SQLite, and PostgreSQL when available): what a 200 acknowledged
// is there after a reopen (another replica), and a 400 stores nothing.
describe.each(await storageBackends())('POST /cds-services/{id}/feedback on $name', (backend) => {
  it('stores the batch durably and whole; a refused batch stores nothing', async () => {
    const target = await backend.create();
    try {
      const app = appWith(target.openFeedback());
      await request(app).post('/cds-services/svc/feedback').send({ feedback: [ok, overridden] }).expect(200);
      await request(app).post('/cds-services/svc/feedback').send({ feedback: [ok, { ...ok, card: '' }] }).expect(400);
      const rows = await target.openFeedback().list({ serviceId: 'svc' });
      expect(rows.map((r) => [r.card, r.outcome])).toEqual([
        [ok.card, 'accepted'],
        [overridden.card, 'overridden'],
      ]);
      expect(rows[1]!.overrideReason).toEqual(overridden.overrideReason);
    } finally {
      await target.dispose();
    }
  });
});
