/**
 * One population scoring run (issue 9 §Population scoring): FHIR Bulk Data export of a group (or all
 * patients) → resources grouped by patient → each model's input built as its CDS service builds it →
 * batched forward passes (`batchSize` patients per pass, RegisteredModel.forward) → RiskAssessments
 * written per batch → state saved. HTTP, models, sink, state and progress are injected; the CLI
 * (scripts/score-population.ts) wires the real ones.
 *
 * Resumption: the state records the export (status URL, then manifest) and each finished patient after
 * its batch is written. Re-running continues from there; if the export has expired on the server in the
 * meantime, a new one is kicked off and only the unfinished patients are scored from it. All scores of
 * one export are taken "as of" its transactionTime, so a redone batch builds the same inputs and the
 * same deterministic identifiers, and its conditional creates find the RiskAssessments already there.
 */
import type { RiskAssessment } from 'fhir/r4';
import { BadRequestError, NotFoundError, ServiceUnavailableError, UnprocessableEntityError } from '../errors.js';
import { bandOf, type RegisteredModel } from '../models/index.js';
import { ExportGoneError, type BulkClient, type ExportManifest } from './bulk-client.js';
import { observationCodesFor, PatientRecords, POPULATION_ADAPTERS, typesFor, type PatientRecord, type PopulationModelAdapter } from './model-inputs.js';
import { silentProgress, type ProgressReporter } from './progress.js';
import { buildRiskAssessment } from './risk-assessment.js';
import type { RiskAssessmentSink } from './sinks.js';
import { newState, sameRun, type PopulationState, type StateStore } from './state.js';

export const DEFAULT_MODELS = ['deterioration', 'heart-disease'] as const;

export interface PopulationRunOptions {
  fhirBase: string;
  /** Group id; absent → every patient (Patient-level export). */
  group?: string;
  /** Model ids to score. Default DEFAULT_MODELS. */
  models?: readonly string[];
  /** Patients per forward pass (and per transaction). Default 64. */
  batchSize?: number;
  signal?: AbortSignal;
  /** Delete the export job on the server once the run has finished. Default true. */
  deleteExportWhenDone?: boolean;
}

export interface PopulationRunDeps {
  bulk: BulkClient;
  models: { get(id: string): RegisteredModel<unknown> };
  sink: RiskAssessmentSink;
  state: StateStore;
  progress?: ProgressReporter;
}

export interface PopulationSummary {
  /** Patients in the export with a Patient resource (finished before this invocation included). */
  patients: number;
  /** Patients finished by this invocation. */
  scoredNow: number;
  /** RiskAssessments per model produced by this invocation. */
  assessments: Record<string, number>;
  /** Patients a model could not score, per model (whole run). */
  notScored: Record<string, number>;
  /** RiskAssessments created / found already present (whole run). */
  written: number;
  existing: number;
  resumed: boolean;
  /** True when the run stopped on its signal before finishing; the state allows resuming. */
  interrupted: boolean;
  transactionTime?: string;
  /** Entries in the export's error files (e.g. group members missing on the server). */
  exportErrors: number;
  /** Wall time spent in input building + forward passes (ms), for throughput figures. */
  scoringMs: number;
  /** Wall time per step of this invocation (ms): export (kick-off to manifest), download, input building, forward passes, writes. */
  timings: { exportMs: number; downloadMs: number; prepareMs: number; inferenceMs: number; writeMs: number };
}

interface ModelSlot {
  adapter: PopulationModelAdapter;
  model: RegisteredModel<unknown>;
}

/** Input building and one batched forward pass of one model over a batch of patients. */
function scoreBatch(
  slot: ModelSlot,
  records: readonly PatientRecord[],
  fhirBase: string,
  asOf: string,
  now: Date,
  timings: PopulationSummary['timings'],
): { assessments: RiskAssessment[]; notScored: number } {
  const { adapter, model } = slot;
  const t0 = performance.now();
  const ready: Array<{ record: PatientRecord; encoded: Float32Array; basis: string[] }> = [];
  let notScored = 0;
  for (const record of records) {
    const prepared = adapter.prepare(record, model, now);
    if (!prepared.ok) {
      notScored++;
      continue;
    }
    try {
      ready.push({ record, encoded: model.encode(prepared.input), basis: prepared.basis });
    } catch (err) {
      if (!(err instanceof UnprocessableEntityError)) throw err;
      notScored++;
    }
  }
  const t1 = performance.now();
  timings.prepareMs += t1 - t0;
  if (!ready.length) return { assessments: [], notScored };
  const width = ready[0]!.encoded.length;
  const flat = new Float32Array(ready.length * width);
  ready.forEach((r, i) => flat.set(r.encoded, i * width));
  const probabilities = model.forward(flat, ready.length);
  timings.inferenceMs += performance.now() - t1;
  const assessments = ready.map((r, i) => {
    const probability = probabilities[i]!;
    if (!Number.isFinite(probability)) throw new ServiceUnavailableError(`model ${model.manifest.id} produced a non-finite output`);
    return buildRiskAssessment(fhirBase, {
      patientId: r.record.patientId,
      manifest: model.manifest,
      probability,
      band: bandOf(probability, model.manifest.thresholds),
      basis: r.basis,
      asOf,
    });
  });
  return { assessments, notScored };
}

export async function scorePopulation(options: PopulationRunOptions, deps: PopulationRunDeps): Promise<PopulationSummary> {
  const fhirBase = options.fhirBase.replace(/\/+$/, '');
  const modelIds = [...(options.models ?? DEFAULT_MODELS)];
  const batchSize = options.batchSize ?? 64;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new BadRequestError('The batch size must be a whole number ≥ 1');
  const progress = deps.progress ?? silentProgress;
  const signal = options.signal;
  const slots: ModelSlot[] = modelIds.map((id) => {
    const adapter = POPULATION_ADAPTERS.get(id);
    if (!adapter) throw new BadRequestError(`Model "${id}" cannot be scored from a population export (supported: ${[...POPULATION_ADAPTERS.keys()].join(', ')})`);
    return { adapter, model: deps.models.get(id) };
  });
  const identity = { fhirBase, group: options.group ?? null, models: modelIds };

  const stored = await deps.state.load();
  if (stored && !sameRun(stored, identity)) {
    throw new BadRequestError('The state file belongs to another run (FHIR server, group or models differ); use another --state file');
  }
  const state: PopulationState = stored ?? newState(identity, new Date());
  const resumed = stored !== undefined;
  const summary: PopulationSummary = {
    patients: state.done.length,
    scoredNow: 0,
    assessments: Object.fromEntries(modelIds.map((m) => [m, 0])),
    notScored: state.notScored,
    written: state.written,
    existing: state.existing,
    resumed,
    interrupted: false,
    exportErrors: 0,
    scoringMs: 0,
    timings: { exportMs: 0, downloadMs: 0, prepareMs: 0, inferenceMs: 0, writeMs: 0 },
  };
  if (state.completedAt) {
    progress.update({ phase: 'done', message: `already complete (${state.done.length} patients); nothing to do` });
    return { ...summary, ...(state.manifest ? { transactionTime: state.manifest.transactionTime } : {}) };
  }
  if (!stored) await deps.state.save(state);
  const stopped = (): boolean => signal?.aborted === true;

  const exportOnce = async (): Promise<ExportManifest> => {
    if (state.statusUrl && !state.manifest) {
      try {
        progress.update({ phase: 'export', message: 'resuming the export from the state file' });
        return await deps.bulk.waitForManifest(state.statusUrl, (p) => progress.update({ phase: 'export', message: p.text ?? 'in progress' }));
      } catch (err) {
        if (!(err instanceof ExportGoneError)) throw err;
      }
    }
    progress.update({ phase: 'export', message: `kick-off ${options.group ? `Group/${options.group}` : 'Patient'}/$export` });
    // Never `_since`: a model needs each patient's whole window, not only what changed.
    state.statusUrl = await deps.bulk.kickOff({ ...(options.group ? { group: options.group } : {}), types: typesFor(slots.map((s) => s.adapter)) });
    delete state.manifest;
    await deps.state.save(state);
    return deps.bulk.waitForManifest(state.statusUrl, (p) => progress.update({ phase: 'export', message: p.text ?? 'in progress' }));
  };

  const download = async (manifest: ExportManifest): Promise<PatientRecords> => {
    const records = new PatientRecords(new Set(state.done), observationCodesFor(slots.map((s) => s.adapter)));
    const wanted = new Set(typesFor(slots.map((s) => s.adapter)));
    let count = 0;
    for (const file of manifest.output.filter((f) => wanted.has(f.type))) {
      progress.update({ phase: 'download', message: `${file.type} (${count} resources so far)` });
      for await (const resource of deps.bulk.resources(file.url)) {
        records.add(resource);
        count++;
      }
      if (stopped()) break;
    }
    progress.update({ phase: 'download', message: `${count} resources` });
    return records;
  };

  // The manifest from the state may point at files the server has since dropped: start a new export once.
  let records: PatientRecords | undefined;
  for (let attempt = 0; records === undefined; attempt++) {
    if (!state.manifest) {
      const t = performance.now();
      state.manifest = await exportOnce();
      summary.timings.exportMs += performance.now() - t;
      await deps.state.save(state);
    }
    const t = performance.now();
    try {
      records = await download(state.manifest);
      summary.timings.downloadMs += performance.now() - t;
    } catch (err) {
      if (attempt > 0 || !resumed || !(err instanceof NotFoundError)) throw err;
      delete state.manifest;
      delete state.statusUrl;
    }
  }
  const manifest = state.manifest!;
  summary.transactionTime = manifest.transactionTime;
  summary.exportErrors = manifest.error.reduce((n, f) => n + (f.count ?? 0), 0);
  const asOf = manifest.transactionTime;
  const now = new Date(asOf);

  const pending = records.complete();
  const total = state.done.length + pending.length;
  summary.patients = total;
  progress.update({ phase: 'score', done: state.done.length, total });
  /** Writes one scored batch, then records its patients: the state never claims a patient whose write is not done. */
  const commit = async (
    batch: readonly PatientRecord[],
    assessments: RiskAssessment[],
    perModel: ReadonlyArray<{ model: string; scored: number; notScored: number }>,
  ): Promise<void> => {
    // Not aborted mid-write: Ctrl-C lets the batch in flight land and be recorded, then stops.
    const writeStarted = performance.now();
    const written = await deps.sink.write(assessments);
    summary.timings.writeMs += performance.now() - writeStarted;
    state.written += written.created;
    state.existing += written.existing;
    for (const { model, scored, notScored } of perModel) {
      summary.assessments[model]! += scored;
      state.notScored[model] = (state.notScored[model] ?? 0) + notScored;
    }
    state.done.push(...batch.map((r) => r.patientId));
    await deps.state.save(state);
    summary.scoredNow += batch.length;
    progress.update({ phase: 'score', done: state.done.length, total });
  };

  // One write in flight while the next batch is scored, so a remote server's latency overlaps our CPU work.
  let writing: Promise<void> | undefined;
  for (let i = 0; i < pending.length && !stopped(); i += batchSize) {
    // Let the previous batch's request go out before this batch's synchronous scoring holds the event loop.
    await new Promise<void>((resolve) => setImmediate(resolve));
    const batch = pending.slice(i, i + batchSize);
    const started = performance.now();
    const assessments: RiskAssessment[] = [];
    const perModel: Array<{ model: string; scored: number; notScored: number }> = [];
    for (const slot of slots) {
      const result = scoreBatch(slot, batch, fhirBase, asOf, now, summary.timings);
      assessments.push(...result.assessments);
      perModel.push({ model: slot.adapter.modelId, scored: result.assessments.length, notScored: result.notScored });
    }
    summary.scoringMs += performance.now() - started;
    await writing;
    if (stopped()) break;
    writing = commit(batch, assessments, perModel);
    // Awaited on the next turn; until then a failure must not count as unhandled.
    writing.catch(() => undefined);
  }
  await writing;
  summary.written = state.written;
  summary.existing = state.existing;
  summary.notScored = state.notScored;
  if (stopped()) {
    summary.interrupted = true;
    progress.close();
    return summary;
  }
  state.completedAt = new Date().toISOString();
  await deps.state.save(state);
  if ((options.deleteExportWhenDone ?? true) && state.statusUrl) {
    await deps.bulk.remove(state.statusUrl).catch(() => undefined);
  }
  progress.update({ phase: 'done', message: `${total} patients, ${state.written} RiskAssessments written, ${state.existing} already present` });
  progress.close();
  return summary;
}
