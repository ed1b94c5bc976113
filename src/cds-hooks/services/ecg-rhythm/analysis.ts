/**
 * The one code path every ECG trigger shares (issue 10): patient-view (vigil-ecg-rhythm), the filed-ECG hook
 * (vigil-ecg-rhythm-filed) and the precompute worker (src/precompute/ecg.ts). One tracing → SampledData in mV
 * → quality checks → class probabilities → saliency, computed once per (patient, model version, data
 * version) through the explanation engine's memo, so whichever trigger comes first does the work and the
 * others are served from the cache. Then the explanation record and the card, built per call.
 */
import { randomUUID } from 'node:crypto';
import type { Observation } from 'fhir/r4';
import { GatewayTimeoutError, isVigilError, UnprocessableEntityError } from '../../../errors.js';
import { dataHash } from '../../../explanations/record.js';
import type { ExplanationEngine } from '../../../explanations/engine.js';
import { issueRecord, recallIssued, type IssuedFor } from '../../../explanations/issued.js';
import { saveExplanationRecord, type ExplanationStore } from '../../../explanations/store.js';
import { modelCardLink, modelSource, modelUnavailableCard } from '../../../explanations/risk-card.js';
import type { ModelProvider } from '../../../explanations/model-provider.js';
import { decodeSampledData } from '../../../fhir/sampled-data.js';
import type { Logger } from '../../../logger.js';
import { backendName, type RegisteredModel } from '../../../models/index.js';
import { ECG_CLASSES } from '../../../models/ecg/classes.js';
import { classifyTracing, ecgSpecOf, type RhythmClassification } from '../../../models/ecg/classify.js';
import type { EcgInput } from '../../../models/ecg/encoding.js';
import { explainTracing, type EcgExplanation } from '../../../models/ecg/explain.js';
import type { Card } from '../../types.js';
import { buildRhythmCard, cannotClassifyCard, SERVICE_LABEL } from './card.js';
import { ECG_MODEL_ID } from './definition.js';
import { ecgIssuedKeyOf } from './issued-key.js';
import { pickLead, timeOf, type EcgLead } from './observation.js';
import { buildEcgRecord, buildUnclassifiedEcgRecord, type EcgRecordBase } from './record.js';

/** One tracing to classify: the Observation and the lead read from it. */
export interface EcgTarget {
  observation: Observation;
  lead: EcgLead;
  /** "Observation/<id>", when the Observation has an id. */
  observationRef?: string;
  recordedAt?: string;
}

export function ecgTargetOf(observation: Observation): EcgTarget | undefined {
  const lead = pickLead(observation);
  if (!lead) return undefined;
  const recordedAt = timeOf(observation);
  return { observation, lead, ...(observation.id ? { observationRef: `Observation/${observation.id}` } : {}), ...(recordedAt ? { recordedAt } : {}) };
}

/**
 * The data version of a tracing: the Observation it came from, the lead and the SampledData exactly as
 * filed. A new version of the Observation with the same waveform is the same data; another Observation is not
 * (its RiskAssessment and card name it).
 */
export function ecgDataVersion(target: EcgTarget): string {
  return dataHash({ observation: target.observationRef ?? null, lead: target.lead.path, sampledData: target.lead.sampledData });
}

export type EcgAnalysis =
  /** Refused before the network saw it (or the SampledData could not be read): the reasons, for the card. */
  | { ok: false; reasons: string[] }
  | {
      ok: true;
      classification: RhythmClassification;
      durationSeconds: number;
      /** Sampling rate of the filed tracing, Hz. */
      sourceRateHz: number;
      modelRateHz: number;
      explanation?: EcgExplanation;
      explanationProblem?: string;
      /** When the classification and saliency were computed (ISO). */
      analysedAt: string;
    };

export interface AnalyseOptions {
  /** Compute the saliency. Default true (never on the pure-JS cpu back end: ≈ 26 s per tracing). */
  explain?: boolean;
  logger?: Pick<Logger, 'warn'>;
}

/** A tracing decoded to millivolts, ready for the network (what the explanation thread is sent). */
export interface EcgSamples {
  samples: Float32Array;
  rateHz: number;
  belowLimit: number;
  aboveLimit: number;
}

/** The lead's SampledData decoded (pure), or the reasons it could not be read. */
export function decodeLead(lead: EcgLead): { ok: true; samples: EcgSamples } | { ok: false; reasons: string[] } {
  try {
    const decoded = decodeSampledData(lead.sampledData);
    return { ok: true, samples: { samples: decoded.values, rateHz: decoded.rateHz, belowLimit: decoded.belowLimit, aboveLimit: decoded.aboveLimit } };
  } catch (err) {
    if (err instanceof UnprocessableEntityError) return { ok: false, reasons: [err.message] };
    throw err;
  }
}

/**
 * Classifies and explains decoded samples (synchronous tfjs work; no I/O). The one computation both the
 * main thread and the explanation thread (src/precompute/explain-thread.ts) run.
 */
export function analyseSamples(model: RegisteredModel<EcgInput>, input: EcgSamples, options: AnalyseOptions = {}): EcgAnalysis {
  const outcome = classifyTracing(model, input);
  if (!outcome.ok) return { ok: false, reasons: outcome.quality.problems.map((p) => p.reason) };
  const c = outcome.classification;
  const spec = ecgSpecOf(model);
  let explanation: EcgExplanation | undefined;
  let explanationProblem: string | undefined;
  if (backendName() === 'cpu') {
    // Measured ≈ 26 s per 30-s tracing on the pure-JS back end (docs/models/ecg-rhythm.md): past any hook deadline.
    explanationProblem = 'explanations are off on the pure-JS cpu back end (too slow)';
  } else if (options.explain !== false) {
    try {
      explanation = explainTracing(model.network, spec, c.signal, { classIndex: ECG_CLASSES.indexOf(c.rhythm), seed: 1 });
    } catch (err) {
      options.logger?.warn({ errName: err instanceof Error ? err.name : typeof err }, 'ecg explanation failed');
      explanationProblem = 'the explainer failed for this tracing';
    }
  }
  return {
    ok: true,
    classification: c,
    durationSeconds: outcome.quality.durationSeconds,
    sourceRateHz: input.rateHz,
    modelRateHz: spec.rateHz,
    ...(explanation ? { explanation } : {}),
    ...(explanationProblem ? { explanationProblem } : {}),
    analysedAt: new Date().toISOString(),
  };
}

/** Classifies and explains one tracing on this thread (synchronous tfjs work; no I/O). */
export function analyseTracing(model: RegisteredModel<EcgInput>, lead: EcgLead, options: AnalyseOptions = {}): EcgAnalysis {
  const decoded = decodeLead(lead);
  return decoded.ok ? analyseSamples(model, decoded.samples, options) : decoded;
}

/**
 * Where an ECG analysis runs off this thread (src/precompute/thread-executor.ts ExplainThread): the same
 * analyseSamples on the same model id and version. `samples.samples` may be transferred (detached here).
 * @throws when the other side has another model version, or fails.
 */
export interface EcgExecutor {
  analyseEcg(model: Pick<RegisteredModel<EcgInput>, 'manifest'>, samples: EcgSamples, options: Pick<AnalyseOptions, 'explain'>): Promise<EcgAnalysis>;
}

/** Whether an explanation executor can also analyse ECG tracings (the explanation thread can). */
export function isEcgExecutor(executor: unknown): executor is EcgExecutor {
  return typeof (executor as Partial<EcgExecutor> | undefined)?.analyseEcg === 'function';
}

export interface AnalysedEcg {
  analysis: EcgAnalysis;
  /** "cache": analysed earlier (ahead of time, or by another trigger) on exactly this tracing. */
  source: 'cache' | 'computed';
  dataVersion: string;
}

/**
 * The analysis of this tracing for this patient: from the engine's memo when any trigger already did it,
 * else computed now (concurrent triggers share one computation).
 * @throws GatewayTimeoutError when `signal` is already aborted and nothing is cached.
 */
export async function analyseEcg(
  engine: ExplanationEngine,
  model: RegisteredModel<EcgInput>,
  patientId: string,
  target: EcgTarget,
  options: AnalyseOptions & { signal?: AbortSignal; executor?: EcgExecutor } = {},
): Promise<AnalysedEcg> {
  const explain = options.explain !== false;
  // Results without saliency are kept apart, so a caller that wants it never gets one that skipped it.
  const dataVersion = ecgDataVersion(target) + (explain ? '' : '+no-saliency');
  const key = { patient: `Patient/${patientId}`, modelId: model.manifest.id, modelVersion: model.manifest.version, dataVersion };
  // Off this thread when the caller names an executor (precompute) or the engine's own can (EXPLAIN_THREAD=all).
  const executor = options.executor ?? (isEcgExecutor(engine.executor) ? engine.executor : undefined);
  const { value, source } = await engine.memo<EcgAnalysis>(key, async () => {
    if (options.signal?.aborted) throw new GatewayTimeoutError('ECG analysis abandoned at the hook deadline');
    if (!executor) return analyseTracing(model, target.lead, options);
    const decoded = decodeLead(target.lead);
    if (!decoded.ok) return decoded;
    return executor.analyseEcg(model, decoded.samples, { explain });
  });
  return { analysis: value, source, dataVersion };
}

/** The ECG model, or the "model unavailable" card both ECG services answer when it cannot be loaded. */
export async function ecgModelOrCard(models: Pick<ModelProvider, 'get'>): Promise<{ model: RegisteredModel<EcgInput> } | { card: Card }> {
  try {
    return { model: await models.get<EcgInput>(ECG_MODEL_ID) };
  } catch (err) {
    const reason = isVigilError(err) ? err.message : 'the model could not be loaded';
    return { card: modelUnavailableCard({ modelTitle: 'ECG rhythm', serviceLabel: SERVICE_LABEL, reason }) };
  }
}

/** A class the clinician should act on when a tracing is filed: AF, or no rhythm could be called. */
export function isActionable(analysis: EcgAnalysis): boolean {
  return !analysis.ok || analysis.classification.rhythm === 'A' || analysis.classification.rhythm === '~';
}

export interface EcgCardInput {
  model: RegisteredModel<EcgInput>;
  patientId: string;
  target: EcgTarget;
  analysed: AnalysedEcg;
  serviceId: string;
  hookInstance?: string;
  baseUrl: string;
  now: Date;
  explanations: ExplanationStore;
  logger: Pick<Logger, 'error' | 'warn'>;
  /**
   * Link the record already issued for exactly this tracing instead of storing another (vigil-ecg-rhythm:
   * ./issued-key.ts); `saliency` is whether it was asked for. Without it every call stores its own record.
   */
  reuse?: { engine: Pick<ExplanationEngine, 'issued' | 'settingsHash'>; saliency: boolean };
}

/**
 * The card for one analysed tracing, with its explanation record stored (a failed store only drops the
 * explanation link): the rhythm card, or "cannot classify" with the reasons. With `reuse`, a classified
 * tracing whose record was already issued (this process, an earlier run, another replica) links that record:
 * the card is the same but for its uuid. Not reused: a record whose explanation is missing (explainer failure
 * or the cpu back end: the next call tries again), and "cannot classify" records (no prediction, which the
 * shared reuse path requires of a record it trusts; see docs/services/ecg-rhythm.md).
 */
export async function ecgCard(input: EcgCardInput): Promise<Card> {
  const { model, target, analysed } = input;
  const { manifest } = model;
  const source = modelSource(manifest, input.baseUrl);
  const links = [modelCardLink(input.baseUrl, manifest)];
  const { analysis } = analysed;
  const cardUuid = randomUUID();
  // Where every record of this card comes from; the tracing itself is added per kind of record.
  const base = (signal: Float32Array, rateHz: number): EcgRecordBase => ({
    id: randomUUID(),
    cardUuid,
    patientId: input.patientId,
    serviceId: input.serviceId,
    ...(input.hookInstance ? { hookInstance: input.hookInstance } : {}),
    manifest,
    now: input.now,
    signal,
    rateHz,
    ...(target.recordedAt ? { start: target.recordedAt } : {}),
    ...(target.observationRef ? { observation: target.observationRef } : {}),
    lead: target.lead.path,
  });
  if (!analysis.ok) {
    // A tracing that decodes gets a record too, so the view can show it and the reasons (no rhythm, no saliency).
    const decoded = decodeLead(target.lead);
    let explanation: { baseUrl: string; id: string; cardUuid: string } | undefined;
    if (decoded.ok) {
      const record = buildUnclassifiedEcgRecord({ ...base(decoded.samples.samples, decoded.samples.rateHz), reasons: analysis.reasons });
      const id = await saveExplanationRecord(input.explanations, record, input.logger);
      if (id) explanation = { baseUrl: input.baseUrl, id, cardUuid };
    }
    return cannotClassifyCard({
      reasons: analysis.reasons,
      source,
      links,
      ...(target.observationRef ? { observationRef: target.observationRef } : {}),
      ...(target.recordedAt ? { recordedAt: target.recordedAt } : {}),
      ...(explanation ? { explanation } : {}),
    });
  }
  const c = analysis.classification;
  const rhythmCard = (uuid: string, explanationId: string | undefined): Card =>
    buildRhythmCard({
      cardUuid: uuid,
      rhythm: c.rhythm,
      probabilities: c.probabilities,
      modelVersion: manifest.version,
      source,
      links,
      baseUrl: input.baseUrl,
      ...(target.recordedAt ? { recordedAt: target.recordedAt } : {}),
      durationSeconds: analysis.durationSeconds,
      ...(target.observationRef ? { observationRef: target.observationRef } : {}),
      leadPath: target.lead.path,
      resampledFrom: analysis.sourceRateHz,
      modelRate: analysis.modelRateHz,
      ...(analysis.explanation ? { segments: analysis.explanation.segments } : {}),
      ...(analysis.explanation?.rhythm ? { rhythmFactor: analysis.explanation.rhythm } : {}),
      ...(explanationId ? { explanationId } : {}),
      ...(analysis.explanationProblem ? { explanationProblem: analysis.explanationProblem } : {}),
    });
  const issuedFor: IssuedFor = { patientId: input.patientId, serviceId: input.serviceId, model: { id: manifest.id, version: manifest.version } };
  const reuse =
    input.reuse && !analysis.explanationProblem
      ? {
          engine: input.reuse.engine,
          issuedFor,
          key: ecgIssuedKeyOf({
            serviceId: input.serviceId,
            patient: `Patient/${input.patientId}`,
            model: issuedFor.model,
            explainer: input.reuse.engine.settingsHash,
            backend: backendName() ?? 'none',
            saliency: input.reuse.saliency,
            observation: target.observation,
            lead: target.lead,
          }),
        }
      : undefined;
  if (reuse) {
    // Memory first; on a miss (a restart, another replica's record) the store, by key.
    const reused = await recallIssued(reuse.engine.issued, input.explanations, reuse.key, reuse.issuedFor, input.logger);
    if (reused) return rhythmCard(randomUUID(), reused.id);
  }
  const record = buildEcgRecord({
    ...base(c.signal, c.rateHz),
    rhythm: c.rhythm,
    probabilities: c.probabilities,
    windows: c.windows,
    ...(analysis.explanation ? { explanation: analysis.explanation } : {}),
  });
  if (record.method) record.method = { ...record.method, explainedAt: analysis.analysedAt, computed: analysed.source === 'cache' ? 'cache' : 'inline' };
  if (reuse) {
    // A concurrent identical call shares this write; another replica's record under the key is linked instead.
    const issued = await issueRecord(reuse.engine.issued, input.explanations, record, reuse.key, reuse.issuedFor, input.logger);
    return rhythmCard(issued && issued.id !== record.id ? randomUUID() : cardUuid, issued?.id);
  }
  return rhythmCard(cardUuid, await saveExplanationRecord(input.explanations, record, input.logger));
}
