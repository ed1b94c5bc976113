/**
 * The explanation view's server side over real HTTP with the sandbox: the built page at /app (CSP, caching),
 * the token-holding proxy to GET /explanations/{id}, /patients/{id}/explanations/latest and /models/{id}/card, and feedback stored in the CDS
 * feedback store — refused for another patient's explanation.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createVigil, type Vigil } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { openFeedbackStore } from '../../src/storage/feedback-store.js';
import type { ExplanationRecord } from '../../src/explanations/record.js';
import type { LatestExplanations } from '../../src/explanations/router.js';
import { CookieBrowser, buildWeb, ehrLaunchUrl, explanationIdFor, finishCallback, toCallback } from './helpers.js';

const SEPTIC_A = 'fa470b46-b649-4f03-a9e5-c2e3f483524c';
const SEPTIC_B = '15af1070-1ad4-4800-bd3f-f6a70ff55dac';

let tmp: string;
let vigil: Vigil;
let server: Server;
let origin: string;
let explanationA: string;
let explanationB: string;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-web-api-'));
  await buildWeb(path.join(tmp, 'web'));
  vigil = await createVigil(loadConfig({ DATA_DIR: tmp, SANDBOX: 'on', LOG_LEVEL: 'silent' }), { webDir: path.join(tmp, 'web') });
  server = vigil.app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  explanationA = await explanationIdFor(origin, SEPTIC_A);
  explanationB = await explanationIdFor(origin, SEPTIC_B);
}, 120_000);

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await vigil.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

async function launchFor(patientId: string, explanationId: string): Promise<{ browser: CookieBrowser; ctx: string }> {
  const browser = new CookieBrowser();
  const ctx = await finishCallback(browser, await toCallback(browser, await ehrLaunchUrl(origin, patientId, JSON.stringify({ explanationId }))));
  return { browser, ctx };
}

function call(b: { browser: CookieBrowser; ctx: string }, rel: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set('X-Vigil-Context', b.ctx);
  return b.browser.request(`${origin}/app/api/${rel}`, { ...init, headers });
}

function postFeedback(b: { browser: CookieBrowser; ctx: string }, body: unknown): Promise<Response> {
  return call(b, 'feedback', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
}

describe('the page', () => {
  it('serves the built view at /app with a strict CSP, never cached; hashed assets cached for good', async () => {
    const res = await fetch(`${origin}/app/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const csp = res.headers.get('content-security-policy')!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    const html = await res.text();
    const asset = /src="(\/app\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(asset).toBeTruthy();
    const js = await fetch(`${origin}${asset}`);
    expect(js.status).toBe(200);
    expect(js.headers.get('cache-control')).toContain('immutable');
    expect((await fetch(`${origin}/app/assets/nope.js`)).status).toBe(404);
  });
});

describe('/app/api', () => {
  it('reads the launched explanation and the model card with the session token', async () => {
    const a = await launchFor(SEPTIC_A, explanationA);
    const context = (await (await call(a, 'context')).json()) as { appContext: string; feedbackReasons: unknown[] };
    expect(JSON.parse(context.appContext)).toEqual({ explanationId: explanationA });
    expect(context.feedbackReasons.length).toBeGreaterThan(0);
    const res = await call(a, `explanations/${explanationA}`);
    expect(res.status).toBe(200);
    const record = (await res.json()) as ExplanationRecord;
    expect(record.patientId).toBe(SEPTIC_A);
    expect(record.serviceId).toBe('vigil-deterioration');
    expect(record.factors.length).toBeGreaterThan(0);
    expect(record.attributions?.hourStarts.length).toBeGreaterThan(0);
    const card = (await (await call(a, `models/${record.model.id}/card`)).json()) as { id: string };
    expect(card.id).toBe(record.model.id);
  });

  it("refuses another patient's explanation (403), also for feedback, and stores nothing", async () => {
    const a = await launchFor(SEPTIC_A, explanationA);
    expect((await call(a, `explanations/${explanationB}`)).status).toBe(403);
    const refused = await postFeedback(a, { explanationId: explanationB, outcome: 'agree' });
    expect(refused.status).toBe(403);
    const store = openFeedbackStore(tmp);
    try {
      const record = (await (await call(await launchFor(SEPTIC_B, explanationB), `explanations/${explanationB}`)).json()) as ExplanationRecord;
      expect(await store.list({ card: record.cardUuid })).toHaveLength(0);
    } finally {
      await store.close();
    }
  });

  it("lists the launched patient's newest explanation of each model; another patient's list is refused (403)", async () => {
    const a = await launchFor(SEPTIC_A, explanationA);
    const res = await call(a, `patients/${SEPTIC_A}/explanations/latest`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as LatestExplanations;
    expect(body.patientId).toBe(SEPTIC_A);
    expect(body.explanations.find((e) => e.model.id === 'deterioration')).toMatchObject({ serviceId: 'vigil-deterioration', band: expect.any(String) });
    expect(body.explanations.every((e) => e.id !== explanationB)).toBe(true);
    expect((await call(a, `patients/${SEPTIC_B}/explanations/latest`)).status).toBe(403);
    expect((await call(a, 'patients/..%2Fx/explanations/latest')).status).toBe(400);
  });

  it('stores agree and override (with its coded reason) against the explained card, as CDS Hooks feedback', async () => {
    const a = await launchFor(SEPTIC_A, explanationA);
    const record = (await (await call(a, `explanations/${explanationA}`)).json()) as ExplanationRecord;
    // The record, not the page, decides which service and card the feedback is about.
    const agree = await postFeedback(a, { explanationId: explanationA, outcome: 'agree', serviceId: 'news2', card: 'forged' });
    expect(agree.status).toBe(201);
    expect(await agree.json()).toMatchObject({ serviceId: 'vigil-deterioration', card: record.cardUuid, outcome: 'agree' });
    const override = await postFeedback(a, { explanationId: explanationA, outcome: 'override', reasonCode: 'already-treated', comment: 'on antibiotics since 02:00' });
    expect(override.status).toBe(201);

    const store = openFeedbackStore(tmp);
    try {
      const stored = await store.list({ serviceId: 'vigil-deterioration', card: record.cardUuid });
      expect(stored.map((s) => s.outcome)).toEqual(['accepted', 'overridden']);
      expect(stored[1]!.overrideReason).toEqual({
        reason: { system: 'http://vigil.example.org/CodeSystem/explanation-override-reason', code: 'already-treated', display: 'Already recognised and being treated' },
        userComment: 'on antibiotics since 02:00',
      });
    } finally {
      await store.close();
    }
  });

  it('refuses an override without a reason, and malformed feedback, with 400', async () => {
    const a = await launchFor(SEPTIC_A, explanationA);
    expect((await postFeedback(a, { explanationId: explanationA, outcome: 'override' })).status).toBe(400);
    expect((await postFeedback(a, { explanationId: explanationA, outcome: 'override', reasonCode: 'made-up' })).status).toBe(400);
    expect((await postFeedback(a, { explanationId: '../x', outcome: 'agree' })).status).toBe(400);
    expect((await postFeedback(a, { explanationId: explanationA, outcome: 'agree', extra: 1 })).status).toBe(400);
  });

  it('without a session, every call answers 401 with the re-launch message', async () => {
    const res = await fetch(`${origin}/app/api/explanations/${explanationA}`, { headers: { 'X-Vigil-Context': 'a'.repeat(22) } });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { message: string }).message).toContain("Open Vigil again from the patient's chart");
  });
});

describe('an EHR that cannot be reached', () => {
  it('becomes a page in clinician words (502), not a stack trace', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-web-down-'));
    // PUBLIC_BASE_URL names a port nothing listens on: the sandbox issuer is allowed but unreachable.
    const other = await createVigil(loadConfig({ DATA_DIR: dir, SANDBOX: 'on', LOG_LEVEL: 'silent', PUBLIC_BASE_URL: 'http://127.0.0.1:1' }), { webDir: path.join(tmp, 'web') });
    const srv = other.app.listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => srv.once('listening', () => resolve()));
    const local = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
    try {
      const launch = (await (
        await fetch(`${local}/sandbox/auth/launch`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ patientId: SEPTIC_A }) })
      ).json()) as { launch: string; iss: string };
      expect(launch.iss).toBe('http://127.0.0.1:1/sandbox/fhir');
      const res = await new CookieBrowser().get(`${local}/app/launch?iss=${encodeURIComponent(launch.iss)}&launch=${launch.launch}`);
      expect(res.status).toBe(502);
      const page = await res.text();
      expect(page).toContain('The EHR could not be reached');
      expect(page).toContain('Try again in a minute');
    } finally {
      srv.closeAllConnections();
      await new Promise<void>((resolve) => srv.close(() => resolve()));
      await other.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
