/**
 * `npm run score-population -- --fhir URL [--group ID] [--client-id ID --key FILE] [--batch 64] [--state FILE] [--out FILE]`
 *
 * Scores every patient of a group (or every patient) on a FHIR server with Vigil's models: SMART Backend
 * Services token → FHIR Bulk Data $export → batched inference → RiskAssessments written back (or to
 * --out). Progress on stderr; the summary as JSON on stdout. Ctrl-C finishes the batch in flight, saves
 * the state and exits 130; run the same command again to resume. See docs/population-scoring.md.
 */
import pino from 'pino';
import { loadConfig } from '../src/config.js';
import { isVigilError } from '../src/errors.js';
import { createLogger } from '../src/logger.js';
import { backendName, openModelRegistry } from '../src/models/index.js';
import { parseCliArgs, runPopulationCli } from '../src/population/cli.js';

async function main(): Promise<number> {
  const options = parseCliArgs(process.argv.slice(2));
  const config = loadConfig();
  const logger = createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel, pino.destination(2));
  const models = await openModelRegistry(config, logger);
  process.stderr.write(`Models loaded on the ${backendName()} back end.\n`);
  const controller = new AbortController();
  let interrupts = 0;
  process.on('SIGINT', () => {
    interrupts++;
    if (interrupts > 1) process.exit(130);
    process.stderr.write('\nStopping after the batch in flight (Ctrl-C again to quit at once)…\n');
    controller.abort(new Error('interrupted'));
  });
  try {
    const summary = await runPopulationCli(options, { models, stderr: process.stderr, signal: controller.signal });
    process.stdout.write(`${JSON.stringify({ ...summary, backend: backendName(), stateFile: options.stateFile }, null, 2)}\n`);
    if (summary.resumed && summary.scoredNow === 0 && !summary.interrupted) {
      process.stderr.write(`The state file ${options.stateFile} says this run is complete; delete it (or pass another --state) to score the group again.\n`);
    }
    if (summary.interrupted) {
      process.stderr.write(`Interrupted; state saved in ${options.stateFile}. Run the same command again to resume.\n`);
      return 130;
    }
    return 0;
  } catch (err) {
    if (controller.signal.aborted) {
      process.stderr.write(`Interrupted; state saved in ${options.stateFile}. Run the same command again to resume.\n`);
      return 130;
    }
    throw err;
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`score-population: ${isVigilError(err) || err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
