/**
 * The pure and injected-effect pieces of population scoring: ndjson streaming, the progress line and its
 * TTY / non-TTY output, CLI arguments, the Backend Services client assertion and token reuse, the bulk
 * client's polling (Retry-After, backoff, 429) and token confinement, RiskAssessment identity, the state file.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { exportPKCS8, generateKeyPair, jwtVerify, decodeProtectedHeader } from 'jose';
import { BadGatewayError, BadRequestError, UnauthorizedError } from '../../src/errors.js';
import { backendTokenSource, loadBackendKey } from '../../src/population/backend-auth.js';
import { createBulkClient } from '../../src/population/bulk-client.js';
import { defaultScope, demoKeyFile, parseCliArgs } from '../../src/population/cli.js';
import { ndjsonLines, parseResourceLine } from '../../src/population/ndjson.js';
import { progressLine, streamProgress } from '../../src/population/progress.js';
import { buildRiskAssessment, riskAssessmentIdentifier, riskAssessmentTransaction } from '../../src/population/risk-assessment.js';
import { fileStateStore } from '../../src/population/state.js';
import { assertValidResource } from '../../src/sandbox/fhir/validation.js';

async function collect<T>(gen: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of gen) out.push(x);
  return out;
}

async function* chunks(...parts: Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const p of parts) yield p;
}

describe('ndjson', () => {
  it('splits lines across chunk boundaries, including inside a multi-byte character', async () => {
    const bytes = new TextEncoder().encode('{"a":"é"}\r\n\n{"b":2}\n{"c":3}');
    const at = bytes.indexOf(0xc3) + 1; // between the two bytes of "é"
    expect(await collect(ndjsonLines(chunks(bytes.slice(0, at), bytes.slice(at, at + 5), bytes.slice(at + 5))))).toEqual(['{"a":"é"}', '{"b":2}', '{"c":3}']);
  });

  it('refuses a line that is not a FHIR resource', () => {
    expect(parseResourceLine('{"resourceType":"Patient","id":"p"}', 'f')).toEqual({ resourceType: 'Patient', id: 'p' });
    expect(() => parseResourceLine('{"id":1}', 'Patient-1.ndjson')).toThrow(BadGatewayError);
    expect(() => parseResourceLine('nope', 'Patient-1.ndjson')).toThrow(/Patient-1.ndjson/);
  });
});

describe('progress', () => {
  it('formats counts, rate and ETA', () => {
    expect(progressLine({ phase: 'score', done: 30, total: 120 }, 10, { bar: true })).toBe(`score ${'█'.repeat(6)}${'░'.repeat(18)} 30/120 patients 25%  10.0/s  ETA 9s`);
    expect(progressLine({ phase: 'export', message: '40% (4/10 patients)' })).toBe('export: 40% (4/10 patients)');
    expect(progressLine({ phase: 'score', done: 0, total: 0 })).toBe('score 0/0 patients 100%');
  });

  it('redraws one line on a terminal and throttles plain lines elsewhere', () => {
    let t = 0;
    const tty: string[] = [];
    const bar = streamProgress({ write: (s: string) => tty.push(s), isTTY: true, columns: 81 }, { now: () => t });
    bar.update({ phase: 'score', done: 0, total: 10 });
    t = 1000;
    bar.update({ phase: 'score', done: 5, total: 10 });
    bar.close();
    expect(tty.slice(0, 2).every((s) => s.startsWith('\r') && s.length === 81)).toBe(true);
    expect(tty[1]).toContain('5/10 patients 50%  5.0/s  ETA 1s');
    expect(tty.at(-1)).toBe('\n');
    // A pseudo-terminal that reports no width gets 100 columns, not a stub.
    const noWidth: string[] = [];
    streamProgress({ write: (s: string) => noWidth.push(s), isTTY: true, columns: 0 }).update({ phase: 'score', done: 1, total: 2 });
    expect(noWidth[0]).toHaveLength(100);

    t = 0;
    const plain: string[] = [];
    const log = streamProgress({ write: (s: string) => plain.push(s), isTTY: false }, { now: () => t, intervalMs: 5000 });
    log.update({ phase: 'score', done: 0, total: 10 });
    for (let i = 1; i < 10; i++) {
      t = i * 100;
      log.update({ phase: 'score', done: i, total: 10 });
    }
    t = 6000;
    log.update({ phase: 'score', done: 10, total: 10 });
    expect(plain).toHaveLength(2);
    expect(plain.every((s) => s.endsWith('\n') && !s.includes('\r'))).toBe(true);
  });
});

describe('CLI arguments', () => {
  it('defaults to the sandbox demo client, batch 64 and a state file per group', () => {
    const o = parseCliArgs(['--fhir', 'http://localhost:8080/sandbox/fhir/', '--group', 'icu-cohort']);
    expect(o).toMatchObject({
      fhirBase: 'http://localhost:8080/sandbox/fhir',
      group: 'icu-cohort',
      clientId: 'vigil-population-demo',
      keyFile: demoKeyFile(),
      batchSize: 64,
      demoCredentials: true,
      stateFile: path.join('var', 'score-population-icu-cohort.state.json'),
      scope: 'system/Patient.rs system/Observation.rs system/Encounter.rs system/RiskAssessment.cs',
      keepExport: false,
    });
    expect(defaultScope(['Patient'])).toBe('system/Patient.rs system/RiskAssessment.cs');
  });

  it.each([
    [[], /--fhir is required/],
    [['--fhir', 'ftp://x'], /http\(s\) URL/],
    [['--fhir', 'http://x', '--batch', '0'], /--batch/],
    [['--fhir', 'http://x', '--client-id', 'me'], /together/],
    [['--fhir', 'http://x', '--colour', 'blue'], /Unknown option/],
  ])('refuses %j', (argv, message) => {
    expect(() => parseCliArgs(argv)).toThrow(message);
  });
});

function jsonResponse(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(body === undefined ? null : JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });
}

describe('SMART Backend Services client', () => {
  it('signs an RS384 assertion from a PEM key, and reuses the token until shortly before it expires', async () => {
    const { privateKey, publicKey } = await generateKeyPair('RS384', { extractable: true });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-key-'));
    const file = path.join(dir, 'key.pem');
    fs.writeFileSync(file, await exportPKCS8(privateKey));
    await expect(loadBackendKey(file)).rejects.toThrow(/--alg/);
    const key = await loadBackendKey(file, { alg: 'RS384' });
    fs.rmSync(dir, { recursive: true, force: true });

    let now = new Date('2026-01-01T00:00:00Z');
    const assertions: string[] = [];
    const fetchFn = async (url: string, init?: RequestInit): Promise<Response> => {
      if (url.endsWith('/.well-known/smart-configuration')) {
        return jsonResponse(200, { token_endpoint: 'https://auth.example/token', token_endpoint_auth_methods_supported: ['private_key_jwt'], token_endpoint_auth_signing_alg_values_supported: ['RS384', 'ES384'] });
      }
      const form = new URLSearchParams(String(init?.body));
      expect(form.get('grant_type')).toBe('client_credentials');
      expect(form.get('client_assertion_type')).toBe('urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
      expect(form.get('scope')).toBe('system/Patient.rs');
      assertions.push(form.get('client_assertion')!);
      return jsonResponse(200, { access_token: `token-${assertions.length}`, token_type: 'bearer', expires_in: 300 });
    };
    const source = backendTokenSource({ fhirBase: 'https://ehr.example/fhir', clientId: 'scorer', key, scope: 'system/Patient.rs', fetch: fetchFn, now: () => now });
    expect(await Promise.all([source(), source()])).toEqual(['token-1', 'token-1']);
    now = new Date(now.getTime() + 200_000);
    expect(await source()).toBe('token-1');
    now = new Date(now.getTime() + 60_000);
    expect(await source()).toBe('token-2');

    const { payload } = await jwtVerify(assertions[0]!, publicKey, { issuer: 'scorer', subject: 'scorer', audience: 'https://auth.example/token', currentDate: new Date('2026-01-01T00:00:00Z') });
    expect(payload.exp! - payload.iat!).toBeLessThanOrEqual(300);
    expect(decodeProtectedHeader(assertions[0]!).alg).toBe('RS384');
    expect(new Set(assertions.map((a) => JSON.stringify(JSON.parse(Buffer.from(a.split('.')[1]!, 'base64url').toString()).jti))).size).toBe(2);
  });

  it('reports a refused client and a server without private_key_jwt', async () => {
    const key = await loadBackendKey(demoKeyFile());
    const refuse = async (url: string): Promise<Response> =>
      url.endsWith('smart-configuration') ? jsonResponse(200, { token_endpoint: 'https://a.example/token' }) : jsonResponse(401, { error: 'invalid_client', error_description: 'Unknown client' });
    await expect(backendTokenSource({ fhirBase: 'https://e.example', clientId: 'x', key, scope: 's', fetch: refuse })()).rejects.toThrow(UnauthorizedError);
    const noJwt = async (): Promise<Response> => jsonResponse(200, { token_endpoint: 'https://a.example/token', token_endpoint_auth_methods_supported: ['client_secret_basic'] });
    await expect(backendTokenSource({ fhirBase: 'https://e.example', clientId: 'x', key, scope: 's', fetch: noJwt })()).rejects.toThrow(/private_key_jwt/);
  });
});

describe('bulk client', () => {
  it('retries a 429 kick-off after Retry-After, then polls honouring Retry-After and backing off without it', async () => {
    const waits: number[] = [];
    const statuses = [
      () => jsonResponse(202, undefined, { 'x-progress': '10%', 'retry-after': '3' }),
      () => jsonResponse(202, undefined),
      () => jsonResponse(202, undefined),
      () => jsonResponse(202, undefined, { 'retry-after': '120' }),
      () => jsonResponse(200, { transactionTime: '2026-01-01T00:00:00Z', request: 'x', requiresAccessToken: true, output: [{ type: 'Patient', url: 'https://ehr.example/fhir/f/1.ndjson', count: 1 }], error: [] }),
    ];
    let kickoffs = 0;
    const seenAuth: Array<string | null> = [];
    const fetchFn = async (url: string, init?: RequestInit): Promise<Response> => {
      seenAuth.push(new Headers(init?.headers).get('authorization'));
      if (url.includes('$export?')) {
        kickoffs++;
        expect(new Headers(init?.headers).get('prefer')).toBe('respond-async');
        expect(new URL(url).searchParams.get('_type')).toBe('Patient,Observation');
        return kickoffs === 1 ? jsonResponse(429, undefined, { 'retry-after': '2' }) : jsonResponse(202, undefined, { 'content-location': 'status/1' });
      }
      return statuses.shift()!();
    };
    const client = createBulkClient({ fhirBase: 'https://ehr.example/fhir', token: async () => 't', fetch: fetchFn, sleep: async (ms) => void waits.push(ms), initialPollWaitMs: 1000, maxPollWaitMs: 60_000 });
    const statusUrl = await client.kickOff({ group: 'g1', types: ['Patient', 'Observation'] });
    expect(statusUrl).toBe('https://ehr.example/fhir/status/1');
    const progress: Array<string | undefined> = [];
    const manifest = await client.waitForManifest(statusUrl, (p) => progress.push(p.text));
    expect(manifest.output).toHaveLength(1);
    expect(waits).toEqual([2000, 3000, 2000, 4000, 60_000]);
    expect(progress[0]).toBe('10%');
    expect(seenAuth.every((a) => a === 'Bearer t')).toBe(true);
  });

  it('never sends the token to another origin, and refuses a manifest that asks it to', async () => {
    const seen: Array<[string, string | null]> = [];
    const fetchFn = async (url: string, init?: RequestInit): Promise<Response> => {
      seen.push([new URL(url).origin, new Headers(init?.headers).get('authorization')]);
      if (url.startsWith('https://bucket.example')) return new Response('{"resourceType":"Patient","id":"p"}\n', { status: 200 });
      const foreign = url.endsWith('/refuse');
      return jsonResponse(200, { transactionTime: 't', request: 'r', requiresAccessToken: foreign, output: [{ type: 'Patient', url: 'https://bucket.example/1.ndjson' }] });
    };
    const client = createBulkClient({ fhirBase: 'https://ehr.example/fhir', token: async () => 't', fetch: fetchFn, sleep: async () => undefined });
    const manifest = await client.waitForManifest('https://ehr.example/fhir/status/ok');
    expect(await collect(client.resources(manifest.output[0]!.url))).toEqual([{ resourceType: 'Patient', id: 'p' }]);
    expect(seen).toEqual([
      ['https://ehr.example', 'Bearer t'],
      ['https://bucket.example', null],
    ]);
    await expect(client.waitForManifest('https://ehr.example/fhir/status/refuse')).rejects.toThrow(/outside the FHIR server/);
  });
});

describe('RiskAssessment', () => {
  const manifest = { id: 'deterioration', version: '1.1.0', title: 'Sepsis risk', output: { name: 'probability' as const, description: 'sepsis within 6 h', horizonHours: 6 } };
  const scored = { patientId: 'p1', manifest, probability: 0.42, band: 'moderate' as const, basis: ['Observation/o1'], asOf: '2026-01-01T10:00:00.000Z' };

  it('is a valid R4 resource with a deterministic identifier', () => {
    const ra = buildRiskAssessment('http://ehr/fhir', scored);
    assertValidResource(ra);
    expect(ra).toMatchObject({
      status: 'final',
      subject: { reference: 'Patient/p1' },
      occurrenceDateTime: scored.asOf,
      method: { coding: [{ code: 'deterioration', version: '1.1.0' }] },
      basis: [{ reference: 'Observation/o1' }],
      prediction: [{ probabilityDecimal: 0.42, qualitativeRisk: { coding: [{ code: 'moderate' }] }, whenPeriod: { start: scored.asOf, end: '2026-01-01T16:00:00.000Z' } }],
    });
    expect(riskAssessmentIdentifier('http://ehr/fhir/', scored)).toBe(ra.identifier![0]!.value);
    expect(riskAssessmentIdentifier('http://ehr/fhir', { ...scored, asOf: '2026-01-01T11:00:00.000Z' })).not.toBe(ra.identifier![0]!.value);
    expect(riskAssessmentIdentifier('http://ehr/fhir', { ...scored, manifest: { ...manifest, version: '1.2.0' } })).not.toBe(ra.identifier![0]!.value);
    const entry = riskAssessmentTransaction([ra]).entry![0]!;
    expect(entry.request).toMatchObject({ method: 'POST', url: 'RiskAssessment' });
    expect(new URLSearchParams(entry.request!.ifNoneExist).get('identifier')).toBe(`${ra.identifier![0]!.system}|${ra.identifier![0]!.value}`);
  });
});

describe('state file', () => {
  it('refuses a file that is not a population state', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-state-'));
    const file = path.join(dir, 's.json');
    const store = fileStateStore(file);
    expect(await store.load()).toBeUndefined();
    fs.writeFileSync(file, '{"hello":1}');
    await expect(store.load()).rejects.toThrow(BadRequestError);
    fs.writeFileSync(file, 'garbage');
    await expect(store.load()).rejects.toThrow(/not JSON/);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
