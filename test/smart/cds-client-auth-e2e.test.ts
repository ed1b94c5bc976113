/**
 * End to end over real HTTP: the whole app (createVigil, sandbox on) listening on an ephemeral port. The
 * sandbox EHR builds and signs a hook call exactly as its page does; the CDS service verifies that JWT
 * (inline sandbox keys, allow-listed jku) and answers. Unsigned, replayed and re-targeted calls are refused.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { AuditEvent } from 'fhir/r4';
import { createVigil, type Vigil } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { capturingLogger } from './helpers.js';
import { listenVigil, type ListeningVigil } from '../cds-hooks/helpers.js';

let tmp: string;
let vigil: Vigil;
let listening: ListeningVigil;
let origin: string;
let lines: string[];
const ADMIN_TOKEN = 'test-admin-token-0123456789abcdef';

interface HookCall {
  url: string;
  headers: Record<string, string>;
  body: Record<string, unknown>;
}

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-auth-e2e-'));
  const captured = capturingLogger('info');
  lines = captured.lines;
  vigil = await createVigil(loadConfig({ DATA_DIR: tmp, SANDBOX: 'on', ADMIN_TOKEN, LOG_LEVEL: 'debug' }), { logger: captured.logger });
  listening = await listenVigil(vigil);
  origin = listening.origin;
}, 60_000);

afterAll(async () => {
  await listening.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

async function json(res: Response): Promise<Record<string, unknown>> {
  return (await res.json()) as Record<string, unknown>;
}

async function sandboxHookCall(): Promise<HookCall> {
  const services = (await json(await fetch(`${origin}/sandbox/api/services`))).services as Array<{ id: string; hook: string }>;
  const service = services.find((s) => s.hook === 'patient-view')!;
  const patients = (await json(await fetch(`${origin}/sandbox/api/patients`))).patients as Array<{ id: string }>;
  const res = await fetch(`${origin}/sandbox/api/hook-request`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ serviceId: service.id, hook: 'patient-view', patientId: patients[0]!.id }),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as HookCall;
}

function send(call: HookCall, headers: Record<string, string> = call.headers, url = call.url): Promise<Response> {
  return fetch(url, { method: 'POST', headers, body: JSON.stringify(call.body) });
}

describe('CDS client authentication in the assembled app', () => {
  it('discovery is public', async () => {
    const res = await fetch(`${origin}/cds-services`);
    expect(res.status).toBe(200);
  });

  it("accepts the sandbox EHR's own signed hook call, and refuses its replay", async () => {
    const call = await sandboxHookCall();
    expect(call.headers.Authorization).toMatch(/^Bearer /);
    const first = await send(call);
    expect(first.status).toBe(200);
    expect(Array.isArray((await json(first)).cards)).toBe(true);

    const replay = await send(call);
    expect(replay.status).toBe(401);
    expect(replay.headers.get('www-authenticate')).toContain('error="invalid_token"');
  });

  it('refuses the call without its JWT', async () => {
    const call = await sandboxHookCall();
    const res = await send(call, { 'Content-Type': 'application/json' });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="cds-services"');
  });

  it('refuses a JWT minted for one endpoint when sent to another (aud)', async () => {
    const call = await sandboxHookCall();
    const res = await send(call, call.headers, `${call.url}/feedback`);
    expect(res.status).toBe(401);
  });

  it('accepts sandbox feedback signed for the feedback endpoint', async () => {
    const services = (await json(await fetch(`${origin}/sandbox/api/services`))).services as Array<{ id: string }>;
    const built = await fetch(`${origin}/sandbox/api/feedback-request`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ serviceId: services[0]!.id, feedback: [{ card: '5d0ab1d4-5a3c-4bb1-9a1e-2f9f7a1b2c3d', outcome: 'overridden' }] }),
    });
    const call = (await built.json()) as HookCall;
    expect((await send(call)).status).toBe(200);
  });

  it('never logs a token', () => {
    const log = lines.join('\n');
    expect(log).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/);
    expect(log).toContain('"reason":"replayed"');
  });
});

describe('audit trail', () => {
  it('records one AuditEvent per accepted hook call, queryable by patient with the admin token only', async () => {
    const call = await sandboxHookCall();
    const patientId = (call.body.context as { patientId: string }).patientId;
    const before = await fetch(`${origin}/admin/audit?patient=${patientId}`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } });
    const countBefore = ((await before.json()) as { entry?: unknown[] }).entry?.length ?? 0;
    expect((await send(call)).status).toBe(200);
    expect((await send(call)).status).toBe(401); // the replay is refused before any data is touched: not audited

    const res = await fetch(`${origin}/admin/audit?patient=${patientId}`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(res.status).toBe(200);
    const bundle = (await res.json()) as { entry: Array<{ resource: AuditEvent }> };
    expect(bundle.entry).toHaveLength(countBefore + 1);
    const event = bundle.entry[0]!.resource;
    expect(event).toMatchObject({
      resourceType: 'AuditEvent',
      action: 'E',
      outcome: '0',
      entity: [{ what: { reference: `Patient/${patientId}` }, role: { code: '1' } }],
      agent: [{ who: { identifier: { value: `${origin}/sandbox` } }, requestor: true }],
      purposeOfEvent: [{ coding: [{ code: 'TREAT' }] }],
    });
    expect(event.outcomeDesc).toMatch(/^cds-hook /);

    expect((await fetch(`${origin}/admin/audit`)).status).toBe(401);
    expect((await fetch(`${origin}/admin/audit`, { headers: { Authorization: 'Bearer wrong' } })).status).toBe(401);
  });

  it('the audit survives a restart (durable SQLite in DATA_DIR)', async () => {
    const again = await createVigil(loadConfig({ DATA_DIR: tmp, SANDBOX: 'off', ADMIN_TOKEN, LOG_LEVEL: 'silent' }));
    try {
      const srv = again.app.listen(0, '127.0.0.1');
      await new Promise<void>((resolve) => srv.once('listening', () => resolve()));
      const res = await fetch(`http://127.0.0.1:${(srv.address() as AddressInfo).port}/admin/audit`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } });
      expect(((await res.json()) as { entry: unknown[] }).entry.length).toBeGreaterThan(0);
      srv.closeAllConnections();
      await new Promise<void>((resolve) => srv.close(() => resolve()));
    } finally {
      await again.close();
    }
  });

  it('logs (at debug level) carry no sandbox patient names or identifiers', async () => {
    const patients = (await json(await fetch(`${origin}/sandbox/api/patients`))).patients as Array<{ id: string; name: string }>;
    // Identifier values straight from the FHIR resources (read with a token the sandbox issues for the patient).
    const sandbox = (await json(await fetch(`${origin}/sandbox/fhir/.well-known/smart-configuration`))) as { issuer: string };
    expect(sandbox.issuer).toBe(`${origin}/sandbox/auth`);
    const call = await sandboxHookCall();
    const access = (call.body.fhirAuthorization as { access_token: string }).access_token;
    const patientId = (call.body.context as { patientId: string }).patientId;
    const patient = await json(await fetch(`${origin}/sandbox/fhir/Patient/${patientId}`, { headers: { Authorization: `Bearer ${access}` } }));
    const identifiers = ((patient.identifier as Array<{ value?: string }> | undefined) ?? []).map((i) => i.value).filter((v): v is string => !!v && v.length >= 4);
    expect((await send(call)).status).toBe(200);

    const log = lines.join('\n');
    expect(lines.length).toBeGreaterThan(10);
    for (const p of patients) {
      for (const part of p.name.split(/\s+/).filter((w) => w.length >= 4)) expect(log).not.toContain(part);
    }
    for (const value of identifiers) expect(log).not.toContain(value);
  });
});
