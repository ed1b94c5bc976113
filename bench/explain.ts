/**
 * `npx tsx bench/explain.ts [--backends wasm,cpu] [--patients 32] [--json OUT]`
 *
 * For each available TensorFlow.js back end (reported; native back ends are skipped when not installed)
 * and each shipped model, on real records (UCI Cleveland; PhysioNet 2019 windows ending at each stay's
 * last hour):
 * - explanation cost per patient (p50 / p99) and its ratio to one forward pass, measured in the same run;
 * - integrated gradients with all steps in one batched gradient call vs the step-by-step loop (same steps);
 * - steps (and gradient rows) needed for a completeness delta < 1 %: Gauss–Legendre vs uniform trapezoid
 *   vs adaptive trapezoid;
 * - several patients explained together (shared gradient calls) vs one after another;
 * - serving a cached explanation.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ADAPTERS, BACKEND_PREFERENCE, getTf, type BackendName } from '../src/models/backend/index.js';
import { ModelRegistry } from '../src/models/registry.js';
import { parseUciHeart } from '../src/models/data/uci-heart.js';
import { readPhysionet, windowRows } from '../src/models/data/physionet.js';
import { ExplanationCache, explainableFromRegistered, explainPrediction, explainPredictions, integratedGradients, integratedGradientsStepwise } from '../src/explain/index.js';
import { scores } from '../src/explain/differentiable.js';
import type { Explainable, PreparedInput, QuadratureRule } from '../src/explain/index.js';

const percentile = (xs: number[], p: number): number => {
  const sorted = xs.slice().sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
};

function timeEach(items: number, fn: (i: number) => void, warmup = 2): number[] {
  for (let i = 0; i < warmup; i++) fn(i % items);
  const out: number[] = [];
  for (let i = 0; i < items; i++) {
    const t0 = performance.now();
    fn(i);
    out.push(performance.now() - t0);
  }
  return out;
}

interface StepStats {
  rule: QuadratureRule;
  /** Median and p90 step count (intervals or nodes) at which delta < 1 %. */
  stepsP50: number;
  stepsP90: number;
  /** Median gradient rows evaluated (all levels) to get there. */
  rowsP50: number;
  unconverged: number;
}

function stepsNeeded(model: Explainable, inputs: PreparedInput[], rule: QuadratureRule): StepStats {
  const schedule = rule === 'gauss-legendre' ? [2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 256] : [2, 4, 8, 16, 32, 64, 128, 256];
  const steps: number[] = [];
  const rows: number[] = [];
  let unconverged = 0;
  for (const p of inputs) {
    // Minimum steps: the first schedule entry reaching the tolerance, each tried from scratch (rows = that level only).
    if (rule === 'adaptive-trapezoid') {
      const r = integratedGradients(model, p.encoded, p.baselines.normal, { rule, schedule: [2] });
      steps.push(r.steps);
      rows.push(r.rows);
      if (!r.converged) unconverged++;
      continue;
    }
    const r = integratedGradients(model, p.encoded, p.baselines.normal, { rule, schedule });
    steps.push(r.steps);
    if (!r.converged) unconverged++;
    rows.push(rule === 'gauss-legendre' ? r.steps + 2 : r.steps + 1);
  }
  return { rule, stepsP50: percentile(steps, 0.5), stepsP90: percentile(steps, 0.9), rowsP50: percentile(rows, 0.5), unconverged };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { backends: { type: 'string' }, patients: { type: 'string', default: '32' }, json: { type: 'string' } } });
  const wanted = (values.backends?.split(',') ?? [...BACKEND_PREFERENCE]) as BackendName[];
  const patients = Number(values.patients);
  const heartRecords = parseUciHeart(readFileSync('data/raw/uci-heart-disease/processed.cleveland.data', 'utf8')).map((e) => e.record);
  const stays = [...readPhysionet('data/raw/physionet-sepsis-2019/sepsis2019_setB_dev_2000.csv').values()];
  const report: Record<string, unknown>[] = [];

  for (const backend of wanted) {
    if (!(await ADAPTERS[backend].activate())) {
      console.log(`${backend}: not available here, skipped`);
      continue;
    }
    await getTf().ready();
    const registry = await ModelRegistry.open({ dir: 'models', maxBatch: 1, maxWaitMs: 0 });
    for (const id of ['heart-disease', 'deterioration']) {
      const model = explainableFromRegistered(registry.get(id));
      // The pure-JS cpu back end is ~5× slower on the GRU: fewer patients keep the run short.
      const n = backend === 'cpu' && id === 'deterioration' ? Math.min(patients, 8) : patients;
      const prepared: PreparedInput[] = (
        id === 'heart-disease'
          ? heartRecords.slice(0, n).map((r) => model.prepare(r))
          : stays.filter((s) => s.hours.length >= 8).slice(0, n).map((s) => model.prepare({ rows: windowRows(s, s.hours.length - 1), age: s.age, sex: s.sex }))
      ) as PreparedInput[];

      const forward = timeEach(n, (i) => scores(model, prepared[i]!.encoded, 1, 'probability'));
      const explain = timeEach(n, (i) => explainPrediction(model, prepared[i]!));
      const records = prepared.map((p) => explainPrediction(model, p));
      const deltas = records.map((r) => r.integration!.delta);

      // Same fixed step count, batched vs one gradient call per step.
      const fixedSteps = 32;
      const m = Math.min(n, 8);
      const batched = timeEach(m, (i) => integratedGradients(model, prepared[i]!.encoded, prepared[i]!.baselines.normal, { rule: 'gauss-legendre', schedule: [fixedSteps] }), 1);
      const stepwise = timeEach(m, (i) => integratedGradientsStepwise(model, prepared[i]!.encoded, prepared[i]!.baselines.normal, { rule: 'gauss-legendre', steps: fixedSteps }), 1);

      const steps = (['gauss-legendre', 'trapezoid', 'adaptive-trapezoid'] as const).map((rule) => stepsNeeded(model, prepared.slice(0, m * 2), rule));

      // Concurrent requests: k patients in shared gradient calls vs one after another.
      const k = Math.min(n, 8);
      const group = prepared.slice(0, k);
      // Interleaved repetitions, so load from other processes hits both sides alike.
      const together: number[] = [];
      const apart: number[] = [];
      for (let rep = 0; rep < 5; rep++) {
        together.push(...timeEach(1, () => explainPredictions(model, group), rep === 0 ? 1 : 0));
        apart.push(...timeEach(1, () => group.forEach((p) => explainPrediction(model, p)), rep === 0 ? 1 : 0));
      }

      const cache = new ExplanationCache();
      const key = (i: number) => ({ patient: `Patient/${i}`, modelId: model.modelId, modelVersion: model.version, dataVersion: prepared[i]!.dataVersion });
      records.forEach((r, i) => cache.put({ ...r, patient: `Patient/${i}` }));
      const cached = timeEach(n, (i) => cache.get(key(i)));

      const row = {
        backend,
        model: id,
        patients: n,
        forwardP50Ms: percentile(forward, 0.5),
        explainP50Ms: percentile(explain, 0.5),
        explainP99Ms: percentile(explain, 0.99),
        explainToForwardRatio: percentile(explain, 0.5) / percentile(forward, 0.5),
        deltaMax: Math.max(...deltas),
        unconverged: records.filter((r) => !r.integration!.converged).length,
        stepsP50: percentile(records.map((r) => r.integration!.steps), 0.5),
        batchedIgMs: percentile(batched, 0.5),
        stepwiseIgMs: percentile(stepwise, 0.5),
        batchedSpeedup: percentile(stepwise, 0.5) / percentile(batched, 0.5),
        stepsForDelta1pct: steps,
        concurrent: { patients: k, togetherMs: percentile(together, 0.5), oneByOneMs: percentile(apart, 0.5), speedup: percentile(apart, 0.5) / percentile(together, 0.5) },
        cachedGetP50Us: percentile(cached, 0.5) * 1000,
      };
      report.push(row);
      console.log(
        `${backend.padEnd(6)} ${id.padEnd(14)} forward ${row.forwardP50Ms.toFixed(2)} ms | explain p50 ${row.explainP50Ms.toFixed(1)} p99 ${row.explainP99Ms.toFixed(1)} ms ` +
          `(×${row.explainToForwardRatio.toFixed(0)} forward) | max delta ${(row.deltaMax * 100).toFixed(2)} %, unconverged ${row.unconverged}/${n}, steps p50 ${row.stepsP50}`,
      );
      console.log(
        `       IG ${fixedSteps} GL steps: batched ${row.batchedIgMs.toFixed(1)} ms vs step-by-step ${row.stepwiseIgMs.toFixed(1)} ms (×${row.batchedSpeedup.toFixed(1)}) | ` +
          `${k} patients together ${row.concurrent.togetherMs.toFixed(1)} ms vs one by one ${row.concurrent.oneByOneMs.toFixed(1)} ms (×${row.concurrent.speedup.toFixed(2)}) | cached get ${row.cachedGetP50Us.toFixed(1)} µs`,
      );
      for (const s of steps) {
        console.log(`       delta < 1 %: ${s.rule.padEnd(18)} steps p50 ${s.stepsP50} p90 ${s.stepsP90}, gradient rows p50 ${s.rowsP50}, unconverged ${s.unconverged}`);
      }
    }
    await registry.close();
  }
  if (values.json) writeFileSync(values.json, JSON.stringify(report, null, 2));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
