/**
 * `npx tsx bench/ecg-record.ts [--tracings 8]`
 *
 * Size and handling cost of the ECG explanation record, format 2 (src/cds-hooks/services/ecg-rhythm/record.ts)
 * next to format 1 (every series a plain per-sample array, as stored before), for 30-s test-split tracings of
 * the shipped ecg-rhythm model explained on the wasm back end: JSON bytes, gzip bytes, and the median of
 * JSON.stringify, JSON.parse and the view's ecgOf (which decodes format 2) per record. Prints the load average.
 */
import { gzipSync } from 'node:zlib';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { analyseSamples } from '../src/cds-hooks/services/ecg-rhythm/analysis.js';
import { buildEcgRecord, type EcgExplanationRecord } from '../src/cds-hooks/services/ecg-rhythm/record.js';
import { loadConfig } from '../src/config.js';
import type { ExplanationRecord } from '../src/explanations/record.js';
import { backendName, initBackend } from '../src/models/backend/index.js';
import { readEcgRecords } from '../src/models/ecg/data.js';
import type { EcgInput } from '../src/models/ecg/encoding.js';
import { loadModelFolder, type RegisteredModel } from '../src/models/registry.js';
import { ecgOf } from '../src/web/ecg-model.js';
import { percentile } from './percentile.js';

/** The same record as format 1 stored it: plain per-sample arrays (saliency to 6 decimals, as then). */
function formatOne(record: EcgExplanationRecord, tracks: ReadonlyArray<{ values: Float32Array }>): unknown {
  const view = ecgOf(record as unknown as ExplanationRecord)!;
  const { format: _format, saliency, score: _score, saliencyBucketSeconds: _bucket, ...rest } = record.ecg;
  const round6 = (values: ArrayLike<number>) => Array.from(values, (v) => Number(v.toFixed(6)));
  return {
    ...record,
    ecg: {
      ...rest,
      signal: view.signal.map((v) => (v === null ? null : Number(v.toFixed(3)))),
      ...(saliency ? { saliency: saliency.map(({ sums: _sums, total: _total, baselineScore: _b, ...s }, k) => ({ ...s, values: round6(tracks[k]!.values) })) } : {}),
      ...(view.consensus ? { consensus: round6(view.consensus) } : {}),
    },
  };
}

const median = (xs: readonly number[]) => percentile([...xs].sort((a, b) => a - b), 0.5);

function timed(fn: () => void, reps = 20): number {
  fn();
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    fn();
    times.push(performance.now() - t0);
  }
  return median(times);
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { tracings: { type: 'string', default: '8' } } });
  const config = loadConfig(process.env);
  const loadBefore = loadavg()[0]!;
  await initBackend({ force: 'wasm' });
  const model = (await loadModelFolder(path.join(config.modelsDir, 'ecg-rhythm'), { maxBatch: 1, maxWaitMs: 0 })) as unknown as RegisteredModel<EcgInput>;
  const split = JSON.parse(readFileSync(path.join(config.modelsDir, 'ecg-rhythm/split.json'), 'utf8')) as { test: string[] };
  const tracings = readEcgRecords('data/raw/ecg-cinc2017/records.jsonl')
    .filter((r) => split.test.includes(r.id) && r.samples.length === 9000)
    .slice(0, Number(values.tracings));
  const rows: Array<Record<string, number>> = [];
  for (const t of tracings) {
    const analysis = analyseSamples(model, { samples: t.samples, rateHz: t.fs, belowLimit: 0, aboveLimit: 0 });
    if (!analysis.ok || !analysis.explanation) continue;
    const c = analysis.classification;
    const record = buildEcgRecord({
      id: 'bench',
      cardUuid: 'bench',
      patientId: 'bench',
      serviceId: 'vigil-ecg-rhythm',
      manifest: model.manifest,
      now: new Date(),
      rhythm: c.rhythm,
      probabilities: c.probabilities,
      windows: c.windows,
      signal: c.signal,
      rateHz: c.rateHz,
      start: '2026-01-01T10:00:00.000Z',
      observation: 'Observation/bench',
      lead: 'Observation.valueSampledData',
      explanation: analysis.explanation,
    });
    const old = formatOne(record, analysis.explanation.tracks);
    const row: Record<string, number> = {};
    for (const [name, value] of [['v1', old], ['v2', record]] as const) {
      const json = JSON.stringify(value);
      row[`${name}Bytes`] = json.length;
      row[`${name}Gzip`] = gzipSync(json).length;
      row[`${name}StringifyMs`] = timed(() => JSON.stringify(value));
      row[`${name}ParseMs`] = timed(() => JSON.parse(json));
      const parsed = JSON.parse(json) as ExplanationRecord;
      row[`${name}EcgOfMs`] = timed(() => ecgOf(parsed));
    }
    rows.push(row);
  }
  const col = (key: string) => median(rows.map((r) => r[key]!));
  const f = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(2));
  console.log(`ECG explanation record, ${rows.length} test-split 30-s tracings, back end ${backendName()}, load average ${loadBefore.toFixed(1)} → ${loadavg()[0]!.toFixed(1)} (medians)`);
  console.log('| format | JSON bytes | gzip bytes | stringify ms | parse ms | ecgOf ms (the view decodes) |');
  console.log('|---|---|---|---|---|---|');
  for (const v of ['v1', 'v2']) {
    console.log(`| ${v === 'v1' ? '1 (plain arrays)' : '2 (fixed point, 40 ms method sums)'} | ${col(`${v}Bytes`).toFixed(0)} | ${col(`${v}Gzip`).toFixed(0)} | ${f(col(`${v}StringifyMs`))} | ${f(col(`${v}ParseMs`))} | ${f(col(`${v}EcgOfMs`))} |`);
  }
}

await main();
