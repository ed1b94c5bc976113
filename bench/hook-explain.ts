/**
 * Hook + explanation benchmark (issue 7 §Speed): `npx tsx bench/hook-explain.ts [--levels 4,16] [--cold 48] [--warm 1500] [--patients 8] [--json out.json]`
 *
 * Starts the real app (createVigil with the sandbox's patients) in a child process on an ephemeral
 * localhost port, then sends full patient-view calls for vigil-deterioration — prefetch built by the
 * sandbox EHR's own request builder, a fresh ES256 client JWT on each — with autocannon:
 *
 * - cold: every call carries data the server has never seen (one extra heart-rate Observation with a
 *   unique id per call), so its data version misses the cache and the explanation is computed inline
 *   (batched with concurrent calls);
 * - warm: the precompute worker is first run for the patients (as after an HL7 ORU), then the calls carry
 *   the store's unchanged data, so the hook finds the explanation of exactly its data in the cache.
 *
 * Reports p50/p99 and throughput per concurrency level, the warm/cold ratios from the same run, how many
 * explanations the server computed vs served from the cache (proof of which path was measured), and the
 * tfjs back end. Client and server share the 2 cores. Localhost only; bounded by request counts.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import autocannon from 'autocannon';
import express from 'express';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import type { Bundle, Observation } from 'fhir/r4';
import { startBenchServer } from './spawn-server.js';

const { values: args } = parseArgs({
  options: {
    serve: { type: 'boolean', default: false },
    levels: { type: 'string', default: '4,16' },
    cold: { type: 'string', default: '48' },
    warm: { type: 'string', default: '1500' },
    patients: { type: 'string', default: '8' },
    modes: { type: 'string', default: 'cold,warm' },
    json: { type: 'string' },
  },
});
const ISSUER = 'https://bench.vigil.local';
const SERVICE = 'vigil-deterioration';

/** Server side: the app plus two bench-only routes (run the precompute worker; read engine counters). */
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
  outer.get('/bench/stats', (_req, res) => {
    res.json(vigil.explanationEngine.stats);
  });
  outer.use(vigil.app);
  const server = outer.listen(0, '127.0.0.1', () => {
    process.stdout.write(`${JSON.stringify({ listening: (server.address() as AddressInfo).port })}\n`);
  });
  process.on('SIGTERM', () => {
    server.closeAllConnections();
    server.close(() => void vigil.close().then(() => process.exit(0)));
  });
}

function startServer(env: Record<string, string>): Promise<{ child: ChildProcess; origin: string }> {
  return startBenchServer(['bench/hook-explain.ts', '--serve'], env);
}

interface Row {
  mode: 'cold' | 'warm';
  connections: number;
  requests: number;
  non2xx: number;
  errors: number;
  throughput: number;
  p50: number;
  p99: number;
  computed: number;
  cacheHits: number;
}

async function mint(privateKey: Parameters<SignJWT['sign']>[0], aud: string, n: number): Promise<string[]> {
  const now = Math.floor(Date.now() / 1000);
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    out.push(await new SignJWT({ jti: randomUUID() }).setProtectedHeader({ alg: 'ES256', kid: 'bench', typ: 'JWT' }).setIssuer(ISSUER).setAudience(aud).setIssuedAt(now).setExpirationTime(now + 900).sign(privateKey));
  }
  return out;
}

/** The body with one extra heart rate (unique id) first in the Observations: data the server has not seen. */
function withUniqueReading(body: Record<string, unknown>, n: number): string {
  const prefetch = body.prefetch as { patient: { id: string }; observations: Bundle };
  const reading: Observation = {
    resourceType: 'Observation',
    id: `bench-cold-${n}`,
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
    subject: { reference: `Patient/${prefetch.patient.id}` },
    effectiveDateTime: new Date(Date.now() - 60_000).toISOString(),
    valueQuantity: { value: 70 + (n % 60), unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
  };
  const observations = { ...prefetch.observations, entry: [{ resource: reading }, ...(prefetch.observations.entry ?? [])] };
  return JSON.stringify({ ...body, hookInstance: randomUUID(), prefetch: { ...prefetch, observations } });
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'vigil-hook-explain-'));
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: 'bench', alg: 'ES256', use: 'sig' };
  const clientsFile = path.join(dataDir, 'clients.json');
  writeFileSync(clientsFile, JSON.stringify([{ issuer: ISSUER, jwks: { keys: [jwk] }, services: ['*'] }]));
  const { child, origin } = await startServer({
    PORT: '0',
    DATA_DIR: dataDir,
    SANDBOX: 'on',
    LOG_LEVEL: 'warn',
    HL7_PORT: 'off',
    RATE_LIMIT_RPS: '0',
    PRECOMPUTE: 'on',
    PRECOMPUTE_POLL_S: '0',
    CDS_CLIENTS_FILE: clientsFile,
    CDS_JWT_ALGORITHMS: 'ES256',
  });
  const rows: Row[] = [];
  let backend = 'unknown';
  try {
    for (let i = 0; i < 600; i++) {
      if ((await fetch(`${origin}/readyz`)).status === 200) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    backend = /vigil_model_backend_info\{backend="([^"]+)"\}/.exec(await (await fetch(`${origin}/metrics`)).text())?.[1] ?? 'none';
    const patients = ((await (await fetch(`${origin}/sandbox/api/patients`)).json()) as { patients: Array<{ id: string }> }).patients.slice(0, Number(args.patients));
    const bodies: Array<Record<string, unknown>> = [];
    for (const p of patients) {
      const res = await fetch(`${origin}/sandbox/api/hook-request`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ serviceId: SERVICE, hook: 'patient-view', patientId: p.id, prefetch: 'fill' }),
      });
      bodies.push(((await res.json()) as { body: Record<string, unknown> }).body);
    }
    const url = `${origin}/cds-services/${SERVICE}`;
    const stats = async () => (await (await fetch(`${origin}/bench/stats`)).json()) as { computed: number; served: number };

    const run = async (mode: 'cold' | 'warm', connections: number, amount: number): Promise<Row> => {
      const tokens = await mint(privateKey, url, amount + connections);
      const payloads = mode === 'cold' ? Array.from({ length: amount + connections }, (_, n) => withUniqueReading(bodies[n % bodies.length]!, connections * 100_000 + n)) : bodies.map((b) => JSON.stringify(b));
      const before = await stats();
      let i = 0;
      const result = await autocannon({
        url,
        connections,
        amount,
        timeout: 60,
        requests: [
          {
            method: 'POST',
            setupRequest: (req) => {
              const body = payloads[i % payloads.length]!;
              const headers = { 'content-type': 'application/json', authorization: `Bearer ${tokens[i % tokens.length]}` };
              i++;
              return { ...req, method: 'POST', headers, body };
            },
          },
        ],
      });
      const after = await stats();
      return {
        mode,
        connections,
        requests: result.requests.total,
        non2xx: result.non2xx,
        errors: result.errors,
        throughput: Math.round((result['2xx'] / result.duration) * 10) / 10,
        p50: result.latency.p50,
        p99: result.latency.p99,
        computed: after.computed - before.computed,
        cacheHits: after.served - before.served,
      };
    };

    const levels = args.levels!.split(',').map(Number);
    // Warm-up: load the model path and JIT once (not measured).
    const modes = new Set(args.modes!.split(','));
    await run('cold', 2, 8);
    if (modes.has('cold')) for (const c of levels) rows.push(await run('cold', c, Math.max(Number(args.cold), 3 * c)));
    const precompute = await (await fetch(`${origin}/bench/precompute`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ patients: patients.map((p) => p.id) }) })).json();
    console.error(`precompute: ${JSON.stringify(precompute)}`);
    await run('warm', 2, 50);
    if (modes.has('warm')) for (const c of levels) rows.push(await run('warm', c, Number(args.warm)));
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(dataDir, { recursive: true, force: true });
  }

  console.log(`\n${SERVICE} patient-view with explanation · backend ${backend} · ${os.cpus().length} cores · Node ${process.version} · load average ${os.loadavg()[0]!.toFixed(1)}`);
  console.log('| mode | connections | requests | non-2xx | throughput (req/s) | p50 (ms) | p99 (ms) | explanations computed | cache hits |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.mode} | ${r.connections} | ${r.requests} | ${r.non2xx + r.errors} | ${r.throughput} | ${r.p50} | ${r.p99} | ${r.computed} | ${r.cacheHits} |`);
  for (const c of args.levels!.split(',').map(Number)) {
    const cold = rows.find((r) => r.mode === 'cold' && r.connections === c);
    const warm = rows.find((r) => r.mode === 'warm' && r.connections === c);
    if (cold && warm) console.log(`c=${c}: warm/cold throughput ×${(warm.throughput / cold.throughput).toFixed(1)}, p99 cold/warm ×${(cold.p99 / warm.p99).toFixed(1)}`);
  }
  if (args.json) writeFileSync(args.json, JSON.stringify({ backend, rows }, null, 2));
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
