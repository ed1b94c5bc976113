/**
 * `npx tsx bench/deterioration-arch.ts --tcn DIR [--gru DIR] [--patients 32] [--rounds 3] [--fast-conv] [--fast-matmul] [--json OUT]`
 *
 * GRU vs temporal convolution network (TCN) for the deterioration model (issue 7 §Speed, cold path), side
 * by side in one process on the same back end (wasm unless VIGIL_BACKEND says otherwise) and the same
 * PhysioNet 2019 windows (each stay's last hour, stays with ≥ 8 hours). `--gru` and `--tcn` are models
 * folders holding a `deterioration/` model (default `--gru models`; a `--trial` run of `npm run train` writes
 * one for a candidate). For each network, patient by patient and alternating between the two so load from
 * other processes falls on both alike:
 * - forward pass, one window (batch 1);
 * - one batched gradient call over 65 rows (the 64-interval trapezoid's rows), the unit IG is built of;
 * - integrated gradients as the service runs them: adaptive trapezoid from 8 intervals, bisecting until the
 *   completeness delta is below 1 % (default cell budget), logit target, "normal physiology" baseline —
 *   time, intervals, gradient rows and calls, delta, unconverged count;
 * - the whole explanation record (IG + the forward passes, aggregation and factor text around it).
 * p50 / p99 per item, GRU ÷ TCN ratios, the back end and the 1-minute load average at start and end.
 * `--fast-conv` installs the wasm convolution-gradient override (src/models/ecg/wasm-conv-grad.ts) first; without
 * it the TCN's input gradients run on tfjs-backend-wasm's own Conv2DBackpropInput, as in a process that
 * never loaded the ECG explainer. `--fast-matmul` installs src/models/backend/wasm-matmul.ts (transposed
 * products on XNNPACK) for both networks.
 */
import { loadavg } from 'node:os';
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { backendName, initBackend } from '../src/models/backend/index.js';
import { ModelRegistry } from '../src/models/registry.js';
import { readPhysionet, windowRows } from '../src/models/data/physionet.js';
import { explainableFromRegistered, explainPrediction, integratedGradients } from '../src/explain/index.js';
import { scores, valuesAndGradients } from '../src/explain/differentiable.js';
import type { Explainable, PreparedInput } from '../src/explain/index.js';
import { installFastConvGradients } from '../src/models/ecg/wasm-conv-grad.js';
import { installFastWasmMatMul } from '../src/models/backend/wasm-matmul.js';
import { percentile } from './percentile.js';

const { values: args } = parseArgs({
  options: {
    gru: { type: 'string', default: 'models' },
    tcn: { type: 'string' },
    patients: { type: 'string', default: '32' },
    rounds: { type: 'string', default: '3' },
    json: { type: 'string' },
    'fast-conv': { type: 'boolean', default: false },
    'fast-matmul': { type: 'boolean', default: false },
  },
});

interface Samples {
  forward: number[];
  gradient65: number[];
  ig: number[];
  explain: number[];
  intervals: number[];
  rows: number[];
  calls: number[];
  deltas: number[];
  unconverged: number;
}

const empty = (): Samples => ({ forward: [], gradient65: [], ig: [], explain: [], intervals: [], rows: [], calls: [], deltas: [], unconverged: 0 });

function time(fn: () => void): number {
  const t0 = performance.now();
  fn();
  return performance.now() - t0;
}

function measure(model: Explainable, p: PreparedInput, s: Samples, record: boolean): void {
  const forward = time(() => scores(model, p.encoded, 1, 'probability'));
  const rows = new Float32Array(65 * p.encoded.length);
  for (let r = 0; r < 65; r++) rows.set(p.encoded, r * p.encoded.length);
  const gradient65 = time(() => valuesAndGradients(model, rows, 65, 'logit'));
  let result: ReturnType<typeof integratedGradients> | undefined;
  const ig = time(() => (result = integratedGradients(model, p.encoded, p.baselines.normal, { rule: 'adaptive-trapezoid', tolerance: 0.01, target: 'logit' })));
  const explain = time(() => explainPrediction(model, p));
  if (!record) return;
  s.forward.push(forward);
  s.gradient65.push(gradient65);
  s.ig.push(ig);
  s.explain.push(explain);
  s.intervals.push(result!.steps);
  s.rows.push(result!.rows);
  s.calls.push(result!.gradientCalls);
  s.deltas.push(result!.delta);
  if (!result!.converged) s.unconverged++;
}

const sorted = (xs: number[]) => xs.slice().sort((a, b) => a - b);
const p50 = (xs: number[]) => percentile(sorted(xs), 0.5);
const p99 = (xs: number[]) => percentile(sorted(xs), 0.99);

async function main(): Promise<void> {
  if (!args.tcn) throw new Error('--tcn DIR is required (a models folder with deterioration/, e.g. from `npm run train -- --model deterioration --arch tcn --trial --out DIR`)');
  await initBackend({ force: (process.env['VIGIL_BACKEND'] as 'wasm' | undefined) ?? 'wasm' });
  if (args['fast-conv']) installFastConvGradients();
  if (args['fast-matmul'] && !installFastWasmMatMul()) throw new Error('--fast-matmul needs the wasm back end');
  const loadStart = loadavg()[0]!;
  const registries = { gru: await ModelRegistry.open({ dir: args.gru!, maxBatch: 1, maxWaitMs: 0 }), tcn: await ModelRegistry.open({ dir: args.tcn, maxBatch: 1, maxWaitMs: 0 }) };
  const models = { gru: explainableFromRegistered(registries.gru.get('deterioration')), tcn: explainableFromRegistered(registries.tcn.get('deterioration')) };
  const n = Number(args.patients);
  const stays = [...readPhysionet('data/raw/physionet-sepsis-2019/sepsis2019_setB_dev_2000.csv').values()].filter((s) => s.hours.length >= 8).slice(0, n);
  const prepared = {
    gru: stays.map((s) => models.gru.prepare({ rows: windowRows(s, s.hours.length - 1), age: s.age, sex: s.sex })),
    tcn: stays.map((s) => models.tcn.prepare({ rows: windowRows(s, s.hours.length - 1), age: s.age, sex: s.sex })),
  };
  const samples = { gru: empty(), tcn: empty() };
  // Warm-up (kernels compiled, memory grown), then rounds × patients, alternating the order per patient.
  for (let i = 0; i < 2; i++) for (const k of ['gru', 'tcn'] as const) measure(models[k], prepared[k][i]!, samples[k], false);
  for (let round = 0; round < Number(args.rounds); round++) {
    for (let i = 0; i < n; i++) {
      const order = (i + round) % 2 === 0 ? (['gru', 'tcn'] as const) : (['tcn', 'gru'] as const);
      for (const k of order) measure(models[k], prepared[k][i]!, samples[k], true);
    }
  }
  const loadEnd = loadavg()[0]!;
  const summary = (k: 'gru' | 'tcn') => {
    const s = samples[k];
    return {
      version: models[k].version,
      forwardMs: { p50: p50(s.forward), p99: p99(s.forward) },
      gradient65Ms: { p50: p50(s.gradient65), p99: p99(s.gradient65) },
      igMs: { p50: p50(s.ig), p99: p99(s.ig) },
      explainMs: { p50: p50(s.explain), p99: p99(s.explain) },
      intervals: { p50: p50(s.intervals), p90: percentile(sorted(s.intervals), 0.9), max: Math.max(...s.intervals) },
      gradientRows: { p50: p50(s.rows), max: Math.max(...s.rows) },
      gradientCalls: { p50: p50(s.calls), max: Math.max(...s.calls) },
      maxDelta: Math.max(...s.deltas),
      unconverged: s.unconverged,
      measurements: s.ig.length,
    };
  };
  const gru = summary('gru');
  const tcn = summary('tcn');
  const ratio = (a: { p50: number }, b: { p50: number }) => a.p50 / b.p50;
  const report = {
    backend: backendName(),
    node: process.version,
    fastConvGradients: args['fast-conv'],
    fastMatMul: args['fast-matmul'],
    patients: n,
    rounds: Number(args.rounds),
    loadAverage1m: { start: loadStart, end: loadEnd },
    gru,
    tcn,
    gruOverTcn: { forward: ratio(gru.forwardMs, tcn.forwardMs), gradient65: ratio(gru.gradient65Ms, tcn.gradient65Ms), ig: ratio(gru.igMs, tcn.igMs), explain: ratio(gru.explainMs, tcn.explainMs) },
    rule: { tcnIgP50AtMostHalfOfGru: tcn.igMs.p50 <= gru.igMs.p50 / 2 },
  };
  const f = (x: number) => x.toFixed(x < 10 ? 2 : 1);
  console.log(`deterioration GRU (${gru.version}) vs TCN (${tcn.version}) · backend ${report.backend}${args['fast-conv'] ? ' + fast conv gradients' : ''}${args['fast-matmul'] ? ' + untransposed matmul' : ''} · Node ${report.node} · ${n} windows × ${report.rounds} rounds · load avg (1 min) ${loadStart.toFixed(2)} → ${loadEnd.toFixed(2)}`);
  console.log('| item | GRU p50 / p99 ms | TCN p50 / p99 ms | GRU ÷ TCN (p50) |');
  console.log('|---|---|---|---|');
  const row = (label: string, a: { p50: number; p99: number }, b: { p50: number; p99: number }) => console.log(`| ${label} | ${f(a.p50)} / ${f(a.p99)} | ${f(b.p50)} / ${f(b.p99)} | ×${(a.p50 / b.p50).toFixed(1)} |`);
  row('forward, 1 window', gru.forwardMs, tcn.forwardMs);
  row('one gradient call, 65 rows', gru.gradient65Ms, tcn.gradient65Ms);
  row('integrated gradients (adaptive, delta < 1 %)', gru.igMs, tcn.igMs);
  row('whole explanation record', gru.explainMs, tcn.explainMs);
  for (const [name, s] of [['GRU', gru], ['TCN', tcn]] as const) {
    console.log(
      `${name}: intervals p50 ${s.intervals.p50} (p90 ${s.intervals.p90}, max ${s.intervals.max}), gradient rows p50 ${s.gradientRows.p50} (max ${s.gradientRows.max}), ` +
        `gradient calls p50 ${s.gradientCalls.p50}, max delta ${(s.maxDelta * 100).toFixed(2)} %, unconverged ${s.unconverged}/${s.measurements}`,
    );
  }
  console.log(`rule (TCN IG p50 ≤ ½ GRU IG p50): ${report.rule.tcnIgP50AtMostHalfOfGru ? 'met' : 'not met'} (${f(tcn.igMs.p50)} vs ${f(gru.igMs.p50 / 2)} ms)`);
  if (args.json) writeFileSync(args.json, JSON.stringify(report, null, 2) + '\n');
  await registries.gru.close();
  await registries.tcn.close();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
