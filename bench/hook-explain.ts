/**
 * Hook + explanation benchmark (issue 7 §Speed, issue 9 §Load):
 * `npx tsx bench/hook-explain.ts [--levels 4,16] [--modes cold,warm,churn] [--threads precompute] [--kernels on] [--rounds 1] [--cold 48] [--warm 1500] [--patients 8] [--json out.json]`
 *
 * Starts the real app (createVigil with the sandbox's patients) in a child process on an ephemeral
 * localhost port, then sends full patient-view calls for vigil-deterioration — prefetch built by the
 * sandbox EHR's own request builder, a fresh ES256 client JWT on each — with autocannon:
 *
 * - cold: every call carries data the server has never seen (one extra heart-rate Observation with a
 *   unique id per call), so its data version misses the cache and the explanation is computed inline
 *   (batched with concurrent calls) and a new record is written;
 * - warm: the precompute worker is first run for the patients (as after an HL7 ORU), then the calls carry
 *   the store's unchanged data, so the hook finds the explanation of exactly its data in the cache (and,
 *   after the first call per patient, the record already issued for it);
 * - churn: warm calls while the precompute worker is kept busy on the OTHER sandbox patients (a new heart
 *   rate written to the store and notified for each, round after round, as an HL7 feed would) — the
 *   hook's p99 while explanations are computed in the background.
 *
 * `--threads off,precompute,all` runs the modes once per server with that EXPLAIN_THREAD (off = before the
 * explanation thread; precompute = the default; all = hooks' cache misses on the thread too). `--kernels on,off`
 * does the same for WASM_FAST_KERNELS (the untransposed wasm gradient kernels), and `--rounds N` repeats the
 * whole list N times, so settings alternate and outside load falls on each alike. Reports p50/p99 and throughput per level, the server's counters for each run
 * (explanations computed inline, served from the cache, records reused, explanations precomputed
 * meanwhile — proof of which path was measured), the tfjs back end and the load average (1 min) at the
 * end of each run. Client and server share the 2 cores. Localhost only; bounded by request counts.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { randomUUID } from 'node:crypto';
import autocannon from 'autocannon';
import express from 'express';
import type { Bundle, Observation } from 'fhir/r4';
import { benchServerEnv, createBenchClient, mintClientJwts, rotatingPost, runFigures, sandboxHookBodies, serveBenchApp, serverBackend, startBenchServer, stopBenchServer, waitReady, type RunFigures } from './spawn-server.js';

const { values: args } = parseArgs({
  options: {
    serve: { type: 'boolean', default: false },
    levels: { type: 'string', default: '4,16' },
    cold: { type: 'string', default: '48' },
    warm: { type: 'string', default: '1500' },
    patients: { type: 'string', default: '8' },
    modes: { type: 'string', default: 'cold,warm,churn' },
    threads: { type: 'string', default: 'precompute' },
    kernels: { type: 'string', default: 'on' },
    rounds: { type: 'string', default: '1' },
    json: { type: 'string' },
  },
});
const SERVICE = 'vigil-deterioration';

/** Server side: the app plus bench-only routes (run the precompute worker; churn it; read counters). */
async function serve(): Promise<void> {
  const { loadConfig } = await import('../src/config.js');
  const { createVigil } = await import('../src/app.js');
  const config = loadConfig();
  const vigil = await createVigil(config);
  const outer = express();
  outer.post('/bench/precompute', express.json(), async (req, res) => {
    const ids = (req.body as { patients: string[] }).patients;
    for (const id of ids) vigil.precompute?.notify(id);
    await vigil.precompute?.idle();
    res.json(vigil.precompute?.stats ?? {});
  });
  // Churn: a new heart rate for each patient, written to the store and notified, round after round.
  let churn: { stop: boolean; rounds: number; done: Promise<void> } | undefined;
  // Reading ids stay unique across churn runs, so every round is new data (never a cache hit).
  let reading = 0;
  // Answers once the first round is done: it also classifies each patient's newest ECG (once per ECG,
  // src/precompute/ecg.ts, on the main thread), which later rounds find fresh.
  outer.post('/bench/churn/start', express.json(), (req, res) => {
    const ids = (req.body as { patients: string[] }).patients;
    const state = { stop: false, rounds: 0, done: Promise.resolve() };
    let firstRound: () => void = () => undefined;
    const first = new Promise<void>((resolve) => (firstRound = resolve));
    state.done = (async () => {
      for (; !state.stop; state.rounds++) {
        for (const id of ids) {
          const n = reading++;
          vigil.sandboxStore?.update(heartRate(id, `bench-churn-${n}`, 60 + (n % 80)));
          vigil.precompute?.notify(id);
        }
        await vigil.precompute?.idle();
        firstRound();
      }
    })();
    churn = state;
    void first.then(() => res.json({ rounds: state.rounds }));
  });
  outer.post('/bench/churn/stop', async (_req, res) => {
    if (churn) {
      churn.stop = true;
      await churn.done;
    }
    res.json({ rounds: churn?.rounds ?? 0 });
  });
  outer.get('/bench/stats', (_req, res) => {
    res.json({ engine: vigil.explanationEngine.stats, precompute: vigil.precompute?.stats });
  });
  outer.use(vigil.app);
  serveBenchApp(outer, 0, () => vigil.close());
}

function startServer(env: Record<string, string>): Promise<{ child: ChildProcess; origin: string }> {
  return startBenchServer(['bench/hook-explain.ts', '--serve'], env);
}

interface Row extends RunFigures {
  mode: 'cold' | 'warm' | 'churn';
  /** EXPLAIN_THREAD of the server. */
  thread: string;
  /** WASM_FAST_KERNELS of the server. */
  kernels: string;
  round: number;
  connections: number;
  /** Server counters over the run. */
  computed: number;
  served: number;
  reused: number;
  precomputed: number;
  loadAverage: number;
}

interface ServerStats {
  engine: { computed: number; served: number; issued: { reused: number } };
  precompute?: { computed: number; ecg?: { computed: number } };
}

/** Explanations the precompute worker computed (deterioration, plus ECG saliency when it runs). */
const precomputedOf = (s: ServerStats): number => (s.precompute?.computed ?? 0) + (s.precompute?.ecg?.computed ?? 0);

function heartRate(patientId: string, id: string, value: number): Observation {
  return {
    resourceType: 'Observation',
    id,
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
    subject: { reference: `Patient/${patientId}` },
    effectiveDateTime: new Date(Date.now() - 60_000).toISOString(),
    valueQuantity: { value, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
  };
}

/** The body with one extra heart rate (unique id) first in the Observations: data the server has not seen. */
function withUniqueReading(body: Record<string, unknown>, n: number): string {
  const prefetch = body.prefetch as { patient: { id: string }; observations: Bundle };
  const reading = heartRate(prefetch.patient.id, `bench-cold-${n}`, 70 + (n % 60));
  const observations = { ...prefetch.observations, entry: [{ resource: reading }, ...(prefetch.observations.entry ?? [])] };
  return JSON.stringify({ ...body, hookInstance: randomUUID(), prefetch: { ...prefetch, observations } });
}

async function main(): Promise<void> {
  const client = await createBenchClient();
  const modes = new Set(args.modes!.split(','));
  const levels = args.levels!.split(',').map(Number);
  const rows: Row[] = [];
  let backend = 'unknown';
  const servers = Array.from({ length: Number(args.rounds) }, (_, round) =>
    args.threads!.split(',').flatMap((thread) => args.kernels!.split(',').map((kernels) => ({ round, thread, kernels }))),
  ).flat();
  for (const { round, thread, kernels } of servers) {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'vigil-hook-explain-'));
    const { child, origin } = await startServer({
      ...benchServerEnv(dataDir, client.writeClientsFile(dataDir)),
      PRECOMPUTE: 'on',
      PRECOMPUTE_POLL_S: '0',
      EXPLAIN_THREAD: thread,
      WASM_FAST_KERNELS: kernels,
    });
    try {
      await waitReady(origin);
      backend = await serverBackend(origin);
      const all = ((await (await fetch(`${origin}/sandbox/api/patients`)).json()) as { patients: Array<{ id: string }> }).patients;
      const patients = all.slice(0, Number(args.patients));
      const others = all.slice(Number(args.patients)).map((p) => p.id);
      const bodies = await sandboxHookBodies(origin, SERVICE, patients.map((p) => p.id));
      const url = `${origin}/cds-services/${SERVICE}`;
      const stats = async () => (await (await fetch(`${origin}/bench/stats`)).json()) as ServerStats;
      const post = async (route: string, body: unknown) =>
        (await fetch(`${origin}${route}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })).json();

      const run = async (mode: Row['mode'], connections: number, amount: number): Promise<Row> => {
        const tokens = await mintClientJwts(client.privateKey, url, amount + connections, 900);
        // Encoded once up front: the load generator shares the 2 cores, so it should not re-encode 300 KB per call.
        const payloads = (mode === 'cold' ? Array.from({ length: amount + connections }, (_, n) => withUniqueReading(bodies[n % bodies.length]!, connections * 100_000 + n)) : bodies.map((b) => JSON.stringify(b))).map((b) => Buffer.from(b));
        const { request } = rotatingPost(payloads, tokens);
        const before = await stats();
        const t0 = performance.now();
        let last = t0;
        const result = await new Promise<autocannon.Result>((resolve, reject) => {
          const instance = autocannon({
            url,
            connections,
            amount,
            timeout: 60,
            requests: [request],
          }, (err, res) => (err ? reject(err) : resolve(res)));
          instance.on('response', () => (last = performance.now()));
        });
        // Until the last response: autocannon's own `duration` is whole seconds, and it resolves on a 1 s tick.
        const wall = (last - t0) / 1000;
        const after = await stats();
        return {
          mode,
          thread,
          kernels,
          round,
          connections,
          ...runFigures(result, wall),
          // The engine counts every explanation it computed; the precompute worker's are not the hook's.
          computed: after.engine.computed - before.engine.computed - (precomputedOf(after) - precomputedOf(before)),
          served: after.engine.served - before.engine.served,
          reused: after.engine.issued.reused - before.engine.issued.reused,
          precomputed: (after.precompute?.computed ?? 0) - (before.precompute?.computed ?? 0),
          loadAverage: Math.round(os.loadavg()[0]! * 10) / 10,
        };
      };
      const report = (row: Row) => {
        rows.push(row);
        console.error(`${row.mode} thread=${row.thread} kernels=${row.kernels} round=${row.round} c=${row.connections}: ${row.throughput}/s p50 ${row.p50} ms p99 ${row.p99} ms computed ${row.computed} served ${row.served} reused ${row.reused} precomputed ${row.precomputed} load ${row.loadAverage}`);
      };

      // Warm-up: load the model path and JIT once (not measured).
      await run('cold', 2, 8);
      if (modes.has('cold')) for (const c of levels) report(await run('cold', c, Math.max(Number(args.cold), 3 * c)));
      const precompute = await post('/bench/precompute', { patients: patients.map((p) => p.id) });
      console.error(`precompute: ${JSON.stringify(precompute)}`);
      await run('warm', 2, 50);
      if (modes.has('warm')) for (const c of levels) report(await run('warm', c, Number(args.warm)));
      if (modes.has('churn')) {
        for (const c of levels) {
          // Measured from the second round on (the thread, when on, is started by the first batch).
          await post('/bench/churn/start', { patients: others });
          const row = await run('churn', c, Number(args.warm));
          const { rounds } = (await post('/bench/churn/stop', {})) as { rounds: number };
          report(row);
          console.error(`  churn rounds completed: ${rounds} over ${others.length} patients`);
        }
      }
    } finally {
      await stopBenchServer(child);
      rmSync(dataDir, { recursive: true, force: true });
    }
  }

  console.log(`\n${SERVICE} patient-view with explanation · backend ${backend} · ${os.cpus().length} cores · Node ${process.version}`);
  console.log('| mode | EXPLAIN_THREAD | WASM_FAST_KERNELS | round | connections | requests | non-2xx | throughput (req/s) | p50 (ms) | p99 (ms) | computed inline | served from cache | records reused | precomputed meanwhile | load avg |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    console.log(`| ${r.mode} | ${r.thread} | ${r.kernels} | ${r.round + 1} | ${r.connections} | ${r.requests} | ${r.non2xx + r.errors} | ${r.throughput} | ${r.p50} | ${r.p99} | ${r.computed} | ${r.served} | ${r.reused} | ${r.precomputed} | ${r.loadAverage} |`);
  }
  // Issue 7 asks for the latency an explanation adds to a hook: the same calls computed inline (cold) against
  // served from the cache (warm), same server settings and concurrency. Percentiles do not subtract exactly,
  // so this is the difference of the two runs' p50 and p99, not a per-call figure.
  const added = rows.filter((r) => r.mode === 'cold').flatMap((cold) => {
    const warm = rows.find((w) => w.mode === 'warm' && w.thread === cold.thread && w.kernels === cold.kernels && w.round === cold.round && w.connections === cold.connections);
    return warm ? [{ cold, warm }] : [];
  });
  if (added.length) {
    console.log('\nExplanation added to the hook (cold − warm, same settings and concurrency):');
    console.log('| EXPLAIN_THREAD | WASM_FAST_KERNELS | round | connections | p50 added (ms) | p99 added (ms) |');
    console.log('|---|---|---|---|---|---|');
    for (const { cold, warm } of added) {
      console.log(`| ${cold.thread} | ${cold.kernels} | ${cold.round + 1} | ${cold.connections} | ${(cold.p50 - warm.p50).toFixed(1)} | ${(cold.p99 - warm.p99).toFixed(1)} |`);
    }
  }
  if (args.json) writeFileSync(args.json, JSON.stringify({ backend, node: process.version, cores: os.cpus().length, rows }, null, 2));
}

if (args.serve) {
  serve().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
} else {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
