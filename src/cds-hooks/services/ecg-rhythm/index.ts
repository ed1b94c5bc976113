/**
 * vigil-ecg-rhythm (issue 10): the rhythm of the patient's newest single-lead ECG on patient-view
 * (CDS Hooks 2.0.1 §Calling a CDS Service; model: models/ecg-rhythm, docs/services/ecg-rhythm.md). The
 * handler wires pure steps: newest ECG Observation → lead → SampledData in mV → quality checks → windows →
 * class probabilities → saliency over the signal → explanation record → card. No ECG gives no card; an
 * unusable tracing gives a "cannot classify" card; an explainer or store failure only drops the segments
 * or the explanation link.
 */
import { isVigilError } from '../../../errors.js';
import { ExplanationEngine } from '../../../explanations/engine.js';
import { modelUnavailableCard } from '../../../explanations/risk-card.js';
import type { ModelServiceDeps } from '../../../explanations/service-deps.js';
import type { RegisteredModel } from '../../../models/index.js';
import type { EcgInput } from '../../../models/ecg/encoding.js';
import type { CdsResponse, CdsService, HookInvocation } from '../../types.js';
import { analyseEcg, ecgCard, ecgTargetOf } from './analysis.js';
import { SERVICE_LABEL } from './card.js';
import { ECG_MODEL_ID, ECG_PREFETCH_KEYS, ECG_SERVICE_ID, ecgDefinition } from './definition.js';
import { ecgObservations } from './observation.js';

export interface EcgServiceOptions {
  /** Skip the saliency (e.g. very slow back ends). Default false. */
  explain?: boolean;
}

export function createEcgRhythmService(deps: Pick<ModelServiceDeps, 'models' | 'explanations' | 'engine'>, options: EcgServiceOptions = {}): CdsService {
  // Shared with the filed-ECG service and the precompute worker when createVigil passes one engine.
  const engine = deps.engine ?? new ExplanationEngine();
  return {
    definition: ecgDefinition(),
    async handle(invocation: HookInvocation): Promise<CdsResponse> {
      const { baseUrl, logger } = invocation;
      const target = ecgObservations(invocation.prefetch[ECG_PREFETCH_KEYS.ecg]).map(ecgTargetOf).find((t) => t !== undefined);
      // patient-view with no ECG on file: nothing to say.
      if (!target) return { cards: [] };

      let model: RegisteredModel<EcgInput>;
      try {
        model = await deps.models.get<EcgInput>(ECG_MODEL_ID);
      } catch (err) {
        const reason = isVigilError(err) ? err.message : 'the model could not be loaded';
        return { cards: [modelUnavailableCard({ modelTitle: 'ECG rhythm', serviceLabel: SERVICE_LABEL, reason })] };
      }
      const patientId = String(invocation.request.context.patientId ?? '');
      const analysed = await analyseEcg(engine, model, patientId, target, {
        ...(options.explain === false ? { explain: false } : {}),
        logger,
        ...(invocation.signal ? { signal: invocation.signal } : {}),
      });
      const card = await ecgCard({
        model,
        patientId,
        target,
        analysed,
        serviceId: ECG_SERVICE_ID,
        hookInstance: invocation.request.hookInstance,
        baseUrl,
        now: invocation.now,
        explanations: deps.explanations,
        logger,
      });
      return { cards: [card] };
    },
  };
}
