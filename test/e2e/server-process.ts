/**
 * `src/server.ts` as a child process, the way `npm start` runs it: started with an environment, its pino
 * lines read from stdout to learn the ports it bound (PORT=0, HL7_PORT=0), and killed at the end.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export interface ServerProcess {
  child: ChildProcess;
  /** Everything written so far: `all` is stdout and stderr interleaved, `stdout` stdout alone. */
  output: { all: string; stdout: string };
  /** Port of the HTTP listener, and of the MLLP listener when HL7 was asked for. */
  ports: { http: number; hl7?: number };
}

/**
 * Starts the server and resolves once it logged "Vigil listening" (and "hl7: MLLP listener started" when
 * `waitForHl7`); rejects with the output so far when it exits first or `timeoutMs` passes.
 */
export function startServerProcess(env: NodeJS.ProcessEnv, opts: { waitForHl7?: boolean; timeoutMs?: number } = {}): Promise<ServerProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const output = { all: '', stdout: '' };
  const ports: { http?: number; hl7?: number } = {};
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${output.all}`)), opts.timeoutMs ?? 60_000);
    let pending = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      const text = chunk.toString();
      output.all += text;
      output.stdout += text;
      const lines = (pending + text).split('\n');
      pending = lines.pop()!;
      for (const line of lines) {
        if (!line.startsWith('{')) continue;
        let entry: { msg?: string; port?: number };
        try {
          entry = JSON.parse(line) as typeof entry;
        } catch {
          continue;
        }
        if (entry.msg?.startsWith('Vigil listening')) ports.http = entry.port;
        if (entry.msg === 'hl7: MLLP listener started') ports.hl7 = entry.port;
      }
      if (ports.http && (!opts.waitForHl7 || ports.hl7)) {
        clearTimeout(timer);
        resolve({ child, output, ports: { http: ports.http, ...(ports.hl7 ? { hl7: ports.hl7 } : {}) } });
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => (output.all += chunk.toString()));
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${output.all}`));
    });
  });
}

/**
 * Kills the server and waits until it is gone: until then it (and its explanation and HL7 queue threads) may
 * still create files in its DATA_DIR, and deleting that directory fails with ENOTEMPTY.
 */
export async function stopServerProcess(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}
