/**
 * Request ids and the access log (src/http/request-context.ts, issue 9 §Observability): an EHR's sane
 * X-Request-Id follows the call into our logs and back in the response, anything else is replaced by a
 * fresh id; every request leaves one JSON access-log line with the id, the route template, status and
 * duration — never the concrete path, query string or body, which can carry patient identifiers.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { capturingLogger } from '../smart/helpers.js';
import { startVigil, type RunningVigil } from '../observability/helpers.js';

const PATIENT_ID = 'pt-req-ctx-80417';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface AccessLine {
  msg: string;
  reqId: string;
  method: string;
  path: string;
  status: number;
  ms: number;
}

let app: RunningVigil;
const { logger, lines } = capturingLogger('info');

beforeAll(async () => {
  app = await startVigil({ RATE_LIMIT_RPS: '0' }, logger);
});
afterAll(async () => {
  await app.stop();
});

/** The access-log line of the request with this id (written when the response finishes). */
async function accessLine(reqId: string): Promise<AccessLine> {
  for (let i = 0; i < 100; i++) {
    const found = lines.map((l) => JSON.parse(l) as AccessLine).find((l) => l.msg === 'request' && l.reqId === reqId);
    if (found) return found;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`no access-log line for ${reqId}`);
}

describe('request ids and the access log', () => {
  it("keeps a caller's sane X-Request-Id: echoed back and in the access-log line", async () => {
    const res = await fetch(`${app.origin}/healthz`, { headers: { 'x-request-id': 'ehr-trace:42.a_b-c' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBe('ehr-trace:42.a_b-c');
    expect(await accessLine('ehr-trace:42.a_b-c')).toMatchObject({ method: 'GET', path: '/healthz', status: 200, ms: expect.any(Number) });
  });

  it.each([
    ['spaces and markup', 'a b<script>'],
    ['too long', 'x'.repeat(129)],
    ['a header-injection attempt', 'id%0d%0aSet-Cookie:x'],
  ])('replaces an unsafe X-Request-Id (%s) with a fresh UUID', async (_label, incoming) => {
    const res = await fetch(`${app.origin}/healthz`, { headers: { 'x-request-id': incoming } });
    const id = res.headers.get('x-request-id')!;
    expect(id).toMatch(UUID);
    await accessLine(id);
    expect(lines.join('\n')).not.toContain(incoming);
  });

  it('gives every request its own id when none is sent', async () => {
    const ids = await Promise.all([1, 2, 3].map(async () => (await fetch(`${app.origin}/healthz`)).headers.get('x-request-id')!));
    expect(new Set(ids).size).toBe(3);
    for (const id of ids) expect(id).toMatch(UUID);
  });

  it('logs the route template, never the concrete path, query string or body of a hook call', async () => {
    const body = {
      hook: 'patient-view',
      hookInstance: randomUUID(),
      context: { userId: 'Practitioner/u1', patientId: PATIENT_ID },
      prefetch: { patient: { resourceType: 'Patient', id: PATIENT_ID, birthDate: '1950-01-01', name: [{ family: 'Zzyzx' }] } },
    };
    const res = await app.post('/cds-services/vigil-news2', body, { 'x-request-id': 'hook-call-1' });
    expect(res.status).toBe(200);
    expect(await accessLine('hook-call-1')).toMatchObject({ method: 'POST', path: '/cds-services/:id', status: 200 });
    // The service's own lines carry the same id, so they join the access-log line.
    const own = lines.map((l) => JSON.parse(l) as { msg: string; reqId?: string; serviceId?: string }).filter((l) => l.msg === 'hook answered' && l.serviceId === 'vigil-news2');
    expect(own.map((l) => l.reqId)).toContain('hook-call-1');
    // With a query string (the endpoint ignores it) — logged without it.
    const queried = await fetch(`${app.origin}/cds-services/vigil-news2?patient=${PATIENT_ID}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'hook-call-q', ...(await app.authHeaders('/cds-services/vigil-news2')) },
      body: JSON.stringify(body),
    });
    expect(queried.status).toBe(200);
    expect(await accessLine('hook-call-q')).toMatchObject({ path: '/cds-services/:id', status: 200 });
    // An unknown service id is a concrete path segment too: it must not reach the log either.
    const unknown = await app.post(`/cds-services/${PATIENT_ID}`, body, { 'x-request-id': 'hook-call-2' });
    expect(unknown.status).toBe(404);
    await accessLine('hook-call-2');
    const text = lines.join('\n');
    expect(text).not.toContain(PATIENT_ID);
    expect(text).not.toContain('Zzyzx');
    for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();
  });
});
