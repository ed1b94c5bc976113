/**
 * HTTP load benchmark (issue 9): `npx tsx bench/load.ts [--seconds 5] [--levels 1,8,32,64] [--services a,b] [--json out.json]`
 *
 * Starts bench/load-server.ts (the real app with the sandbox's patients, plus a static-card endpoint on
 * the same express server) as a child process on localhost, then for each endpoint and concurrency level
 * runs autocannon against `patient-view` with full prefetch (built by the sandbox EHR's own hook-request
 * builder, so the payload is what an EHR would send). Each request carries a fresh client JWT (ES256,
 * minted before the run; verifying it and recording its jti is part of what is measured).
 *
 * The static card parses the same bodies as the service it is compared with (`--static-body`, default
 * vigil-deterioration's ~170–360 KB prefetch), so the floor includes the same JSON parsing.
 *
 * Reports throughput, p50/p99 latency, the server's CPU (% of one core) and RSS, the ratio of each
 * service's throughput to the static card's at the same concurrency (our overhead), the explanation
 * engine's counters per run (explanations computed inline, served from the cache, stored records reused:
 * which path "with explanation" took), the load average (1 min) after each run, and the tfjs back end
 * the server chose. Client and server share the machine: on 2 cores autocannon takes part of one.
 * Bounded: every run is capped by request count and wall time. Localhost only.
 */
import type { ChildProcess } from 'node:child_process';
import { readFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { benchServerEnv, createBenchClient, mintClientJwts, rotatingPost, runFigures, sandboxHookBodies, serverBackend, startBenchServer, stopBenchServer, waitReady, type RunFigures } from './spawn-server.js';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    levels: { type: 'string', default: '1,8,32,64' },
    services: { type: 'string', default: 'vigil-news2,vigil-deterioration,vigil-heart-disease' },
    patients: { type: 'string', default: '8' },
    'static-body': { type: 'string', default: 'vigil-deterioration' },
    json: { type: 'string' },
  },
});
const SECONDS = Number(args.seconds);
const LEVELS = args.levels!.split(',').map(Number);

interface Row extends RunFigures {
  endpoint: string;
  connections: number;
  cpuPercent: number;
  rssMb: number;
  /** Explanation engine counters over the run. */
  computed: number;
  served: number;
  reused: number;
  loadAverage: number;
  ratioToStatic?: number;
}

interface EngineStats {
  computed: number;
  served: number;
  issued: { reused: number };
}

/** CPU seconds (user + system) of a process, from /proc (Linux). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (100 Hz)
}

function rssMb(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Math.round(Number(match[1]) / 1024) : NaN;
}

function startServer(env: Record<string, string>): Promise<{ child: ChildProcess; origin: string }> {
  return startBenchServer(['bench/load-server.ts'], env);
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'vigil-load-'));
  const client = await createBenchClient();
  const { child, origin } = await startServer(benchServerEnv(dataDir, client.writeClientsFile(dataDir)));
  const pid = child.pid!;
  const rows: Row[] = [];
  try {
    await waitReady(origin);
    const backend = await serverBackend(origin);
    const services = ((await (await fetch(`${origin}/sandbox/api/services`)).json()) as { services: Array<{ id: string; hook: string }> }).services;
    const patients = ((await (await fetch(`${origin}/sandbox/api/patients`)).json()) as { patients: Array<{ id: string }> }).patients.slice(0, Number(args.patients));

    /** Full-prefetch patient-view bodies for a service, from the sandbox's own request builder. */
    const bodiesFor = async (serviceId: string): Promise<string[]> =>
      (await sandboxHookBodies(origin, serviceId, patients.map((p) => p.id))).map((body) => JSON.stringify(body));

    /** One duration-bounded run; `pool` JWTs are minted first (a reused one would be refused as a replay and show as non-2xx). */
    const run = async (endpoint: string, pathName: string, texts: string[], connections: number, seconds: number, pool: number, authed: boolean): Promise<Row> => {
      // Encoded once up front: the load generator shares the 2 cores, so it should not re-encode 300 KB per call.
      const bodies = texts.map((b) => Buffer.from(b));
      const tokens = authed ? await mintClientJwts(client.privateKey, `${origin}${pathName}`, pool, 600) : [];
      const post = rotatingPost(bodies, tokens);
      const before = await engineStats();
      const cpu0 = cpuSeconds(pid);
      const t0 = performance.now();
      const result = await autocannon({
        url: `${origin}${pathName}`,
        connections,
        duration: seconds,
        timeout: 30,
        requests: [post.request],
      });
      const wall = (performance.now() - t0) / 1000;
      const cpu = cpuSeconds(pid) - cpu0;
      const after = await engineStats();
      if (authed && post.sent() > tokens.length) console.error(`  (${endpoint} c=${connections}: token pool of ${tokens.length} exhausted; later requests were refused as replays)`);
      return {
        endpoint,
        connections,
        ...runFigures(result, wall),
        cpuPercent: Math.round((cpu / wall) * 100),
        rssMb: rssMb(pid),
        computed: after.computed - before.computed,
        served: after.served - before.served,
        reused: after.issued.reused - before.issued.reused,
        loadAverage: Math.round(os.loadavg()[0]! * 10) / 10,
      };
    };

    const engineStats = async () => ((await (await fetch(`${origin}/bench/stats`)).json()) as { engine: EngineStats }).engine;
    const staticBodies = await bodiesFor(services.find((s) => s.id === args['static-body'])?.id ?? 'vigil-news2');
    const targets: Array<{ endpoint: string; path: string; bodies: string[]; authed: boolean }> = [
      { endpoint: 'static-card', path: '/bench/static-card', bodies: staticBodies, authed: false },
    ];
    for (const id of args.services!.split(',')) {
      const service = services.find((s) => s.id === id && s.hook === 'patient-view');
      if (!service) {
        console.error(`skipping ${id}: not registered for patient-view`);
        continue;
      }
      targets.push({ endpoint: id, path: `/cds-services/${id}`, bodies: await bodiesFor(id), authed: true });
    }

    for (const target of targets) {
      // Warm-up and probe: the rate at 8 connections sizes the JWT pool of the measured runs.
      const probe = await run(target.endpoint, target.path, target.bodies, 8, 2, 4000, target.authed);
      // The probe includes warm-up, so it underestimates: mint for well above it (0.2 ms per token).
      const pool = Math.ceil(Math.max(400, probe.throughput * 3) * SECONDS) + 500;
      for (const connections of LEVELS) {
        const row = await run(target.endpoint, target.path, target.bodies, connections, SECONDS, pool, target.authed);
        rows.push(row);
        console.error(`${row.endpoint} c=${connections}: ${row.throughput}/s p50 ${row.p50} ms p99 ${row.p99} ms cpu ${row.cpuPercent}% rss ${row.rssMb} MB non2xx ${row.non2xx} computed ${row.computed} served ${row.served} reused ${row.reused} load ${row.loadAverage}`);
      }
    }
    for (const row of rows) {
      const floor = rows.find((r) => r.endpoint === 'static-card' && r.connections === row.connections);
      if (floor && row.endpoint !== 'static-card') row.ratioToStatic = Math.round((row.throughput / floor.throughput) * 1000) / 1000;
    }

    const header =
      '| endpoint | conc. | req/s | p50 ms | p99 ms | server CPU % | RSS MB | non-2xx | vs static | explained inline | from cache | records reused | load avg |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|';
    const lines = rows.map(
      (r) => `| ${r.endpoint} | ${r.connections} | ${r.throughput} | ${r.p50} | ${r.p99} | ${r.cpuPercent} | ${r.rssMb} | ${r.non2xx} | ${r.ratioToStatic ?? '—'} | ${r.computed} | ${r.served} | ${r.reused} | ${r.loadAverage} |`,
    );
    console.log(`Back end: ${backend}; Node ${process.version}; ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}); ${SECONDS} s per run; static card parses ${args['static-body']} bodies\n\n${header}\n${lines.join('\n')}`);
    if (args.json) writeFileSync(args.json, JSON.stringify({ backend, node: process.version, cores: os.cpus().length, rows }, null, 2));
  } finally {
    await stopBenchServer(child);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
