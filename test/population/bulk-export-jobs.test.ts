/**
 * The sandbox's export job registry on its own: files split at the line cap, `_since` on meta.lastUpdated,
 * expiry after retention, the cap on finished jobs kept in memory, and cancellation of a running job.
 */
import { describe, expect, it } from '@jest/globals';
import type { Resource } from 'fhir/r4';
import { ExportJobRegistry, type ExportJob, type ExportSource } from '../../src/sandbox/fhir/bulk-export-jobs.js';
import type { ExportRequest } from '../../src/sandbox/fhir/bulk-export-params.js';

const request = (over: Partial<ExportRequest> = {}): ExportRequest => ({ level: 'patient', types: ['Patient', 'Observation'], typesExplicit: true, requestUrl: 'x', ...over });

function source(patients: number, observationsEach: number): ExportSource {
  return {
    patientIds: () => Array.from({ length: patients }, (_, i) => ({ id: `p${i}` })),
    *resourcesOf(type, patientId) {
      if (type === 'Patient') yield { resourceType: 'Patient', id: patientId, meta: { lastUpdated: '2026-01-01T00:00:00Z' } } as Resource;
      else for (let i = 0; i < observationsEach; i++) yield { resourceType: 'Observation', id: `${patientId}-${i}`, meta: { lastUpdated: `2026-01-0${1 + (i % 2)}T00:00:00Z` } } as Resource;
    },
  };
}

async function settled(registry: ExportJobRegistry, job: ExportJob): Promise<ExportJob> {
  for (let i = 0; i < 1000 && job.status === 'in-progress'; i++) await new Promise((resolve) => setImmediate(resolve));
  return job;
}

describe('ExportJobRegistry', () => {
  it('splits files at the line cap and keeps only what changed after _since', async () => {
    const registry = new ExportJobRegistry({ maxLinesPerFile: 5 });
    const all = await settled(registry, registry.start(request(), 'c', source(3, 4)));
    expect(all.status).toBe('completed');
    expect(all.output.map((f) => [f.name, f.lines.length])).toEqual([
      ['Patient-1.ndjson', 3],
      ['Observation-1.ndjson', 5],
      ['Observation-2.ndjson', 5],
      ['Observation-3.ndjson', 2],
    ]);
    const since = await settled(registry, registry.start(request({ since: { text: '2026-01-01T12:00:00Z', epochMs: Date.parse('2026-01-01T12:00:00Z') } }), 'c', source(3, 4)));
    expect(since.output.map((f) => [f.type, f.lines.length])).toEqual([['Observation', 5], ['Observation', 1]]);
  });

  it('drops jobs after retention and beyond the cap of finished jobs; cancels a running one', async () => {
    let now = Date.parse('2026-01-01T00:00:00Z');
    const registry = new ExportJobRegistry({ maxFinishedJobs: 2, retentionMs: 60_000, now: () => new Date(now) });
    const jobs: ExportJob[] = [];
    for (let i = 0; i < 3; i++) jobs.push(await settled(registry, registry.start(request(), 'c', source(1, 1))));
    expect(registry.get(jobs[0]!.id)).toBeUndefined();
    expect(registry.get(jobs[1]!.id)).toBeDefined();
    now += 61_000;
    expect(registry.get(jobs[2]!.id)).toBeUndefined();

    let release!: () => void;
    const held = new ExportJobRegistry({ maxActiveJobs: 1, pace: () => new Promise<void>((resolve) => (release = resolve)) });
    const running = held.start(request(), 'c', source(2, 1));
    await new Promise((resolve) => setImmediate(resolve));
    expect(held.hasCapacity()).toBe(false);
    expect(held.cancel(running.id)).toBe(true);
    release();
    expect(held.get(running.id)).toBeUndefined();
    expect(held.hasCapacity()).toBe(true);
    expect(held.cancel('unknown')).toBe(false);
  });
});
