/**
 * FHIR Bulk Data export on the sandbox FHIR server, over real HTTP with real tokens from the sandbox
 * authorization server: kick-off → status (202 while running, then the manifest) → ndjson download →
 * DELETE, and every refusal the IG and SMART scopes call for (401, 403, 400, 404, 429).
 */
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import express from 'express';
import type { Group, OperationOutcome, Resource } from 'fhir/r4';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { backendTokenSource, loadBackendKey } from '../../src/population/backend-auth.js';
import { demoKeyFile } from '../../src/population/cli.js';
import { createSandbox } from '../../src/sandbox/index.js';
import { POPULATION_DEMO_CLIENT_ID } from '../../src/smart/sandbox-auth/demo-backend-client.js';
import { SANDBOX_GROUPS } from '../../src/sandbox/groups.js';
import { groupPatientIds } from '../../src/sandbox/fhir/bulk-export.js';
import { startTestSandbox, type TestSandbox } from './sandbox-server.js';

let sandbox: TestSandbox;
let systemToken: string;
let hold: Promise<void> | undefined;
let release: () => void = () => undefined;
let failJobs = false;

function holdJobs(): void {
  hold = new Promise<void>((resolve) => {
    release = () => {
      hold = undefined;
      resolve();
    };
  });
}

beforeAll(async () => {
  sandbox = await startTestSandbox({
    bulkExport: {
      maxActiveJobs: 2,
      retryAfterSeconds: 1,
      pace: () => (failJobs ? Promise.reject(new Error('disk on fire')) : (hold ?? new Promise((resolve) => setImmediate(resolve)))),
    },
  });
  systemToken = await sandbox.token({ scope: 'system/*.rs' });
}, 60_000);

afterAll(async () => {
  release();
  await sandbox.close();
});

const KICKOFF_HEADERS = { Accept: 'application/fhir+json', Prefer: 'respond-async' };

function kickoff(path: string, token: string | undefined, headers: Record<string, string> = KICKOFF_HEADERS): Promise<Response> {
  return fetch(`${sandbox.fhirBase}/${path}`, { headers: { ...headers, ...(token ? { Authorization: `Bearer ${token}` } : {}) } });
}

function get(url: string, token: string | undefined, init: RequestInit = {}): Promise<Response> {
  return fetch(url, { ...init, headers: token ? { Authorization: `Bearer ${token}` } : {} });
}

async function manifestOf(statusUrl: string, token: string): Promise<Record<string, unknown>> {
  for (let i = 0; i < 200; i++) {
    const res = await get(statusUrl, token);
    if (res.status === 200) return (await res.json()) as Record<string, unknown>;
    expect(res.status).toBe(202);
    await res.arrayBuffer();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error('export did not finish');
}

async function lines(url: string, token: string): Promise<Resource[]> {
  const res = await get(url, token);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('application/fhir+ndjson');
  const text = await res.text();
  expect(text.endsWith('\n')).toBe(true);
  return text.trimEnd().split('\n').map((l) => JSON.parse(l) as Resource);
}

async function outcome(res: Response): Promise<OperationOutcome> {
  expect(res.headers.get('content-type')).toContain('application/fhir+json');
  const body = (await res.json()) as OperationOutcome;
  expect(body.resourceType).toBe('OperationOutcome');
  return body;
}

describe('group export: kick-off, status, manifest, download, delete', () => {
  it('runs a group export end to end with a system token', async () => {
    holdJobs();
    const res = await kickoff(`Group/${SANDBOX_GROUPS.cardiology}/$export?_type=Patient,Observation,Encounter&_outputFormat=application/fhir%2Bndjson`, systemToken);
    expect(res.status).toBe(202);
    const statusUrl = res.headers.get('content-location')!;
    expect(statusUrl.startsWith(`${sandbox.fhirBase}/`)).toBe(true);

    // Held in progress: 202 with X-Progress and Retry-After.
    const running = await get(statusUrl, systemToken);
    expect(running.status).toBe(202);
    expect(running.headers.get('retry-after')).toBe('1');
    expect(running.headers.get('x-progress')).toMatch(/^\d+% \(0\/8 patients\)$/);
    release();

    const manifest = await manifestOf(statusUrl, systemToken);
    expect(manifest).toMatchObject({ requiresAccessToken: true, error: [] });
    expect(manifest.request).toBe(`${sandbox.fhirBase}/Group/${SANDBOX_GROUPS.cardiology}/$export?_type=Patient,Observation,Encounter&_outputFormat=application/fhir%2Bndjson`);
    expect(Number.isNaN(Date.parse(String(manifest.transactionTime)))).toBe(false);
    const output = manifest.output as Array<{ type: string; url: string; count: number }>;
    expect(output.map((o) => o.type)).toEqual(['Patient', 'Observation', 'Encounter']);

    const members = new Set(groupPatientIds(sandbox.store.read('Group', SANDBOX_GROUPS.cardiology) as Group));
    expect(members.size).toBe(8);
    for (const file of output) {
      const resources = await lines(file.url, systemToken);
      expect(resources).toHaveLength(file.count);
      expect(resources.every((r) => r.resourceType === file.type)).toBe(true);
      const expected = [...members].reduce((n, id) => n + (file.type === 'Patient' ? 1 : (sandbox.store.search(file.type, new URLSearchParams({ patient: id, _count: '0' }), { baseUrl: 'x' }).total ?? 0)), 0);
      expect(file.count).toBe(expected);
      if (file.type === 'Patient') expect(new Set(resources.map((r) => r.id))).toEqual(members);
      if (file.type === 'Observation') {
        for (const r of resources) expect(members.has(String((r as { subject?: { reference?: string } }).subject?.reference).replace('Patient/', ''))).toBe(true);
      }
    }

    // Files and status need the token, and belong to the client that kicked the export off.
    expect((await get(output[0]!.url, undefined)).status).toBe(401);
    const otherClient = await sandbox.token({ scope: 'system/*.rs', clientId: 'someone-else' });
    expect((await get(output[0]!.url, otherClient)).status).toBe(403);
    expect((await get(statusUrl, otherClient)).status).toBe(403);
    expect((await get(statusUrl, otherClient, { method: 'DELETE' })).status).toBe(403);

    // DELETE drops the job and its files.
    const deleted = await get(statusUrl, systemToken, { method: 'DELETE' });
    expect(deleted.status).toBe(202);
    expect((await get(statusUrl, systemToken)).status).toBe(404);
    expect((await get(output[1]!.url, systemToken)).status).toBe(404);
  });

  it('cancels a running export with DELETE', async () => {
    holdJobs();
    const res = await kickoff(`Group/${SANDBOX_GROUPS.icu}/$export`, systemToken);
    expect(res.status).toBe(202);
    const statusUrl = res.headers.get('content-location')!;
    expect((await get(statusUrl, systemToken)).status).toBe(202);
    expect((await get(statusUrl, systemToken, { method: 'DELETE' })).status).toBe(202);
    release();
    expect((await get(statusUrl, systemToken)).status).toBe(404);
  });

  it('exports every patient with Patient/$export, and only changes after _since', async () => {
    const all = await kickoff('Patient/$export?_type=Patient', systemToken);
    expect(all.status).toBe(202);
    const manifest = await manifestOf(all.headers.get('content-location')!, systemToken);
    expect(manifest.output).toEqual([expect.objectContaining({ type: 'Patient', count: sandbox.store.count('Patient') })]);

    const future = new Date(Date.now() + 3_600_000).toISOString();
    const none = await kickoff(`Patient/$export?_type=Patient,Observation&_since=${encodeURIComponent(future)}`, systemToken);
    expect((await manifestOf(none.headers.get('content-location')!, systemToken)).output).toEqual([]);
  });

  it('reports group members missing on the server in the error files', async () => {
    sandbox.store.update({ resourceType: 'Group', id: 'with-missing', type: 'person', actual: true, member: [{ entity: { reference: 'Patient/not-here' } }] } as Group);
    const res = await kickoff('Group/with-missing/$export?_type=Patient', systemToken);
    const manifest = await manifestOf(res.headers.get('content-location')!, systemToken);
    const errors = manifest.error as Array<{ type: string; url: string; count: number }>;
    expect(errors).toEqual([expect.objectContaining({ type: 'OperationOutcome', count: 1 })]);
    const [issue] = await lines(errors[0]!.url, systemToken);
    expect(JSON.stringify(issue)).toContain('Patient/not-here');
  });

  it('accepts SMART v1 scope syntax (system/*.read)', async () => {
    const v1 = await sandbox.token({ scope: 'system/*.read' });
    const res = await kickoff(`Group/${SANDBOX_GROUPS.cardiology}/$export?_type=Patient`, v1);
    expect(res.status).toBe(202);
    await manifestOf(res.headers.get('content-location')!, v1);
  });

  it('without _type, exports only the types the token covers', async () => {
    const token = await sandbox.token({ scope: 'system/Patient.rs system/Observation.rs' });
    const res = await kickoff(`Group/${SANDBOX_GROUPS.cardiology}/$export`, token);
    expect(res.status).toBe(202);
    const manifest = await manifestOf(res.headers.get('content-location')!, token);
    expect((manifest.output as Array<{ type: string }>).map((o) => o.type).sort()).toEqual(['Observation', 'Patient']);
  });
});

describe('refusals', () => {
  it('401 without a token or with a bad one', async () => {
    const none = await kickoff(`Group/${SANDBOX_GROUPS.icu}/$export`, undefined);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toContain('Bearer');
    expect((await outcome(none)).issue[0]!.code).toBe('login');
    expect((await kickoff(`Group/${SANDBOX_GROUPS.icu}/$export`, 'not-a-token')).status).toBe(401);
    // Authentication comes first: a bad request without a token is still 401.
    expect((await kickoff(`Group/${SANDBOX_GROUPS.icu}/$export?_type=Spaceship`, undefined, { Accept: 'text/html' })).status).toBe(401);
  });

  it('403 for a patient-scoped token and for a scope without the requested type', async () => {
    const patientId = groupPatientIds(sandbox.store.read('Group', SANDBOX_GROUPS.icu) as Group)[0]!;
    const patientToken = await sandbox.token({ scope: 'patient/*.rs', patient: patientId });
    const refused = await kickoff(`Group/${SANDBOX_GROUPS.icu}/$export`, patientToken);
    expect(refused.status).toBe(403);
    expect((await outcome(refused)).issue[0]!.code).toBe('forbidden');
    expect((await kickoff('Patient/$export?_type=Patient', patientToken)).status).toBe(403);

    const conditionsOnly = await sandbox.token({ scope: 'system/Condition.rs' });
    expect((await kickoff(`Group/${SANDBOX_GROUPS.icu}/$export?_type=Patient,Observation`, conditionsOnly)).status).toBe(403);
    // Write-only scope: no type can be read.
    const writeOnly = await sandbox.token({ scope: 'system/RiskAssessment.c' });
    expect((await kickoff(`Group/${SANDBOX_GROUPS.icu}/$export`, writeOnly)).status).toBe(403);
  });

  it.each([
    ['no Prefer: respond-async', `Group/${SANDBOX_GROUPS.icu}/$export`, { Accept: 'application/fhir+json' }, 'Prefer'],
    ['an unsupported Accept', `Group/${SANDBOX_GROUPS.icu}/$export`, { Accept: 'text/html', Prefer: 'respond-async' }, 'Accept'],
    ['an unsupported _outputFormat', `Group/${SANDBOX_GROUPS.icu}/$export?_outputFormat=text/csv`, KICKOFF_HEADERS, '_outputFormat'],
    ['an unknown _type', `Group/${SANDBOX_GROUPS.icu}/$export?_type=Patient,Spaceship`, KICKOFF_HEADERS, '_type'],
    ['a _since that is not an instant', `Group/${SANDBOX_GROUPS.icu}/$export?_since=yesterday`, KICKOFF_HEADERS, '_since'],
    ['_typeFilter (not supported)', `Group/${SANDBOX_GROUPS.icu}/$export?_typeFilter=Observation%3Fcode%3D1`, KICKOFF_HEADERS, '_typeFilter'],
    ['an unknown parameter under handling=strict', `Group/${SANDBOX_GROUPS.icu}/$export?colour=blue`, { ...KICKOFF_HEADERS, Prefer: 'respond-async, handling=strict' }, 'colour'],
  ])('400 for %s', async (_name, path, headers, field) => {
    const res = await kickoff(path, systemToken, headers);
    expect(res.status).toBe(400);
    const body = await outcome(res);
    expect(body.issue.some((i) => i.code === 'invalid' && i.expression?.includes(field))).toBe(true);
  });

  it('404 for an unknown group, job or file', async () => {
    const res = await kickoff('Group/no-such-group/$export', systemToken);
    expect(res.status).toBe(404);
    expect((await outcome(res)).issue[0]!.code).toBe('not-found');
    expect((await get(`${sandbox.fhirBase}/$export-status/no-such-job`, systemToken)).status).toBe(404);
    expect((await get(`${sandbox.fhirBase}/$export-file/no-such-job/Patient-1.ndjson`, systemToken)).status).toBe(404);
  });

  it('429 with Retry-After when too many exports run', async () => {
    holdJobs();
    const a = await kickoff(`Group/${SANDBOX_GROUPS.icu}/$export`, systemToken);
    const b = await kickoff(`Group/${SANDBOX_GROUPS.icu}/$export`, systemToken);
    expect([a.status, b.status]).toEqual([202, 202]);
    const c = await kickoff(`Group/${SANDBOX_GROUPS.icu}/$export`, systemToken);
    expect(c.status).toBe(429);
    expect(Number(c.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await outcome(c)).issue[0]!.code).toBe('throttled');
    release();
    await manifestOf(a.headers.get('content-location')!, systemToken);
    await manifestOf(b.headers.get('content-location')!, systemToken);
    expect((await kickoff(`Group/${SANDBOX_GROUPS.icu}/$export?_type=Patient`, systemToken)).status).toBe(202);
  });

  it('500 with an OperationOutcome when the job itself failed', async () => {
    failJobs = true;
    const res = await kickoff(`Group/${SANDBOX_GROUPS.cardiology}/$export?_type=Patient`, systemToken);
    failJobs = false;
    const statusUrl = res.headers.get('content-location')!;
    let status = await get(statusUrl, systemToken);
    for (let i = 0; i < 100 && status.status === 202; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      status = await get(statusUrl, systemToken);
    }
    expect(status.status).toBe(500);
    const body = await outcome(status);
    expect(body.issue[0]).toMatchObject({ code: 'exception', diagnostics: 'The export failed; start a new one' });
  });

  it('advertises the export operations in the CapabilityStatement', async () => {
    const cs = (await (await fetch(`${sandbox.fhirBase}/metadata`)).json()) as {
      instantiates?: string[];
      rest: Array<{ resource: Array<{ type: string; operation?: Array<{ name: string; definition: string }> }> }>;
    };
    expect(cs.instantiates).toContain('http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data');
    const op = (type: string) => cs.rest[0]!.resource.find((r) => r.type === type)?.operation;
    expect(op('Group')).toEqual([{ name: 'export', definition: 'http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export' }]);
    expect(op('Patient')).toEqual([{ name: 'export', definition: 'http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export' }]);
  });
});

describe('the sandbox as npm start assembles it', () => {
  it('has the groups, the demo Backend Services client and $export', async () => {
    const sandbox = await createSandbox({ config: loadConfig({ LOG_LEVEL: 'silent', DATA_DIR: os.tmpdir() }), logger: createLogger('silent'), services: [] });
    const app = express();
    app.use('/sandbox', sandbox.router);
    const server = app.listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    try {
      const fhirBase = `http://127.0.0.1:${(server.address() as AddressInfo).port}/sandbox/fhir`;
      expect(groupPatientIds(sandbox.store.read('Group', SANDBOX_GROUPS.icu) as Group)).toHaveLength(sandbox.patientCount);
      const token = await backendTokenSource({ fhirBase, clientId: POPULATION_DEMO_CLIENT_ID, key: await loadBackendKey(demoKeyFile()), scope: 'system/Patient.rs' })();
      const res = await fetch(`${fhirBase}/Group/${SANDBOX_GROUPS.icu}/$export?_type=Patient`, { headers: { ...KICKOFF_HEADERS, Authorization: `Bearer ${token}` } });
      expect(res.status).toBe(202);
      expect(res.headers.get('content-location')).toContain(`${fhirBase}/$export-status/`);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
