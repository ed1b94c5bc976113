/**
 * `npx tsx bench/ecg.ts [--backends wasm,cpu] [--tracings 16] [--json OUT] [--docs docs/models/ecg-rhythm.md]`
 *
 * Per 30-second tracing of the shipped ecg-rhythm model, on every back end that loads here (those that do
 * not are reported as skipped): inference one tracing per forward pass vs all tracings' windows in one
 * batched pass; integrated gradients with all 32 Gauss–Legendre points in one batched gradient call vs one
 * call per point (the textbook loop); and the full explanation the service computes (IG flat + smoothed
 * baselines, SmoothGrad, occlusion). Ratios come from the same run. --docs rewrites the speed section of
 * the model card between its bench markers.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config.js';
import { integratedGradients, integratedGradientsStepwise } from '../src/explain/index.js';
import { ADAPTERS, BACKEND_PREFERENCE, getTf, type BackendName } from '../src/models/backend/index.js';
import { loadModelFolder, type RegisteredModel } from '../src/models/registry.js';
import { ECG_CLASSES } from '../src/models/ecg/classes.js';
import { classifyTracing, ecgSpecOf } from '../src/models/ecg/classify.js';
import { readEcgRecords } from '../src/models/ecg/data.js';
import type { EcgInput } from '../src/models/ecg/encoding.js';
import { explainTracing, tracingDifferentiable } from '../src/models/ecg/explain.js';
import { installFastConvGradients } from '../src/models/ecg/wasm-conv-grad.js';
import { encodeTracing, rowWidth, toModelRate } from '../src/models/ecg/windows.js';

interface Row {
  backend: string;
  inferenceUnbatchedMs: number;
  inferenceBatchedMs: number;
  igStepwiseMs: number;
  igBatchedMs: number;
  explanationMs: number;
  explanationBreakdown: Record<string, number>;
}

function mean(fn: () => void, reps: number): number {
  fn();
  const started = performance.now();
  for (let i = 0; i < reps; i++) fn();
  return (performance.now() - started) / reps;
}

interface RunInfo {
  skipped: string[];
  /** 1-minute load average before and after the run (other jobs share the 2 cores). */
  loadBefore: number;
  loadAfter: number;
  modelVersion: string;
}

function markdown(rows: Row[], tracings: number, windows: number, info: RunInfo): string {
  const f = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
  const wasm = rows.find((r) => r.backend === 'wasm');
  return [
    '<!-- bench:start -->',
    '## Speed (bench/ecg.ts)',
    '',
    `Measured by \`npx tsx bench/ecg.ts --docs docs/models/ecg-rhythm.md\` on this machine (2 cores, no GPU) per 30-s tracing (${windows} windows of the model); ` +
      `batched rows put ${tracings} tracings' windows (or all 32 integration points) in one call. Model ${info.modelVersion}. ` +
      `Back ends that did not load are skipped: ${info.skipped.length ? info.skipped.map((b) => `\`${b}\``).join(', ') : 'none'}; ran: ${rows.map((r) => `\`${r.backend}\``).join(', ')}. ` +
      `Load average (1 min) ${info.loadBefore.toFixed(2)} before and ${info.loadAfter.toFixed(2)} after the run: the cores were shared, so read the ratios rather than the absolute times. ` +
      'Full explanation = IG from both baselines (Gauss–Legendre 16 → 32 → 64 until completeness < 5 %), SmoothGrad (8 samples) and occlusion (0.5 s), as the service runs it.',
    '',
    '| back end | inference, unbatched (ms) | inference, batched (ms) | ratio | IG 32 steps, one call per step (ms) | IG 32 steps, one batched call (ms) | ratio | full explanation (ms) |',
    '|---|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.backend} | ${f(r.inferenceUnbatchedMs)} | ${f(r.inferenceBatchedMs)} | ×${(r.inferenceUnbatchedMs / r.inferenceBatchedMs).toFixed(2)} | ${f(r.igStepwiseMs)} | ${f(r.igBatchedMs)} | ×${(r.igStepwiseMs / r.igBatchedMs).toFixed(2)} | ${f(r.explanationMs)} |`),
    '',
    ...rows.map((r) => `- ${r.backend}, full explanation by method (ms): ${Object.entries(r.explanationBreakdown).map(([k, v]) => `${k} ${f(v)}`).join(', ')}.`),
    ...(wasm ? [`- A card with its explanation costs ≈ ${((wasm.inferenceUnbatchedMs + wasm.explanationMs) / 1000).toFixed(1)} s on wasm in this run (HOOK_DEADLINE_MS defaults to 10 s).`] : []),
    '<!-- bench:end -->',
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { backends: { type: 'string' }, tracings: { type: 'string', default: '16' }, json: { type: 'string' }, docs: { type: 'string' }, reps: { type: 'string', default: '3' } } });
  const config = loadConfig();
  const wanted = (values.backends?.split(',') ?? [...BACKEND_PREFERENCE]) as BackendName[];
  const reps = Number(values.reps);
  const split = JSON.parse(readFileSync(path.join(config.modelsDir, 'ecg-rhythm/split.json'), 'utf8')) as { test: string[] };
  const records = readEcgRecords('data/raw/ecg-cinc2017/records.jsonl').filter((r) => split.test.includes(r.id) && r.samples.length === 9000).slice(0, Number(values.tracings));
  const rows: Row[] = [];
  const skipped: string[] = [];
  const loadBefore = loadavg()[0]!;
  let modelVersion = '';
  let windows = 0;
  for (const backend of wanted) {
    if (!(await ADAPTERS[backend].activate())) {
      console.log(`${backend}: not available, skipped`);
      skipped.push(backend);
      continue;
    }
    const tf = getTf();
    await tf.ready();
    installFastConvGradients();
    const model = (await loadModelFolder(path.join(config.modelsDir, 'ecg-rhythm'), { maxBatch: 1, maxWaitMs: 0 })) as unknown as RegisteredModel<EcgInput>;
    const spec = ecgSpecOf(model);
    modelVersion = model.manifest.version;
    const signals = records.map((r) => toModelRate(r.samples, r.fs, spec));
    const encoded = signals.map((s) => encodeTracing(s, spec));
    windows = encoded[0]!.starts.length;
    const all = new Float32Array(encoded.reduce((n, e) => n + e.windows.length, 0));
    let at = 0;
    for (const e of encoded) {
      all.set(e.windows, at);
      at += e.windows.length;
    }
    const slow = backend === 'cpu';
    const n = slow ? 1 : reps;
    const inferenceUnbatchedMs = mean(() => records.forEach((r) => classifyTracing(model, { samples: r.samples, rateHz: r.fs })), n) / records.length;
    const inferenceBatchedMs = mean(() => {
      records.forEach((r) => toModelRate(r.samples, r.fs, spec));
      model.forward(all, all.length / rowWidth(spec));
    }, n) / records.length;
    const signal = signals[0]!;
    const x = encoded[0]!.windows;
    const first = classifyTracing(model, { samples: records[0]!.samples, rateHz: records[0]!.fs });
    const classIndex = ECG_CLASSES.indexOf(first.ok ? first.classification.rhythm : 'N');
    const differentiable = tracingDifferentiable(model.network, spec, windows, classIndex);
    const flat = new Float32Array(x.length);
    const igStepwiseMs = mean(() => integratedGradientsStepwise(differentiable, x, flat, { steps: 32 }), 1);
    const igBatchedMs = mean(() => integratedGradients(differentiable, x, flat, { schedule: [32], tolerance: 1 }), n);
    const breakdown: Record<string, number> = {};
    for (const method of ['ig-flat', 'ig-smoothed', 'smoothgrad', 'occlusion'] as const) {
      breakdown[method] = mean(() => explainTracing(model.network, spec, signal, { classIndex, methods: [method] }), 1);
    }
    const explanationMs = mean(() => explainTracing(model.network, spec, signal, { classIndex }), 1);
    rows.push({ backend, inferenceUnbatchedMs, inferenceBatchedMs, igStepwiseMs, igBatchedMs, explanationMs, explanationBreakdown: breakdown });
    console.log(JSON.stringify(rows[rows.length - 1]));
    await (model as unknown as { retire(): Promise<void> }).retire();
  }
  const md = markdown(rows, records.length, windows, { skipped, loadBefore, loadAfter: loadavg()[0]!, modelVersion });
  console.log('\n' + md);
  if (values.json) writeFileSync(values.json, JSON.stringify({ tracings: records.length, windowsPerTracing: windows, rows }, null, 2) + '\n');
  if (values.docs && existsSync(values.docs)) {
    const doc = readFileSync(values.docs, 'utf8');
    const start = doc.indexOf('<!-- bench:start -->');
    const end = doc.indexOf('<!-- bench:end -->');
    const next = start >= 0 && end > start ? doc.slice(0, start) + md.trimEnd() + doc.slice(end + '<!-- bench:end -->'.length) : doc.trimEnd() + '\n\n' + md;
    writeFileSync(values.docs, next);
    console.log(`updated ${values.docs}`);
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack : err);
  process.exit(1);
});
