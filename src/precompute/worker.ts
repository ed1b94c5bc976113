/**
 * The ahead-of-time worker (issue 7 §Speed): when a patient's data change (an HL7 ORU applied to the FHIR
 * store, src/hl7 `onPatientDataChanged`) it scores and explains the deterioration model in the background,
 * so the next patient-view hook finds the explanation of exactly its data in the cache. Patients it has
 * heard of are also re-polled (PRECOMPUTE_POLL_S): the window moves on at each whole hour, and data can
 * reach the FHIR store by other ways than HL7.
 *
 * One patient at a time, with a macrotask yield between patients. With `executor` (the explanation thread,
 * ./thread-executor.ts; EXPLAIN_THREAD) the deterioration explanation (tens of ms; 0.1–0.2 s with the 1.x GRU) and the ~2–5 s ECG analysis run
 * off the event loop, so hook calls are not stalled meanwhile; without it, it holds the event loop. A change notified while the
 * patient is being computed queues it again, so the newest data are always computed last.
 */
import type { Logger } from '../logger.js';
import type { ExplainExecutor, ExplanationEngine } from '../explanations/engine.js';
import type { ModelProvider } from '../explanations/model-provider.js';
import { precomputeDeterioration, type PrecomputeOutcome } from './deterioration.js';
import { EcgPrecompute, type EcgPrecomputeStats } from './ecg.js';
import type { FhirWriter } from '../hl7/fhir-writer.js';
import type { FhirSource } from './source.js';
import { SerialQueue } from './serial-queue.js';
import { isEcgExecutor } from '../cds-hooks/services/ecg-rhythm/analysis.js';

export interface PrecomputeWorkerOptions {
  models: ModelProvider;
  engine: ExplanationEngine;
  source: FhirSource;
  logger: Pick<Logger, 'debug' | 'warn'>;
  /** Re-poll every monitored patient this often; 0 = only on notifications. Default 0. */
  pollIntervalMs?: number;
  /** Most patients remembered for polling (least recently notified dropped first). Default 500. */
  maxMonitored?: number;
  /** Where explanations are computed (e.g. an ExplainThread); default the engine's own (this thread). */
  executor?: ExplainExecutor;
  now?: () => Date;
  /**
   * ECG rhythm ahead of time (src/precompute/ecg.ts): with this option, notify() also classifies the
   * patient's newest ECG, and notifyObservation() a filed tracing; AF is written through `writer`.
   */
  ecg?: { writer?: Pick<FhirWriter, 'read' | 'write'> };
}

export interface PrecomputeStats {
  notified: number;
  computed: number;
  fresh: number;
  notScorable: number;
  failed: number;
  queued: number;
  monitored: number;
  /** ECG jobs, when the ecg option is on. */
  ecg?: EcgPrecomputeStats;
}

export class PrecomputeWorker {
  private readonly queue = new SerialQueue<string>((patientId) => this.runOne(patientId));
  private readonly monitored = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly counts = { notified: 0, computed: 0, fresh: 0, notScorable: 0, failed: 0 };
  private readonly maxMonitored: number;
  private readonly now: () => Date;
  private readonly ecg: EcgPrecompute | undefined;

  constructor(private readonly options: PrecomputeWorkerOptions) {
    this.maxMonitored = Math.max(1, options.maxMonitored ?? 500);
    this.now = options.now ?? (() => new Date());
    const { models, engine, source, logger } = options;
    const { executor } = options;
    this.ecg = options.ecg
      ? new EcgPrecompute({ models, engine, source, logger, now: this.now, ...(options.ecg.writer ? { writer: options.ecg.writer } : {}), ...(isEcgExecutor(executor) ? { executor } : {}) })
      : undefined;
    if (options.pollIntervalMs && options.pollIntervalMs > 0) {
      this.timer = setInterval(() => this.pollAll(), options.pollIntervalMs);
      this.timer.unref();
    }
  }

  /** A patient's data changed: (re)compute soon. Never throws; cheap enough to call from the HL7 worker. */
  notify(patientId: string): void {
    if (this.closed || !patientId) return;
    this.counts.notified++;
    this.monitored.delete(patientId);
    this.monitored.add(patientId);
    while (this.monitored.size > this.maxMonitored) this.monitored.delete(this.monitored.values().next().value as string);
    this.queue.add(patientId, patientId);
    this.ecg?.notify({ patientId });
  }

  /** An ECG Observation ("Observation/<id>") was filed for the patient: classify exactly it soon (ecg option). Never throws. */
  notifyObservation(patientId: string, observation: string): void {
    if (this.closed || !patientId) return;
    this.ecg?.notify({ patientId, observation });
  }

  /** Queues every monitored patient (the poll). */
  pollAll(): void {
    for (const id of this.monitored) this.queue.add(id, id);
  }

  /** Resolves when the queue is empty (tests, benchmarks). */
  async idle(): Promise<void> {
    await this.queue.idle();
    await this.ecg?.idle();
  }

  get stats(): PrecomputeStats {
    return { ...this.counts, queued: this.queue.size, monitored: this.monitored.size, ...(this.ecg ? { ecg: this.ecg.stats } : {}) };
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    await this.ecg?.close();
    await this.queue.close();
  }

  private async runOne(patientId: string): Promise<PrecomputeOutcome | undefined> {
    try {
      const outcome = await precomputeDeterioration(
        { models: this.options.models, engine: this.options.engine, source: this.options.source, now: this.now(), ...(this.options.executor ? { executor: this.options.executor } : {}) },
        patientId,
      );
      if (outcome.status === 'computed') this.counts.computed++;
      else if (outcome.status === 'fresh') this.counts.fresh++;
      else this.counts.notScorable++;
      this.options.logger.debug({ status: outcome.status }, 'precompute: deterioration');
      return outcome;
    } catch (err) {
      this.counts.failed++;
      // No patient data in logs: the error's class and message only (messages here carry no values).
      this.options.logger.warn({ errName: err instanceof Error ? err.name : typeof err }, 'precompute: deterioration failed');
      return undefined;
    }
  }
}
