/**
 * Starts a bench server script in its own process (so the load generator does not share its event loop)
 * and waits for the `{"listening": port}` line it prints on stdout. BENCH_SERVER_NODE_ARGS (space-separated)
 * adds Node flags to the server only, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile what is measured.
 */
import { spawn, type ChildProcess } from 'node:child_process';

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
