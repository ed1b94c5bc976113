/**
 * `npx tsx bench/inference.ts [--requests N] [--callers 64] [--backends wasm,cpu] [--json OUT]`
 *
 * For each available back end and each shipped model: 64 concurrent callers issue predict() calls,
 * first with batching off (max batch 1) and then micro-batched (MODEL_MAX_BATCH / MODEL_MAX_WAIT_MS);
 * reports p50/p99 latency, throughput and the throughput ratio from the same run. Also times one
 * forward pass and one input gradient (what an explanation needs) per model.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type * as tfTypes from '@tensorflow/tfjs';
import { loadConfig } from '../src/config.js';
import { ADAPTERS, BACKEND_PREFERENCE, getTf, type BackendName } from '../src/models/backend/index.js';
import { ModelRegistry, type RegisteredModel } from '../src/models/registry.js';
import { parseUciHeart } from '../src/models/data/uci-heart.js';
import { readPhysionet, windowRows } from '../src/models/data/physionet.js';
import type { DeteriorationInput } from '../src/models/types.js';
import { percentile } from './percentile.js';

interface ScenarioResult {
  backend: string;
  model: string;
  mode: 'batch-1' | 'micro-batched';
  requests: number;
  p50Ms: number;
  p99Ms: number;
  throughputPerSec: number;
  meanBatch: number;
}

async function runScenario(model: RegisteredModel<unknown>, inputs: unknown[], callers: number, requests: number): Promise<Omit<ScenarioResult, 'backend' | 'model' | 'mode'>> {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  const worker = async () => {
    while (next < requests) {
      const input = inputs[next++ % inputs.length];
      const t0 = performance.now();
      await model.predict(input);
      latencies.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: callers }, worker));
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const stats = (model as unknown as { batchStats: { batches: number; items: number } }).batchStats;
  return { requests, p50Ms: percentile(latencies, 0.5), p99Ms: percentile(latencies, 0.99), throughputPerSec: requests / seconds, meanBatch: stats.items / Math.max(1, stats.batches) };
}

function timeIt(fn: () => void, reps: number): { p50Ms: number; p99Ms: number } {
  for (let i = 0; i < 3; i++) fn();
  const t: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    fn();
    t.push(performance.now() - t0);
  }
  t.sort((a, b) => a - b);
  return { p50Ms: percentile(t, 0.5), p99Ms: percentile(t, 0.99) };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      requests: { type: 'string', default: '1024' },
      callers: { type: 'string', default: '64' },
      backends: { type: 'string' },
      json: { type: 'string' },
    },
  });
  const config = loadConfig();
  const callers = Number(values.callers);
  const requests = Number(values.requests);
  const wanted = (values.backends?.split(',') ?? [...BACKEND_PREFERENCE]) as BackendName[];

  const heartInputs = parseUciHeart(readFileSync('data/raw/uci-heart-disease/processed.cleveland.data', 'utf8')).map((e) => e.record);
  const stays = [...readPhysionet('data/raw/physionet-sepsis-2019/sepsis2019_setB_dev_2000.csv').values()].slice(0, 64);
  const detInputs: DeteriorationInput[] = stays.map((s) => ({ rows: windowRows(s, s.hours.length - 1), age: s.age, sex: s.sex }));

  const results: ScenarioResult[] = [];
  const costs: Array<{
    backend: string;
    model: string;
    forward: ReturnType<typeof timeIt>;
    inputGradient: ReturnType<typeof timeIt>;
    /** One batched gradient call over 16 / 64 interpolated inputs: the core of integrated gradients (issue 7). */
    gradient16: ReturnType<typeof timeIt>;
    gradient64: ReturnType<typeof timeIt>;
  }> = [];
  for (const backend of wanted) {
    if (!(await ADAPTERS[backend].activate())) {
      console.log(`${backend}: not available, skipped`);
      continue;
    }
    await getTf().ready();
    const plain = await ModelRegistry.open({ dir: config.modelsDir, maxBatch: 1, maxWaitMs: 0 });
    const batched = await ModelRegistry.open({ dir: config.modelsDir, maxBatch: config.modelMaxBatch, maxWaitMs: config.modelMaxWaitMs });
    for (const id of plain.ids()) {
      const inputs: unknown[] | undefined = id === 'heart-disease' ? heartInputs : id === 'deterioration' ? detInputs : undefined;
      // The ECG classifier takes tracings, not these inputs; bench/ecg.ts measures it (batched vs unbatched too).
      if (!inputs) {
        console.log(`${backend}: ${id} skipped here (see bench/ecg.ts)`);
        continue;
      }
      // The pure-JS cpu back end is two orders slower on the GRU: fewer requests keep the run short.
      const n = backend === 'cpu' && id === 'deterioration' ? Math.min(requests, 256) : requests;
      for (const [mode, registry] of [['batch-1', plain], ['micro-batched', batched]] as const) {
        const model = registry.get(id);
        await runScenario(model, inputs, callers, Math.min(n, 128)); // warm-up
        const stats = (model as unknown as { batchStats: { batches: number; items: number } }).batchStats;
        stats.batches = 0;
        stats.items = 0;
        results.push({ backend, model: id, mode, ...(await runScenario(model, inputs, callers, n)) });
      }
      const tf = getTf();
      const model = plain.get(id);
      const x = model.encode(inputs[0] as never);
      const xt = tf.tensor(x, [1, ...model.inputShape]);
      const grad = tf.grad((inp: tfTypes.Tensor) => (model.network.apply(inp) as tfTypes.Tensor).sum());
      const x16 = tf.tile(xt, [16, ...model.inputShape.map(() => 1)]);
      const x64 = tf.tile(xt, [64, ...model.inputShape.map(() => 1)]);
      const reps = backend === 'cpu' && id === 'deterioration' ? 10 : 50;
      costs.push({
        backend,
        model: id,
        forward: timeIt(() => tf.tidy(() => void (model.network.predict(xt) as tfTypes.Tensor).dataSync()), reps),
        inputGradient: timeIt(() => tf.tidy(() => void grad(xt).dataSync()), reps),
        gradient16: timeIt(() => tf.tidy(() => void grad(x16).dataSync()), reps),
        gradient64: timeIt(() => tf.tidy(() => void grad(x64).dataSync()), Math.min(reps, 20)),
      });
      tf.dispose([xt, x16, x64]);
    }
    await plain.close();
    await batched.close();
  }

  console.log(`\n${callers} concurrent callers; micro-batching max batch ${config.modelMaxBatch}, max wait ${config.modelMaxWaitMs} ms`);
  console.log('backend  model          mode            requests  p50 ms   p99 ms   req/s     mean batch');
  for (const r of results) {
    console.log(
      `${r.backend.padEnd(8)} ${r.model.padEnd(14)} ${r.mode.padEnd(15)} ${String(r.requests).padStart(8)} ${r.p50Ms.toFixed(2).padStart(8)} ${r.p99Ms.toFixed(2).padStart(8)} ${r.throughputPerSec.toFixed(0).padStart(8)} ${r.meanBatch.toFixed(1).padStart(10)}`,
    );
  }
  console.log('\nthroughput ratio micro-batched / batch-1 (same run):');
  const ratios: Array<{ backend: string; model: string; ratio: number }> = [];
  for (const r of results.filter((x) => x.mode === 'micro-batched')) {
    const base = results.find((x) => x.mode === 'batch-1' && x.backend === r.backend && x.model === r.model)!;
    const ratio = r.throughputPerSec / base.throughputPerSec;
    ratios.push({ backend: r.backend, model: r.model, ratio });
    console.log(`  ${r.backend.padEnd(8)} ${r.model.padEnd(14)} ×${ratio.toFixed(2)}`);
  }
  console.log('\nsingle-example cost (ms, p50 / p99):');
  for (const c of costs) {
    const f = (t: { p50Ms: number; p99Ms: number }) => `${t.p50Ms.toFixed(2)} / ${t.p99Ms.toFixed(2)}`;
    console.log(
      `  ${c.backend.padEnd(8)} ${c.model.padEnd(14)} forward ${f(c.forward)}   input gradient ${f(c.inputGradient)}   ` +
        `batched gradient ×16 ${f(c.gradient16)}   ×64 ${f(c.gradient64)}`,
    );
  }
  if (values.json) writeFileSync(values.json, JSON.stringify({ callers, maxBatch: config.modelMaxBatch, maxWaitMs: config.modelMaxWaitMs, results, ratios, costs }, null, 2) + '\n');
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack : err);
  process.exit(1);
});
