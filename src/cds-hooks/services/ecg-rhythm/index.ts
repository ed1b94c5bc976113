/**
 * vigil-ecg-rhythm (issue 10): the rhythm of the patient's newest single-lead ECG on patient-view
 * (CDS Hooks 2.0.1 §Calling a CDS Service; model: models/ecg-rhythm, docs/services/ecg-rhythm.md). The
 * handler wires pure steps: newest ECG Observation → lead → SampledData in mV → quality checks → windows →
 * class probabilities → saliency over the signal → explanation record → card. No ECG gives no card; an
 * unusable tracing gives a "cannot classify" card; an explainer or store failure only drops the segments
 * or the explanation link.
 */
import { randomUUID } from 'node:crypto';
import { UnprocessableEntityError, isVigilError } from '../../../errors.js';
import { decodeSampledData } from '../../../fhir/sampled-data.js';
import { modelCardLink, modelSource, modelUnavailableCard } from '../../../explanations/risk-card.js';
import type { ModelServiceDeps } from '../../../explanations/service-deps.js';
import { backendName, type RegisteredModel } from '../../../models/index.js';
import { ECG_CLASSES } from '../../../models/ecg/classes.js';
import { classifyTracing, ecgSpecOf } from '../../../models/ecg/classify.js';
import type { EcgInput } from '../../../models/ecg/encoding.js';
import { explainTracing, type EcgExplanation } from '../../../models/ecg/explain.js';
import type { CdsResponse, CdsService, HookInvocation } from '../../types.js';
import { SERVICE_LABEL, buildRhythmCard, cannotClassifyCard } from './card.js';
import { ECG_MODEL_ID, ECG_PREFETCH_KEYS, ECG_SERVICE_ID, ecgDefinition } from './definition.js';
import { ecgObservations, pickLead, timeOf } from './observation.js';
import { buildEcgRecord } from './record.js';

export interface EcgServiceOptions {
  /** Skip the saliency (e.g. very slow back ends). Default false. */
  explain?: boolean;
}

export function createEcgRhythmService(deps: Pick<ModelServiceDeps, 'models' | 'explanations'>, options: EcgServiceOptions = {}): CdsService {
  return {
    definition: ecgDefinition(),
    async handle(invocation: HookInvocation): Promise<CdsResponse> {
      const { baseUrl, logger } = invocation;
      const observations = ecgObservations(invocation.prefetch[ECG_PREFETCH_KEYS.ecg]);
      const observation = observations.find((o) => pickLead(o));
      // patient-view with no ECG on file: nothing to say.
      if (!observation) return { cards: [] };

      let model: RegisteredModel<EcgInput>;
      try {
        model = await deps.models.get<EcgInput>(ECG_MODEL_ID);
      } catch (err) {
        const reason = isVigilError(err) ? err.message : 'the model could not be loaded';
        return { cards: [modelUnavailableCard({ modelTitle: 'ECG rhythm', serviceLabel: SERVICE_LABEL, reason })] };
      }
      const { manifest } = model;
      const spec = ecgSpecOf(model);
      const source = modelSource(manifest, baseUrl);
      const links = [modelCardLink(baseUrl, manifest)];
      const observationRef = observation.id ? `Observation/${observation.id}` : undefined;
      const recordedAt = timeOf(observation);
      const lead = pickLead(observation)!;
      const refusal = (reasons: string[]) => ({ cards: [cannotClassifyCard({ reasons, source, links, ...(observationRef ? { observationRef } : {}), ...(recordedAt ? { recordedAt } : {}) })] });

      let decoded;
      try {
        decoded = decodeSampledData(lead.sampledData);
      } catch (err) {
        if (err instanceof UnprocessableEntityError) return refusal([err.message]);
        throw err;
      }
      const outcome = classifyTracing(model, { samples: decoded.values, rateHz: decoded.rateHz, belowLimit: decoded.belowLimit, aboveLimit: decoded.aboveLimit });
      if (!outcome.ok) return refusal(outcome.quality.problems.map((p) => p.reason));
      const c = outcome.classification;

      let explanation: EcgExplanation | undefined;
      let explanationProblem: string | undefined;
      if (backendName() === 'cpu') {
        // Measured ≈ 26 s per 30-s tracing on the pure-JS back end (docs/models/ecg-rhythm.md): past any hook deadline.
        explanationProblem = 'explanations are off on the pure-JS cpu back end (too slow)';
      } else if (options.explain !== false && !invocation.signal?.aborted) {
        try {
          explanation = explainTracing(model.network, spec, c.signal, { classIndex: ECG_CLASSES.indexOf(c.rhythm), seed: 1 });
        } catch (err) {
          logger.warn({ errName: err instanceof Error ? err.name : typeof err }, 'ecg explanation failed');
          explanationProblem = 'the explainer failed for this tracing';
        }
      }

      const cardUuid = randomUUID();
      const patientId = String(invocation.request.context.patientId ?? '');
      const record = buildEcgRecord({
        id: randomUUID(),
        cardUuid,
        patientId,
        serviceId: ECG_SERVICE_ID,
        hookInstance: invocation.request.hookInstance,
        manifest,
        now: invocation.now,
        rhythm: c.rhythm,
        probabilities: c.probabilities,
        windows: c.windows,
        signal: c.signal,
        rateHz: c.rateHz,
        ...(recordedAt ? { start: recordedAt } : {}),
        ...(observationRef ? { observation: observationRef } : {}),
        lead: lead.path,
        ...(explanation ? { explanation } : {}),
      });
      let explanationId: string | undefined;
      try {
        await deps.explanations.save(record);
        explanationId = record.id;
      } catch (err) {
        logger.error({ errName: err instanceof Error ? err.name : typeof err }, 'explanation record not stored');
      }
      return {
        cards: [
          buildRhythmCard({
            cardUuid,
            rhythm: c.rhythm,
            probabilities: c.probabilities,
            modelVersion: manifest.version,
            source,
            links,
            baseUrl,
            ...(recordedAt ? { recordedAt } : {}),
            durationSeconds: outcome.quality.durationSeconds,
            ...(observationRef ? { observationRef } : {}),
            leadPath: lead.path,
            resampledFrom: decoded.rateHz,
            modelRate: spec.rateHz,
            ...(explanation ? { segments: explanation.segments } : {}),
            ...(explanationId ? { explanationId } : {}),
            ...(explanationProblem ? { explanationProblem } : {}),
          }),
        ],
      };
    },
  };
}
