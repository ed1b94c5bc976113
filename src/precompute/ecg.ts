/**
 * ECG rhythm ahead of time (issue 10, "a new-ECG trigger"). When an ECG Observation is filed — written to
 * the sandbox FHIR store (FhirStore.onWrite, the in-process stand-in for an R4 Subscription) or brought by
 * HL7 (onPatientDataChanged → PrecomputeWorker.notify) — the tracing is classified and explained through
 * the hooks' own path (src/cds-hooks/services/ecg-rhythm/analysis.ts) into the explanation engine's memo, so
 * the next patient-view (or the filed-ECG hook) is served from the cache. Atrial fibrillation is also
 * written to the FHIR store as a RiskAssessment (basis → the Observation, one prediction per class) that an
 * EHR inbox can pick up; its id follows from the Observation and the model version, so it is written once.
 */
import { createHash } from 'node:crypto';
import type { Observation, Resource, RiskAssessment } from 'fhir/r4';
import { NotFoundError } from '../errors.js';
import { FhirReadError } from '../fhir/fhir-reader.js';
import { SNOMED } from '../fhir/codes.js';
import { fillPrefetchTemplate } from '../cds-hooks/prefetch-template.js';
import { analyseEcg, ecgTargetOf, type EcgExecutor, type EcgTarget } from '../cds-hooks/services/ecg-rhythm/analysis.js';
import { ECG_MODEL_ID, ECG_PREFETCH_KEYS, ecgPrefetch } from '../cds-hooks/services/ecg-rhythm/definition.js';
import { ecgObservations } from '../cds-hooks/services/ecg-rhythm/observation.js';
import type { ExplanationEngine } from '../explanations/engine.js';
import type { ModelProvider } from '../explanations/model-provider.js';
import type { FhirWriter } from '../hl7/fhir-writer.js';
import type { Logger } from '../logger.js';
import type { ModelManifest } from '../models/index.js';
import { ECG_CLASSES, ECG_CLASS_NAMES, type EcgClass } from '../models/ecg/classes.js';
import type { RhythmClassification } from '../models/ecg/classify.js';
import type { EcgInput } from '../models/ecg/encoding.js';
import type { FhirStore } from '../sandbox/fhir/store.js';
import type { FhirSource } from './source.js';
import { SerialQueue } from './serial-queue.js';

/** Where Vigil names the model behind a RiskAssessment (method.coding.code = model id; src/web/model.ts reads it). */
export const VIGIL_MODEL_SYSTEM = 'http://vigil.example.org/CodeSystem/model';
export const VIGIL_RISK_ASSESSMENT_IDENTIFIER = 'http://vigil.example.org/risk-assessment';
/** SNOMED CT 49436004 |Atrial fibrillation (disorder)|. */
const SNOMED_ATRIAL_FIBRILLATION = '49436004';

export type EcgPrecomputeOutcome =
  /** No usable ECG Observation (or it is gone). */
  | { status: 'no-ecg' }
  | {
      /** computed: analysed now; fresh: the memo already held this tracing's analysis (another trigger did it). */
      status: 'computed' | 'fresh';
      observation?: string;
      /** Undefined when the tracing was refused ("cannot classify"). */
      rhythm?: EcgClass;
      /** For atrial fibrillation with a writer: whether the RiskAssessment was written now or already there. */
      riskAssessment?: 'written' | 'exists';
    };

export interface EcgPrecomputeDeps {
  models: ModelProvider;
  engine: ExplanationEngine;
  source: FhirSource;
  /** Where the AF RiskAssessment goes (the FHIR store HL7 writes to); none → nothing written. */
  writer?: Pick<FhirWriter, 'read' | 'write'>;
  now: Date;
  logger?: Pick<Logger, 'warn'>;
  /** Where the analysis runs (the explanation thread, EXPLAIN_THREAD=precompute|all); default this thread. */
  executor?: EcgExecutor;
}

export interface EcgJob {
  patientId: string;
  /** "Observation/<id>": exactly this tracing. Absent: the patient's newest ECG (the patient-view choice). */
  observation?: string;
}

/** Deterministic id (≤ 64 characters) of the RiskAssessment for one tracing and model version. */
export function ecgRiskAssessmentId(observationRef: string, modelVersion: string): string {
  return `vigil-ecg-${createHash('sha256').update(`${observationRef}|${modelVersion}`).digest('hex').slice(0, 32)}`;
}

/**
 * The RiskAssessment of an AF tracing (pure; FHIR R4 RiskAssessment): status preliminary (a model's call
 * that a clinician has not reviewed), basis the Observation, one prediction per class with AF first (the
 * explanation view's trend reads prediction[0] as the model's probability, p(AF) for this model).
 */
export function ecgRiskAssessment(input: {
  patientId: string;
  observation: Observation;
  observationRef: string;
  classification: Pick<RhythmClassification, 'rhythm' | 'probabilities'>;
  manifest: Pick<ModelManifest, 'id' | 'version'>;
  now: Date;
}): RiskAssessment {
  const order: EcgClass[] = ['A', ...ECG_CLASSES.filter((c) => c !== 'A')];
  const { probabilities } = input.classification;
  return {
    resourceType: 'RiskAssessment',
    id: ecgRiskAssessmentId(input.observationRef, input.manifest.version),
    identifier: [{ system: VIGIL_RISK_ASSESSMENT_IDENTIFIER, value: `${input.manifest.id}|${input.observationRef}|${input.manifest.version}` }],
    status: 'preliminary',
    code: { text: 'ECG rhythm classification (single lead)' },
    method: { coding: [{ system: VIGIL_MODEL_SYSTEM, code: input.manifest.id, display: `Vigil ${input.manifest.id} v${input.manifest.version}` }], text: 'Single-lead ECG rhythm CNN' },
    subject: { reference: `Patient/${input.patientId}` },
    ...(input.observation.encounter?.reference ? { encounter: { reference: input.observation.encounter.reference } } : {}),
    occurrenceDateTime: input.now.toISOString(),
    performer: { display: 'Vigil (clinical decision support)' },
    basis: [{ reference: input.observationRef }],
    prediction: order.map((c) => ({
      outcome: c === 'A' ? { coding: [{ system: SNOMED, code: SNOMED_ATRIAL_FIBRILLATION, display: 'Atrial fibrillation' }], text: ECG_CLASS_NAMES[c] } : { text: ECG_CLASS_NAMES[c] },
      probabilityDecimal: Number(probabilities[c].toFixed(4)),
    })),
    note: [{ text: `Most likely rhythm: ${ECG_CLASS_NAMES[input.classification.rhythm]}. Decision support from one single-lead tracing: review the tracing and confirm on a 12-lead ECG before acting.` }],
  };
}

async function readTarget(source: FhirSource, job: EcgJob): Promise<EcgTarget | undefined> {
  try {
    if (job.observation) {
      const resource = await source.get(job.observation);
      if (resource.resourceType !== 'Observation') return undefined;
      // The same filter as the hooks: an ECG code, a usable status, a waveform.
      return ecgObservations(resource).map(ecgTargetOf)[0];
    }
    const url = fillPrefetchTemplate(ecgPrefetch()[ECG_PREFETCH_KEYS.ecg]!, { patientId: job.patientId });
    if (url === null) return undefined;
    return ecgObservations(await source.get(url)).map(ecgTargetOf).find((t) => t !== undefined);
  } catch (err) {
    if (err instanceof NotFoundError || (err instanceof FhirReadError && err.failure === 'not-found')) return undefined;
    throw err;
  }
}

/**
 * Classifies and explains one tracing into the engine's memo, and writes the RiskAssessment when it is AF.
 * @throws ModelUnavailableError, FHIR read/write errors (the worker logs and moves on).
 */
export async function precomputeEcg(deps: EcgPrecomputeDeps, job: EcgJob): Promise<EcgPrecomputeOutcome> {
  const target = await readTarget(deps.source, job);
  if (!target) return { status: 'no-ecg' };
  const model = await deps.models.get<EcgInput>(ECG_MODEL_ID);
  const { analysis, source } = await analyseEcg(deps.engine, model, job.patientId, target, { ...(deps.logger ? { logger: deps.logger } : {}), ...(deps.executor ? { executor: deps.executor } : {}) });
  const status = source === 'cache' ? 'fresh' : 'computed';
  const observation = target.observationRef;
  if (!analysis.ok) return { status, ...(observation ? { observation } : {}) };
  const { classification } = analysis;
  if (classification.rhythm !== 'A' || !deps.writer || !observation) return { status, ...(observation ? { observation } : {}), rhythm: classification.rhythm };
  const id = ecgRiskAssessmentId(observation, model.manifest.version);
  if (await deps.writer.read<RiskAssessment>('RiskAssessment', id)) return { status, observation, rhythm: 'A', riskAssessment: 'exists' };
  await deps.writer.write([ecgRiskAssessment({ patientId: job.patientId, observation: target.observation, observationRef: observation, classification, manifest: model.manifest, now: deps.now })]);
  return { status, observation, rhythm: 'A', riskAssessment: 'written' };
}

export interface EcgPrecomputeStats {
  notified: number;
  computed: number;
  fresh: number;
  noEcg: number;
  riskAssessments: number;
  failed: number;
  queued: number;
}

export interface EcgPrecomputeOptions extends Omit<EcgPrecomputeDeps, 'now' | 'logger'> {
  logger: Pick<Logger, 'debug' | 'warn'>;
  now?: () => Date;
}

/**
 * The ECG jobs of the precompute worker: one at a time with a macrotask yield before each, deduplicated
 * while queued (same patient and Observation). Without an executor an analysis holds the event loop for
 * ≈ 2–5 s on wasm; with the explanation thread it runs there.
 */
export class EcgPrecompute {
  private readonly queue = new SerialQueue<EcgJob>((job) => this.runOne(job));
  private closed = false;
  private readonly counts = { notified: 0, computed: 0, fresh: 0, noEcg: 0, riskAssessments: 0, failed: 0 };
  private readonly now: () => Date;

  constructor(private readonly options: EcgPrecomputeOptions) {
    this.now = options.now ?? (() => new Date());
  }

  /** Queue a tracing (or the patient's newest ECG). Never throws; cheap enough to call from a store write. */
  notify(job: EcgJob): void {
    if (this.closed || !job.patientId) return;
    this.counts.notified++;
    this.queue.add(`${job.patientId} ${job.observation ?? ''}`, job);
  }

  idle(): Promise<void> {
    return this.queue.idle();
  }

  get stats(): EcgPrecomputeStats {
    return { ...this.counts, queued: this.queue.size };
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.queue.close();
  }

  private async runOne(job: EcgJob): Promise<void> {
    try {
      const outcome = await precomputeEcg({ ...this.options, now: this.now() }, job);
      if (outcome.status === 'no-ecg') this.counts.noEcg++;
      else {
        this.counts[outcome.status]++;
        if (outcome.riskAssessment === 'written') this.counts.riskAssessments++;
      }
      this.options.logger.debug({ status: outcome.status }, 'precompute: ecg');
    } catch (err) {
      this.counts.failed++;
      // No patient data in logs: the error's class only.
      this.options.logger.warn({ errName: err instanceof Error ? err.name : typeof err }, 'precompute: ecg failed');
    }
  }
}

/** Whether a stored resource is a filed ECG tracing the hooks would classify (pure). */
export function isEcgTracing(resource: Resource): resource is Observation {
  return resource.resourceType === 'Observation' && ecgObservations(resource as Observation).some((o) => ecgTargetOf(o) !== undefined);
}

/**
 * Watches the sandbox FHIR store: every ECG Observation created or updated there is queued for `notify`
 * (e.g. PrecomputeWorker.notifyObservation). Returns the unsubscribe function.
 */
export function watchStoreForEcgs(store: Pick<FhirStore, 'onWrite' | 'patientIdsOf'>, notify: (patientId: string, observation: string) => void): () => void {
  return store.onWrite((resource) => {
    if (!isEcgTracing(resource) || !resource.id) return;
    const patientId = store.patientIdsOf(resource)[0];
    if (patientId) notify(patientId, `Observation/${resource.id}`);
  });
}
