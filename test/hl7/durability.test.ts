import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { FhirStore } from '../../src/sandbox/fhir/store.js';
import { startHl7Interface } from '../../src/hl7/index.js';
import { storeWriter } from '../../src/hl7/store-writer.js';
import { HL7_DB_FILE } from '../../src/hl7/sqlite-queue.js';
import { ackParts, MllpTestClient, oruMessage, quietLogger } from './helpers.js';

const here = path.dirname(fileURLToPath(import.meta.url));
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'vigil-hl7-crash-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function startChild(): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(here, 'child-listener.ts'), dir, 'paused'], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /PORT (\d+)/.exec(out);
      if (m) resolve({ child, port: Number(m[1]) });
    });
    child.once('exit', (code) => reject(new Error(`child exited early (${code})`)));
  });
}

describe('crash during ingest (SIGKILL)', () => {
  it('loses no ACKed message: every AA is in the queue after the kill and is applied after restart', async () => {
    const { child, port } = await startChild();
    const acked = new Set<string>();
    let sent = 0;
    let stop = false;
    // Four connections sending as fast as ACKs come back, until the process dies under them.
    const senders = Array.from({ length: 4 }, async (_, c) => {
      const client = await MllpTestClient.connect(port);
      try {
        while (!stop) {
          const id = `K${c}-${sent++}`;
          const ack = ackParts(await client.send(oruMessage(id, { mrn: `P${c}` })));
          if (ack.code === 'AA') acked.add(ack.controlId);
        }
      } catch {
        // Connection reset by the kill: the in-flight message was not ACKed.
      }
    });
    await new Promise((r) => setTimeout(r, 400));
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    stop = true;
    await Promise.all(senders);
    expect(acked.size).toBeGreaterThan(20);

    // Straight from the file: every ACKed control id is stored.
    const db = new Database(path.join(dir, HL7_DB_FILE), { readonly: true });
    const keys = new Set((db.prepare('SELECT message_key FROM inbound').all() as { message_key: string }[]).map((r) => r.message_key.split('|')[2]));
    db.close();
    const lost = [...acked].filter((id) => !keys.has(id));
    expect(lost).toEqual([]);

    // Restart on the same DATA_DIR: the queue replays into the FHIR store.
    const store = new FhirStore();
    const hl7 = await startHl7Interface({ port: 0, host: '127.0.0.1', dataDir: dir, writer: storeWriter(store), logger: quietLogger });
    await hl7.worker.idle();
    expect(hl7.store.counts().pending).toBe(0);
    const applied = hl7.store.counts().applied;
    expect(applied).toBeGreaterThanOrEqual(acked.size);
    expect(store.count('Observation')).toBe(2 * applied);
    // A sender retrying an ACKed message after the crash is answered AA and not applied again.
    const client = await MllpTestClient.connect(hl7.port);
    const again = [...acked][0]!;
    expect(ackParts(await client.send(oruMessage(again, { mrn: 'P0' }))).code).toBe('AA');
    client.close();
    await hl7.worker.idle();
    expect(hl7.store.counts().applied).toBe(applied);
    await hl7.close();
  });
});
