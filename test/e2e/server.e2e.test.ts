/**
 * The real entry point (`src/server.ts`, what `npm start` runs) in a child process on an ephemeral
 * port: the sandbox EHR fires hooks at the service over real HTTP, and the process's logs are
 * scanned for patient data afterwards.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { ChildProcess } from 'node:child_process';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServerProcess, stopServerProcess } from './server-process.js';

interface HookCall {
  url: string;
  headers: Record<string, string>;
  body: Record<string, unknown>;
}
interface PatientSummary {
  id: string;
  name: string;
}

let child: ChildProcess;
let origin = '';
let output = { all: '', stdout: '' };
const dataDir = mkdtempSync(path.join(tmpdir(), 'vigil-e2e-'));

async function json<T>(res: Response): Promise<T> {
  const text = await res.text();
  if (!res.ok) throw new Error(`${res.status} ${text}`);
  return JSON.parse(text) as T;
}

async function buildHookCall(body: Record<string, unknown>): Promise<HookCall> {
  return json<HookCall>(
    await fetch(`${origin}/sandbox/api/hook-request`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    }),
  );
}

beforeAll(async () => {
  const server = await startServerProcess({ ...process.env, PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'info', SANDBOX: 'on', HL7_PORT: '0' });
  ({ child, output } = server);
  origin = `http://127.0.0.1:${server.ports.http}`;
}, 90_000);

afterAll(async () => {
  await stopServerProcess(child);
  rmSync(dataDir, { recursive: true, force: true });
});

describe('npm start: the service with its embedded sandbox EHR', () => {
  let patients: PatientSummary[] = [];

  it('answers liveness, discovery, the sandbox page and FHIR metadata on one port', async () => {
    expect((await fetch(`${origin}/healthz`)).status).toBe(200);
    const discovery = await json<{ services: Array<{ id: string; hook: string }> }>(await fetch(`${origin}/cds-services`));
    expect(discovery.services.map((s) => s.id)).toContain('vigil-news2');
    const page = await fetch(`${origin}/sandbox`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    const metadata = await json<{ resourceType: string; fhirVersion: string }>(await fetch(`${origin}/sandbox/fhir/metadata`));
    expect(metadata).toMatchObject({ resourceType: 'CapabilityStatement', fhirVersion: '4.0.1' });
    patients = (await json<{ patients: PatientSummary[] }>(await fetch(`${origin}/sandbox/api/patients`))).patients;
    expect(patients.length).toBeGreaterThanOrEqual(20);
  });

  it('keeps idle connections longer than a load balancer would (HTTP_KEEP_ALIVE_MS, default 65 s)', async () => {
    const keepAlive = await new Promise<string | undefined>((resolve, reject) => {
      http.get(`${origin}/healthz`, { agent: new http.Agent({ keepAlive: true }) }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.headers['keep-alive']?.toString()));
      }).on('error', reject);
    });
    expect(keepAlive).toBe('timeout=65');
  });

  it('scores every sandbox patient with NEWS2, from prefetch and from the FHIR server alike', async () => {
    for (const patient of patients) {
      const answers: string[] = [];
      for (const prefetch of ['fill', 'none']) {
        const call = await buildHookCall({ serviceId: 'vigil-news2', hook: 'patient-view', patientId: patient.id, prefetch });
        expect(call.body.fhirServer).toBe(`${origin}/sandbox/fhir`);
        if (prefetch === 'none') expect(call.body.prefetch).toBeUndefined();
        const res = await fetch(call.url, { method: 'POST', headers: call.headers, body: JSON.stringify(call.body) });
        const { cards } = await json<{ cards: Array<{ summary: string; indicator: string; detail: string; uuid: string }> }>(res);
        expect(cards).toHaveLength(1);
        const [card] = cards;
        expect(card!.summary).toMatch(/^NEWS2 \d+/);
        expect(card!.summary.length).toBeLessThan(140);
        expect(['info', 'warning', 'critical']).toContain(card!.indicator);
        // Every parameter row links the Observation it came from.
        expect(card!.detail).toMatch(/Observation\/[\w.-]+/);
        answers.push(`${card!.summary}|${card!.indicator}`);
      }
      expect(answers[1]).toBe(answers[0]);
    }
  }, 120_000);

  it('fires vigil-deterioration for a septic and a non-septic sandbox patient (data/sandbox/index.json provenance)', async () => {
    // 7aa15a43…: PhysioNet septic (label 6 h before the anchor); 0283b437…: not septic.
    const scored: Record<string, { indicator: string; summary: string; detail: string }> = {};
    for (const id of ['7aa15a43-3a41-4d3d-a9c5-7ef941757531', '0283b437-ef20-41bb-a026-b60a742d536a']) {
      const call = await buildHookCall({ serviceId: 'vigil-deterioration', hook: 'patient-view', patientId: id, prefetch: 'none' });
      const res = await fetch(call.url, { method: 'POST', headers: call.headers, body: JSON.stringify(call.body) });
      const { cards } = await json<{ cards: Array<{ summary: string; indicator: string; detail: string; links: Array<{ type: string; url: string }> }> }>(res);
      expect(cards).toHaveLength(1);
      expect(cards[0]!.summary).toMatch(/^Sepsis risk \d+\.\d % within 6 h — (low|moderate|high) \(deterioration v\d+\.\d+\.\d+\)$/);
      expect(cards[0]!.detail).toMatch(/Observation\/[\w.-]+/);
      expect(cards[0]!.links.map((l) => l.type)).toEqual(['smart', 'absolute']);
      scored[id] = cards[0]!;
    }
    expect(scored['7aa15a43-3a41-4d3d-a9c5-7ef941757531']!.indicator).toBe('critical');
    expect(scored['0283b437-ef20-41bb-a026-b60a742d536a']!.indicator).not.toBe('critical');
    const card = await fetch(`${origin}/models/deterioration/card`);
    expect(card.status).toBe(200);
  }, 60_000);

  it('answers a malformed hook call with 400 naming the field, and an unknown service with 404', async () => {
    const call = await buildHookCall({ serviceId: 'vigil-news2', hook: 'patient-view', patientId: patients[0]!.id });
    const broken = { ...call.body, context: { userId: 'Practitioner/1' } };
    const res = await fetch(call.url, { method: 'POST', headers: call.headers, body: JSON.stringify(broken) });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { details: Array<{ field: string }> };
    expect(body.details.map((d) => d.field)).toContain('context.patientId');
    // Client authentication runs first: unsigned → 401; signed by the sandbox (its feedback builder signs
    // for any service id) → past authentication to the 404.
    const unsigned = await fetch(`${origin}/cds-services/no-such-service`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(unsigned.status).toBe(401);
    const signed = await fetch(`${origin}/sandbox/api/feedback-request`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ serviceId: 'no-such-service', feedback: [{ card: 'c1', outcome: 'overridden' }] }),
    });
    const fb = await json<{ url: string; headers: Record<string, string>; body: unknown }>(signed);
    const unknown = await fetch(fb.url, { method: 'POST', headers: fb.headers, body: JSON.stringify(fb.body) });
    expect(unknown.status).toBe(404);
  });

  it('never writes patient names or identifiers to its logs, and stops cleanly on SIGTERM', async () => {
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(output.all).toContain('"msg":"request"');
    // Structured logs only: every line on stdout is one pino JSON object (no library's console output).
    const lines = output.stdout.split('\n').filter((line) => line.trim() !== '');
    expect(lines.length).toBeGreaterThan(5);
    const notJson = lines.filter((line) => {
      try {
        const entry = JSON.parse(line) as { level?: unknown; msg?: unknown };
        return typeof entry.level !== 'number' || typeof entry.msg !== 'string';
      } catch {
        return true;
      }
    });
    expect(notJson).toEqual([]);
    for (const patient of patients) {
      expect(output.all).not.toContain(patient.id);
      for (const part of patient.name.split(/\s+/).filter((p) => p.length > 2)) expect(output.all).not.toContain(part);
    }
  }, 20_000);
});
