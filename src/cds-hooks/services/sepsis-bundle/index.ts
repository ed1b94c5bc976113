/**
 * vigil-sepsis-bundle on order-sign (CDS Hooks 2.0.1; https://cds-hooks.org/hooks/order-sign/): when the
 * deterioration model puts the patient in the high sepsis-risk band, checks that a lactate and blood
 * cultures have been taken or ordered recently, or are among the orders being signed, and offers to add
 * the missing ones (./bundle-items.ts, ./card.ts).
 *
 * Silent — no card — when the risk is not high, when everything is covered, and when the score cannot be
 * given (too little data, model unavailable): signing is the last step before orders go out, and an
 * interruption there must be worth it. The patient-view card (vigil-deterioration) says why a score is
 * missing. Only the score is computed here (one batched forward pass), no explanation.
 */
import type { Bundle, Observation, ServiceRequest } from 'fhir/r4';
import { prefetchResources } from '../../../fhir/prefetch-resources.js';
import type { DeteriorationInput, RegisteredModel } from '../../../models/index.js';
import type { ModelServiceDeps } from '../../../explanations/service-deps.js';
import type { CdsResponse, CdsService, HookInvocation } from '../../types.js';
import { collectDeteriorationData } from '../deterioration/data.js';
import { DETERIORATION_MODEL_ID, PREFETCH_KEYS } from '../deterioration/definition.js';
import { scoreableWindow, windowStartFor } from '../deterioration/pipeline.js';
import { bundleCoverage } from './bundle-items.js';
import { buildSepsisBundleCard, needsAction } from './card.js';
import { BUNDLE_PREFETCH_KEYS, sepsisBundleDefinition } from './definition.js';

const SILENT: CdsResponse = { cards: [] };

export function createSepsisBundleService(deps: Pick<ModelServiceDeps, 'models'>): CdsService {
  return {
    definition: sepsisBundleDefinition(),
    requiredPrefetch: [PREFETCH_KEYS.patient],
    async handle(invocation: HookInvocation): Promise<CdsResponse> {
      const { now, request } = invocation;
      let model: RegisteredModel<DeteriorationInput>;
      try {
        model = await deps.models.get<DeteriorationInput>(DETERIORATION_MODEL_ID);
      } catch (err) {
        invocation.logger.warn({ errName: err instanceof Error ? err.name : typeof err }, 'sepsis bundle: deterioration model unavailable; no card');
        return SILENT;
      }
      const data = await collectDeteriorationData(invocation, windowStartFor(model, now));
      const { window, assessment } = scoreableWindow(model, data, now);
      if (!assessment.ok) return SILENT;
      let prediction;
      try {
        prediction = await model.predict(window.input);
      } catch (err) {
        invocation.logger.warn({ errName: err instanceof Error ? err.name : typeof err }, 'sepsis bundle: model could not score; no card');
        return SILENT;
      }
      if (prediction.band !== 'high') return SILENT;

      const context = request.context as { patientId?: string; encounterId?: string; userId?: string; draftOrders?: Bundle };
      const cultures = prefetchResources(invocation.prefetch[BUNDLE_PREFETCH_KEYS.cultures]).filter((r): r is Observation => r.resourceType === 'Observation');
      const coverage = bundleCoverage({
        draftOrders: prefetchResources(context.draftOrders),
        orders: prefetchResources(invocation.prefetch[BUNDLE_PREFETCH_KEYS.orders]).filter((r): r is ServiceRequest => r.resourceType === 'ServiceRequest'),
        observations: [...data.observations, ...cultures],
        now,
      });
      if (!needsAction(coverage)) return SILENT;
      const patientId = data.patient?.id ?? String(context.patientId ?? '');
      return {
        cards: [
          buildSepsisBundleCard({
            prediction,
            manifest: model.manifest,
            coverage,
            patientId,
            ...(context.encounterId ? { encounterId: context.encounterId } : {}),
            ...(context.userId ? { userId: context.userId } : {}),
            now,
            baseUrl: invocation.baseUrl,
          }),
        ],
      };
    },
  };
}
