/**
 * Where a population run's RiskAssessments go: back to the FHIR server as one transaction per batch of
 * conditional creates (FHIR R4 §3.1.0.11, with ifNoneExist on the deterministic identifier), or appended
 * to an ndjson file (`--out`). Both are idempotent per identifier, so a resumed run never duplicates one.
 */
import { createReadStream } from 'node:fs';
import { appendFile, open } from 'node:fs/promises';
import type { Bundle, RiskAssessment } from 'fhir/r4';
import { BadGatewayError } from '../errors.js';
import type { FhirClient } from '../fhir/fhir-client.js';
import { ndjsonLines } from './ndjson.js';
import { riskAssessmentTransaction } from './risk-assessment.js';

export interface WriteResult {
  /** Newly created. */
  created: number;
  /** Already there (a retry or resumption): nothing written. */
  existing: number;
}

export interface RiskAssessmentSink {
  write(assessments: readonly RiskAssessment[], signal?: AbortSignal): Promise<WriteResult>;
}

/** Counts "201" vs "200" entry responses of a transaction-response Bundle. */
export function countTransactionResults(response: Bundle, expected: number): WriteResult {
  const entries = response.entry ?? [];
  if (response.type !== 'transaction-response' || entries.length !== expected) {
    throw new BadGatewayError(`The FHIR server answered the transaction with ${entries.length} entries for ${expected}`);
  }
  let created = 0;
  let existing = 0;
  for (const e of entries) {
    const status = e.response?.status ?? '';
    if (status.startsWith('201')) created++;
    else if (status.startsWith('200')) existing++;
    else throw new BadGatewayError(`A RiskAssessment was not written (${status || 'no status'})`);
  }
  return { created, existing };
}

/** Writes each batch as one transaction; safe to repeat (entries are conditional creates). */
export function fhirTransactionSink(client: Pick<FhirClient, 'transaction'>): RiskAssessmentSink {
  return {
    async write(assessments, signal) {
      if (!assessments.length) return { created: 0, existing: 0 };
      const response = await client.transaction(riskAssessmentTransaction(assessments), { idempotent: true, ...(signal ? { signal } : {}) });
      return countTransactionResults(response, assessments.length);
    },
  };
}

function identifierOf(ra: RiskAssessment): string | undefined {
  const id = ra.identifier?.[0];
  return id?.value ? `${id.system ?? ''}|${id.value}` : undefined;
}

/** True when the file exists and its last byte is not a newline (a write cut short). */
async function endsMidLine(file: string): Promise<boolean> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
  try {
    const { size } = await handle.stat();
    if (size === 0) return false;
    const last = Buffer.alloc(1);
    await handle.read(last, 0, 1, size - 1);
    return last[0] !== 0x0a;
  } finally {
    await handle.close();
  }
}

/** Appends to an ndjson file, skipping identifiers the file already holds (read once at start). */
export async function ndjsonFileSink(file: string): Promise<RiskAssessmentSink> {
  const seen = new Set<string>();
  try {
    for await (const line of ndjsonLines(createReadStream(file))) {
      try {
        const id = identifierOf(JSON.parse(line) as RiskAssessment);
        if (id) seen.add(id);
      } catch {
        // A torn last line from a crash: the resource is written again below.
      }
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  let torn = await endsMidLine(file);
  return {
    async write(assessments) {
      const fresh = assessments.filter((ra) => {
        const id = identifierOf(ra);
        return id === undefined || !seen.has(id);
      });
      if (fresh.length) {
        await appendFile(file, `${torn ? '\n' : ''}${fresh.map((ra) => `${JSON.stringify(ra)}\n`).join('')}`, 'utf8');
        torn = false;
      }
      for (const ra of fresh) {
        const id = identifierOf(ra);
        if (id) seen.add(id);
      }
      return { created: fresh.length, existing: assessments.length - fresh.length };
    },
  };
}
