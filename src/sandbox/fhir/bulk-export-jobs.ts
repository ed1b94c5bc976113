/**
 * Bulk export jobs of the sandbox FHIR server — FHIR Bulk Data Access IG v2.0.0 §Bulk Data Status
 * Request and §Bulk Data Output File Request (https://hl7.org/fhir/uv/bulkdata/STU2/export.html).
 *
 * A job runs in process, one patient at a time with a yield to the event loop between patients, so
 * status requests are answered while it runs. Its output is kept in memory as ndjson lines, one file
 * per type (split every `maxLinesPerFile` lines), plus an OperationOutcome file for members that could
 * not be exported. Jobs expire `retentionMs` after they finish (or are dropped by DELETE); at most
 * `maxActiveJobs` run at once.
 */
import { randomUUID } from 'node:crypto';
import type { OperationOutcome, Resource } from 'fhir/r4';
import type { Logger } from '../../logger.js';
import type { ExportRequest } from './bulk-export-params.js';

export interface ExportOutputFile {
  /** Path segment of the file URL, e.g. "Observation-1.ndjson". */
  name: string;
  type: string;
  lines: string[];
}

export type ExportJobStatus = 'in-progress' | 'completed' | 'failed';

export interface ExportJob {
  id: string;
  request: ExportRequest;
  /** Who kicked it off (the token's client_id); status and files are theirs only. Undefined on an open server. */
  owner: string | undefined;
  status: ExportJobStatus;
  /** The instant the export reflects (IG: data changed after it are not guaranteed to be included). */
  transactionTime: string;
  patientsDone: number;
  patientsTotal: number;
  output: ExportOutputFile[];
  errors: ExportOutputFile[];
  /** Set when the job failed as a whole. */
  failure?: string;
  /** Epoch ms after which the job and its files are dropped (set when it finishes). */
  expiresAt?: number;
}

/** What a job reads: the patients to export and, per patient, their resources of one type. */
export interface ExportSource {
  /** Patient ids of the export (all patients, or the group's active members). Members not on the server are reported. */
  patientIds(): Array<{ id: string; missing?: string }>;
  /** Resources of `type` in the patient's compartment (the Patient itself for type Patient). */
  resourcesOf(type: string, patientId: string): Iterable<Resource>;
}

export interface ExportJobRegistryOptions {
  maxActiveJobs?: number;
  /** Finished jobs kept (their files are in memory); the oldest is dropped first. Default 16. */
  maxFinishedJobs?: number;
  maxLinesPerFile?: number;
  retentionMs?: number;
  now?: () => Date;
  /** Awaited before each patient (tests hold a job "in progress" with it). Default: a macrotask yield. */
  pace?: (job: ExportJob) => Promise<void>;
  /** Told of failed jobs (error class only: messages may name resources). */
  logger?: Pick<Logger, 'error'>;
}

function outcomeLine(diagnostics: string): string {
  const outcome: OperationOutcome = { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'not-found', diagnostics }] };
  return JSON.stringify(outcome);
}

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class ExportJobRegistry {
  private readonly jobs = new Map<string, ExportJob>();
  private readonly cancelled = new Set<string>();
  private readonly maxActive: number;
  private readonly maxFinished: number;
  private readonly maxLines: number;
  private readonly retentionMs: number;
  private readonly now: () => Date;
  private readonly pace: (job: ExportJob) => Promise<void>;
  private readonly logger: Pick<Logger, 'error'> | undefined;

  constructor(options: ExportJobRegistryOptions = {}) {
    this.maxActive = options.maxActiveJobs ?? 4;
    this.maxFinished = options.maxFinishedJobs ?? 16;
    this.maxLines = options.maxLinesPerFile ?? 50_000;
    this.retentionMs = options.retentionMs ?? 3_600_000;
    this.now = options.now ?? (() => new Date());
    this.pace = options.pace ?? (() => yieldToEventLoop());
    this.logger = options.logger;
  }

  activeCount(): number {
    this.expire();
    return [...this.jobs.values()].filter((j) => j.status === 'in-progress').length;
  }

  /** True when another job may start now (IG: otherwise answer 429). */
  hasCapacity(): boolean {
    return this.activeCount() < this.maxActive;
  }

  get(id: string): ExportJob | undefined {
    this.expire();
    return this.jobs.get(id);
  }

  /** Starts a job; it runs in the background. The caller has checked hasCapacity(). */
  start(request: ExportRequest, owner: string | undefined, source: ExportSource): ExportJob {
    const job: ExportJob = {
      id: randomUUID(),
      request,
      owner,
      status: 'in-progress',
      transactionTime: this.now().toISOString(),
      patientsDone: 0,
      patientsTotal: 0,
      output: [],
      errors: [],
    };
    this.jobs.set(job.id, job);
    void this.run(job, source).catch((err: unknown) => {
      job.status = 'failed';
      job.failure = err instanceof Error ? err.message : 'export failed';
      this.logger?.error({ exportJob: job.id, errName: err instanceof Error ? err.name : typeof err }, 'bulk export failed');
      this.finish(job);
    });
    return job;
  }

  /** DELETE on the status URL: stops a running job and drops its files. False when unknown. */
  cancel(id: string): boolean {
    const job = this.jobs.get(id);
    if (!job) return false;
    if (job.status === 'in-progress') this.cancelled.add(id);
    this.jobs.delete(id);
    return true;
  }

  private finish(job: ExportJob): void {
    job.expiresAt = this.now().getTime() + this.retentionMs;
    const finished = [...this.jobs.values()].filter((j) => j.status !== 'in-progress');
    // Map order is start order: drop the oldest finished jobs beyond the cap.
    for (const old of finished.slice(0, Math.max(0, finished.length - this.maxFinished))) this.jobs.delete(old.id);
  }

  private expire(): void {
    const t = this.now().getTime();
    for (const [id, job] of this.jobs) if (job.expiresAt !== undefined && job.expiresAt <= t) this.jobs.delete(id);
  }

  private async run(job: ExportJob, source: ExportSource): Promise<void> {
    const patients = source.patientIds();
    job.patientsTotal = patients.length;
    const files = new Map<string, ExportOutputFile>();
    const append = (list: ExportOutputFile[], type: string, line: string): void => {
      let file = files.get(type);
      if (!file || file.lines.length >= this.maxLines) {
        const n = list.filter((f) => f.type === type).length + 1;
        file = { name: `${type}-${n}.ndjson`, type, lines: [] };
        files.set(type, file);
        list.push(file);
      }
      file.lines.push(line);
    };
    const since = job.request.since?.epochMs;
    for (const patient of patients) {
      await this.pace(job);
      if (this.cancelled.has(job.id)) {
        this.cancelled.delete(job.id);
        return;
      }
      if (patient.missing) {
        append(job.errors, 'OperationOutcome', outcomeLine(patient.missing));
      } else {
        for (const type of job.request.types) {
          for (const resource of source.resourcesOf(type, patient.id)) {
            if (since !== undefined && !(Date.parse(resource.meta?.lastUpdated ?? '') > since)) continue;
            append(job.output, type, JSON.stringify(resource));
          }
        }
      }
      job.patientsDone++;
    }
    // Types with nothing to export get no file (IG: output lists only files that exist).
    job.output.sort((a, b) => job.request.types.indexOf(a.type) - job.request.types.indexOf(b.type) || a.name.localeCompare(b.name, 'en', { numeric: true }));
    job.status = 'completed';
    this.finish(job);
  }
}
