/**
 * The real command (`scripts/score-population.ts`) in a child process against a sandbox on a port, with
 * its writes slowed down so it can be stopped mid-run: killed outright (SIGKILL, no chance to save
 * anything beyond what it already saved), then interrupted with SIGINT (finishes its batch, saves, exits
 * 130), then run to the end. Every patient of the group ends with exactly one RiskAssessment per model.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import type { Group, RiskAssessment } from 'fhir/r4';
import { groupPatientIds } from '../../src/sandbox/fhir/bulk-export.js';
import { SANDBOX_GROUPS } from '../../src/sandbox/groups.js';
import { startTestSandbox, type TestSandbox } from './sandbox-server.js';

let sandbox: TestSandbox;
let tmp: string;
const WRITE_DELAY_MS = 400;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-population-cli-'));
  sandbox = await startTestSandbox({
    beforeFhir: (req, _res, next) => {
      // Transactions (the RiskAssessment writes) are slow: the child is caught between batches.
      if (req.method === 'POST' && req.path === '/') setTimeout(next, WRITE_DELAY_MS);
      else next();
    },
  });
}, 60_000);

afterAll(async () => {
  await sandbox.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

interface Run {
  child: ChildProcess;
  exit: Promise<number | null>;
  stdout: () => string;
  stderr: () => string;
}

function start(args: string[]): Run {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/score-population.ts', ...args], {
    cwd: process.cwd(),
    env: { ...process.env, LOG_LEVEL: 'silent', VIGIL_BACKEND: 'wasm', NODE_OPTIONS: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exit, stdout: () => out, stderr: () => err };
}

function doneIn(stateFile: string): number {
  try {
    return (JSON.parse(fs.readFileSync(stateFile, 'utf8')) as { done: string[] }).done.length;
  } catch {
    return 0;
  }
}

async function waitUntil(predicate: () => boolean, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > until) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

it('is killed, interrupted and resumed without duplicates', async () => {
  const stateFile = path.join(tmp, 'state.json');
  const args = ['--fhir', sandbox.fhirBase, '--group', SANDBOX_GROUPS.icu, '--batch', '2', '--state', stateFile];
  const icu = groupPatientIds(sandbox.store.read('Group', SANDBOX_GROUPS.icu) as Group);
  const cardiology = new Set(groupPatientIds(sandbox.store.read('Group', SANDBOX_GROUPS.cardiology) as Group));

  const killed = start(args);
  await waitUntil(() => doneIn(stateFile) >= 4, 60_000);
  killed.child.kill('SIGKILL');
  await killed.exit;
  const afterKill = doneIn(stateFile);
  expect(afterKill).toBeLessThan(icu.length);

  const interrupted = start(args);
  await waitUntil(() => doneIn(stateFile) >= afterKill + 4, 60_000);
  interrupted.child.kill('SIGINT');
  expect(await interrupted.exit).toBe(130);
  expect(interrupted.stderr()).toContain('Run the same command again to resume');
  const summary = JSON.parse(interrupted.stdout()) as { interrupted: boolean; resumed: boolean; backend: string };
  expect(summary).toMatchObject({ interrupted: true, resumed: true, backend: 'wasm' });
  expect(doneIn(stateFile)).toBeLessThan(icu.length);

  const finished = start(args);
  expect(await finished.exit).toBe(0);
  expect(JSON.parse(finished.stdout())).toMatchObject({ interrupted: false, patients: icu.length });
  expect(doneIn(stateFile)).toBe(icu.length);

  const assessments = (sandbox.store.search('RiskAssessment', new URLSearchParams({ _count: '1000' }), { baseUrl: 'x' }).entry ?? []).map((e) => e.resource as RiskAssessment);
  expect(assessments).toHaveLength(icu.length + cardiology.size);
  const keys = assessments.map((ra) => `${ra.subject.reference}|${ra.method!.coding![0]!.code}`);
  expect(new Set(keys).size).toBe(keys.length);
  for (const id of icu) expect(keys).toContain(`Patient/${id}|deterioration`);
  for (const id of cardiology) expect(keys).toContain(`Patient/${id}|heart-disease`);
}, 180_000);
