/**
 * The resumable state of a population run (`--state FILE`): which export it reads (status URL, then the
 * manifest), and which patients are finished. Written after every batch by write-then-rename, so a crash
 * leaves either the old or the new state, never half of one. A re-run with the same file continues: the
 * export is not kicked off again while it still exists, finished patients are neither re-scored nor
 * re-written, and a batch that was written but not yet recorded is written again as conditional creates
 * that find their RiskAssessments already there (risk-assessment.ts).
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { BadRequestError } from '../errors.js';

const STATE_VERSION = 1;

const stateSchema = z.object({
  version: z.literal(STATE_VERSION),
  /** What the run is about; a state file is refused for a different run. */
  fhirBase: z.string(),
  group: z.string().nullable(),
  models: z.array(z.string()),
  startedAt: z.string(),
  statusUrl: z.string().optional(),
  manifest: z
    .object({
      transactionTime: z.string(),
      request: z.string(),
      requiresAccessToken: z.boolean(),
      output: z.array(z.object({ type: z.string(), url: z.string(), count: z.number().optional() })),
      error: z.array(z.object({ type: z.string(), url: z.string(), count: z.number().optional() })),
    })
    .optional(),
  /** Patient ids whose assessments are all written (or who could not be scored by any model). */
  done: z.array(z.string()),
  /** Counters over the whole run, resumptions included. */
  written: z.number().int().nonnegative(),
  existing: z.number().int().nonnegative(),
  notScored: z.record(z.string(), z.number().int().nonnegative()),
  completedAt: z.string().optional(),
});

export type PopulationState = z.infer<typeof stateSchema>;

export interface RunIdentity {
  fhirBase: string;
  group: string | null;
  models: string[];
}

export function newState(identity: RunIdentity, now: Date): PopulationState {
  return { version: STATE_VERSION, ...identity, startedAt: now.toISOString(), done: [], written: 0, existing: 0, notScored: {} };
}

/** Whether a stored state is for this run (same server, group and models). */
export function sameRun(state: PopulationState, identity: RunIdentity): boolean {
  return (
    state.fhirBase === identity.fhirBase &&
    state.group === identity.group &&
    state.models.length === identity.models.length &&
    state.models.every((m, i) => m === identity.models[i])
  );
}

export interface StateStore {
  load(): Promise<PopulationState | undefined>;
  save(state: PopulationState): Promise<void>;
}

/** The state in a JSON file. */
export function fileStateStore(file: string): StateStore {
  return {
    async load() {
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw err;
      }
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        throw new BadRequestError(`The state file ${file} is not JSON; remove it to start over`);
      }
      const parsed = stateSchema.safeParse(json);
      if (!parsed.success) throw new BadRequestError(`The state file ${file} is not a population-scoring state; remove it to start over`);
      return parsed.data;
    },
    async save(state) {
      await mkdir(path.dirname(path.resolve(file)), { recursive: true });
      const tmp = `${file}.${process.pid}.tmp`;
      await writeFile(tmp, `${JSON.stringify(state, null, 2)}\n`, 'utf8');
      await rename(tmp, file);
    },
  };
}

/** A state kept in memory (tests, runs without --state). */
export function memoryStateStore(initial?: PopulationState): StateStore & { current(): PopulationState | undefined } {
  let state = initial ? structuredClone(initial) : undefined;
  return {
    async load() {
      return state ? structuredClone(state) : undefined;
    },
    async save(next) {
      state = structuredClone(next);
    },
    current: () => state,
  };
}
