/**
 * `npm run score-population -- --fhir URL [options]` (scripts/score-population.ts): argument parsing and
 * the wiring of the real clients around scorePopulation (run.ts). See docs/population-scoring.md.
 *
 * Exit codes: 0 finished, 130 interrupted (state saved; run again to resume), 1 failed.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { BadRequestError } from '../errors.js';
import { createFhirClient } from '../fhir/fhir-client.js';
import type { RegisteredModel } from '../models/index.js';
import { findRepoRoot } from '../sandbox/patients.js';
import { POPULATION_DEMO_CLIENT_ID } from '../smart/sandbox-auth/demo-backend-client.js';
import { backendTokenSource, loadBackendKey } from './backend-auth.js';
import { createBulkClient } from './bulk-client.js';
import { streamProgress, type ProgressStream } from './progress.js';
import { DEFAULT_MODELS, scorePopulation, type PopulationSummary } from './run.js';
import { fhirTransactionSink, ndjsonFileSink } from './sinks.js';
import { fileStateStore } from './state.js';

export const USAGE = `usage: npm run score-population -- --fhir URL [--group ID] [--client-id ID --key FILE [--alg RS384|ES384]]
       [--scope "system/…"] [--batch 64] [--models deterioration,heart-disease]
       [--state FILE] [--out results.ndjson] [--keep-export]`;

export interface CliOptions {
  fhirBase: string;
  group?: string;
  clientId: string;
  keyFile: string;
  alg?: string;
  scope: string;
  batchSize: number;
  models: string[];
  stateFile: string;
  outFile?: string;
  keepExport: boolean;
  /** True when the committed sandbox demo client and key are in use. */
  demoCredentials: boolean;
}

/** The demo client's committed private key (sandbox only; data/sandbox-keys/README.md). */
export function demoKeyFile(): string {
  return path.join(findRepoRoot(), 'data', 'sandbox-keys', 'population-demo.private.jwk.json');
}

/** Scopes for reading the export and writing RiskAssessments (SMART v2 syntax). */
export function defaultScope(types: readonly string[]): string {
  return [...types.map((t) => `system/${t}.rs`), 'system/RiskAssessment.cs'].join(' ');
}

/** @throws BadRequestError with the usage on bad arguments. */
export function parseCliArgs(argv: readonly string[]): CliOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        fhir: { type: 'string' },
        group: { type: 'string' },
        'client-id': { type: 'string' },
        key: { type: 'string' },
        alg: { type: 'string' },
        scope: { type: 'string' },
        batch: { type: 'string', default: '64' },
        models: { type: 'string', default: DEFAULT_MODELS.join(',') },
        state: { type: 'string' },
        out: { type: 'string' },
        'keep-export': { type: 'boolean', default: false },
      },
      strict: true,
    }));
  } catch (err) {
    // parseArgs throws TypeErrors (ERR_PARSE_ARGS_*); read the message without relying on the realm's Error.
    const message = typeof (err as { message?: unknown }).message === 'string' ? (err as { message: string }).message : 'bad arguments';
    throw new BadRequestError(`${message}\n${USAGE}`);
  }
  if (!values.fhir) throw new BadRequestError(`--fhir is required\n${USAGE}`);
  let fhirBase: string;
  try {
    const url = new URL(values.fhir);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('scheme');
    fhirBase = url.href.replace(/\/+$/, '');
  } catch {
    throw new BadRequestError(`--fhir must be an http(s) URL\n${USAGE}`);
  }
  const batchSize = Number(values.batch);
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000) throw new BadRequestError('--batch must be a whole number from 1 to 10000');
  if ((values['client-id'] === undefined) !== (values.key === undefined)) throw new BadRequestError('Give --client-id and --key together (or neither, for the sandbox demo client)');
  const models = values.models.split(',').map((m) => m.trim()).filter(Boolean);
  const types = models.includes('heart-disease') ? ['Patient', 'Observation', 'Encounter'] : ['Patient', 'Observation'];
  const scope = values.scope ?? defaultScope(types);
  const stateFile = values.state ?? path.join('var', `score-population-${values.group ?? 'all-patients'}.state.json`);
  return {
    fhirBase,
    ...(values.group ? { group: values.group } : {}),
    clientId: values['client-id'] ?? POPULATION_DEMO_CLIENT_ID,
    keyFile: values.key ?? demoKeyFile(),
    ...(values.alg ? { alg: values.alg } : {}),
    scope,
    batchSize,
    models,
    stateFile,
    ...(values.out ? { outFile: values.out } : {}),
    keepExport: values['keep-export'],
    demoCredentials: values.key === undefined,
  };
}

export interface CliDeps {
  models: { get(id: string): RegisteredModel<unknown> };
  stderr: ProgressStream;
  signal?: AbortSignal;
  fetch?: typeof fetch;
}

/** Runs one invocation with parsed options. */
export async function runPopulationCli(options: CliOptions, deps: CliDeps): Promise<PopulationSummary> {
  if (options.demoCredentials) deps.stderr.write(`Using the sandbox demo client ${options.clientId} (its key is public: sandbox only).\n`);
  const key = await loadBackendKey(options.keyFile, options.alg ? { alg: options.alg } : {});
  const fetchFn = deps.fetch ?? fetch;
  const token = backendTokenSource({ fhirBase: options.fhirBase, clientId: options.clientId, key, scope: options.scope, fetch: fetchFn });
  const bulk = createBulkClient({ fhirBase: options.fhirBase, token, fetch: fetchFn, ...(deps.signal ? { signal: deps.signal } : {}) });
  const sink = options.outFile ? await ndjsonFileSink(options.outFile) : fhirTransactionSink(createFhirClient({ baseUrl: options.fhirBase, token }));
  const progress = streamProgress(deps.stderr);
  try {
    return await scorePopulation(
      {
        fhirBase: options.fhirBase,
        ...(options.group ? { group: options.group } : {}),
        models: options.models,
        batchSize: options.batchSize,
        ...(deps.signal ? { signal: deps.signal } : {}),
        deleteExportWhenDone: !options.keepExport,
      },
      { bulk, models: deps.models, sink, state: fileStateStore(options.stateFile), progress },
    );
  } finally {
    progress.close();
  }
}
