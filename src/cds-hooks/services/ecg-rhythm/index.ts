/**
 * vigil-ecg-rhythm (issue 10): the rhythm of the patient's newest single-lead ECG on patient-view
 * (CDS Hooks 2.0.1 §Calling a CDS Service; model: models/ecg-rhythm, docs/services/ecg-rhythm.md). The
 * handler wires pure steps: newest ECG Observation → lead → SampledData in mV → quality checks → windows →
 * class probabilities → saliency over the signal → explanation record, once per exact tracing (an identical
 * later call, after a restart or on another replica too, links the stored record: ./issued-key.ts) → card.
 * No ECG gives no card; an
 * unusable tracing gives a "cannot classify" card; an explainer or store failure only drops the segments
 * or the explanation link.
 */
import { ExplanationEngine } from '../../../explanations/engine.js';
import type { ModelServiceDeps } from '../../../explanations/service-deps.js';
import type { CdsResponse, CdsService, HookInvocation } from '../../types.js';
import { analyseEcg, ecgCard, ecgModelOrCard, ecgTargetOf } from './analysis.js';
import { ECG_PREFETCH_KEYS, ECG_SERVICE_ID, ecgDefinition } from './definition.js';
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

      const loaded = await ecgModelOrCard(deps.models);
      if ('card' in loaded) return { cards: [loaded.card] };
      const { model } = loaded;
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
        // One record per exact tracing: a chart opened again links the stored one (./issued-key.ts).
        reuse: { engine, saliency: options.explain !== false },
      });
      return { cards: [card] };
    },
  };
}
