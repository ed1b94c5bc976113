/**
 * Starts a bench server script in its own process (so the load generator does not share its event loop)
 * and waits for the `{"listening": port}` line it prints on stdout. BENCH_SERVER_NODE_ARGS (space-separated)
 * adds Node flags to the server only, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile what is measured.
 * `serveBenchApp` is the server script's side of that protocol. Also the bench CDS client (key, clients file,
 * JWTs), the server settings the HTTP benches share, and what they ask of a running bench server.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type autocannon from 'autocannon';
import type { Express } from 'express';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';

export async function startBenchServer(args: readonly string[], env: Record<string, string>): Promise<{ child: ChildProcess; origin: string }> {
  const nodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    let buffered = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      for (const line of buffered.split('\n')) {
        try {
          const parsed = JSON.parse(line) as { listening?: number };
          if (parsed.listening) resolve(parsed.listening);
        } catch {
          // Log lines and partial lines.
        }
      }
    });
    child.once('exit', (code) => reject(new Error(`bench server ${args.join(' ')} exited with ${code}`)));
  });
  return { child, origin: `http://127.0.0.1:${port}` };
}

/**
 * The server script's side: `app` listens on 127.0.0.1:`port` (0 = any free port) and prints the
 * `{"listening": port}` line; SIGTERM closes connections, the server and then `closeApp` before exiting 0.
 */
export function serveBenchApp(app: Express, port: number, closeApp: () => Promise<void>): Server {
  const server = app.listen(port, '127.0.0.1', () => {
    process.stdout.write(`${JSON.stringify({ listening: (server.address() as AddressInfo).port })}\n`);
  });
  process.on('SIGTERM', () => {
    server.closeAllConnections();
    server.close(() => void closeApp().then(() => process.exit(0)));
  });
  return server;
}

/** Stops a server started by startBenchServer: SIGTERM, then waits for the process to exit. */
export async function stopBenchServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

/** Polls /readyz every 100 ms until it answers 200 (its body, the readiness report) or 60 s have passed. */
export async function waitReady(origin: string): Promise<string> {
  for (let i = 0; i < 600; i++) {
    const res = await fetch(`${origin}/readyz`);
    const body = await res.text();
    if (res.status === 200) return body;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('server never became ready');
}

/**
 * Full-prefetch patient-view request bodies for `serviceId`, one per patient, from the sandbox EHR's own
 * hook-request builder: the payload an EHR would send.
 */
export async function sandboxHookBodies(origin: string, serviceId: string, patientIds: readonly string[]): Promise<Array<Record<string, unknown>>> {
  const bodies: Array<Record<string, unknown>> = [];
  for (const patientId of patientIds) {
    const res = await fetch(`${origin}/sandbox/api/hook-request`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ serviceId, hook: 'patient-view', patientId, prefetch: 'fill' }),
    });
    bodies.push(((await res.json()) as { body: Record<string, unknown> }).body);
  }
  return bodies;
}

/** The issuer of the benches' CDS client (the EHR side of the load); its key signs every hook call's JWT. */
export const BENCH_ISSUER = 'https://bench.vigil.local';

export interface BenchClient {
  privateKey: Parameters<SignJWT['sign']>[0];
  /** Writes a CDS_CLIENTS_FILE under `dir` registering this client for every service; returns its path. */
  writeClientsFile(dir: string): string;
}

/** A fresh ES256 key for the bench client (kid "bench"). */
export async function createBenchClient(): Promise<BenchClient> {
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: 'bench', alg: 'ES256', use: 'sig' };
  return {
    privateKey,
    writeClientsFile(dir) {
      const clientsFile = path.join(dir, 'clients.json');
      writeFileSync(clientsFile, JSON.stringify([{ issuer: BENCH_ISSUER, jwks: { keys: [jwk] }, services: ['*'] }]));
      return clientsFile;
    },
  };
}

/** Server settings every HTTP bench shares: sandbox data, quiet logs, no HL7 listener, no rate limit, the bench client. */
export function benchServerEnv(dataDir: string, clientsFile: string): Record<string, string> {
  return {
    PORT: '0',
    DATA_DIR: dataDir,
    SANDBOX: 'on',
    LOG_LEVEL: 'warn',
    HL7_PORT: 'off',
    RATE_LIMIT_RPS: '0',
    CDS_CLIENTS_FILE: clientsFile,
    CDS_JWT_ALGORITHMS: 'ES256',
  };
}

/**
 * `n` client JWTs for `aud` (CDS Hooks 2.0.1 §Trusting CDS Clients), each with its own jti: the service
 * refuses a reused one as a replay, so a run needs one per request.
 */
export async function mintClientJwts(privateKey: BenchClient['privateKey'], aud: string, n: number, ttlSeconds: number): Promise<string[]> {
  const now = Math.floor(Date.now() / 1000);
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    out.push(await new SignJWT({ jti: randomUUID() }).setProtectedHeader({ alg: 'ES256', kid: 'bench', typ: 'JWT' }).setIssuer(BENCH_ISSUER).setAudience(aud).setIssuedAt(now).setExpirationTime(now + ttlSeconds).sign(privateKey));
  }
  return out;
}

/** The tfjs back end the server reports on /metrics ("none" before its models load). */
export async function serverBackend(origin: string): Promise<string> {
  return /vigil_model_backend_info\{backend="([^"]+)"\}/.exec(await (await fetch(`${origin}/metrics`)).text())?.[1] ?? 'none';
}

/**
 * An autocannon request that POSTs `bodies` in turn, the n-th with the n-th of `tokens` (cycled) as its bearer
 * JWT, or with none when `tokens` is empty. `sent()` counts the requests set up so far.
 */
export function rotatingPost(bodies: readonly Buffer[], tokens: readonly string[]): { request: autocannon.Request; sent(): number } {
  let i = 0;
  return {
    request: {
      method: 'POST',
      setupRequest: (req) => {
        const headers: Record<string, string> = { 'content-type': 'application/json' };
        if (tokens.length > 0) headers.authorization = `Bearer ${tokens[i % tokens.length]}`;
        const body = bodies[i % bodies.length]!;
        i++;
        return { ...req, method: 'POST', headers, body };
      },
    },
    sent: () => i,
  };
}

/** What a bench row reports of an autocannon run. */
export interface RunFigures {
  requests: number;
  non2xx: number;
  errors: number;
  /** 2xx responses per second. */
  throughput: number;
  p50: number;
  p99: number;
}

/**
 * The figures of an autocannon run. Throughput is 2xx responses over `wallSeconds` measured by the caller:
 * autocannon's own `duration` is whole seconds.
 */
export function runFigures(result: autocannon.Result, wallSeconds: number): RunFigures {
  return {
    requests: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors,
    throughput: Math.round((result['2xx'] / wallSeconds) * 10) / 10,
    p50: result.latency.p50,
    p99: result.latency.p99,
  };
}
