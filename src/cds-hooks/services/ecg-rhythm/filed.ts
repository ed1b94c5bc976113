/**
 * vigil-ecg-rhythm-filed (issue 10, "a new-ECG trigger"): classifies exactly the ECG Observation(s) an EHR
 * has just filed, on Vigil's hook `org.example.vigil.observation-create` (src/cds-hooks/hooks.ts; definition
 * in docs/services/ecg-rhythm.md §Filed-ECG hook). Context: `{ userId, patientId, encounterId?, observations }`
 * with `observations` a Bundle of the new Observations, as CDS Hooks 2.0 §FHIR resources in context asks for
 * several resources. Answers a card only when the result asks for action — atrial fibrillation, or no
 * rhythm could be called (unusable or too noisy) — and an empty list otherwise, so a normal filing makes no
 * noise. Same analysis as patient-view and the precompute worker (./analysis.ts), hence the same cache.
 */
import type { Bundle, FhirResource, Observation } from 'fhir/r4';
import { BadRequestError, type ErrorDetail } from '../../../errors.js';
import { ExplanationEngine } from '../../../explanations/engine.js';
import type { ModelServiceDeps } from '../../../explanations/service-deps.js';
import type { Card, CdsResponse, CdsService, CdsServiceDefinition, HookInvocation } from '../../types.js';
import { analyseEcg, ecgCard, ecgModelOrCard, ecgTargetOf, isActionable, type EcgTarget } from './analysis.js';
import { ecgObservations } from './observation.js';

export const ECG_FILED_SERVICE_ID = 'vigil-ecg-rhythm-filed';
/** Reverse-domain name: organisation-specific hooks SHALL use it (CDS Hooks 2.0 §Hook Definition Format). */
export const OBSERVATION_CREATE_HOOK = 'org.example.vigil.observation-create';

/** Most ECG tracings classified per call (each costs ≈ 2 s on wasm; the hook deadline is 10 s). */
export const MAX_FILED_ECGS = 3;

export function ecgFiledDefinition(): CdsServiceDefinition {
  return {
    id: ECG_FILED_SERVICE_ID,
    hook: OBSERVATION_CREATE_HOOK,
    title: 'ECG rhythm on filing: atrial fibrillation in a newly filed single-lead ECG',
    description:
      'Called when an ECG Observation is filed (hook org.example.vigil.observation-create, context.observations = Bundle of the new ' +
      'Observations). Classifies exactly those tracings (normal, atrial fibrillation, other rhythm, too noisy) and answers a card only ' +
      'when the result needs attention: atrial fibrillation, or a tracing that could not be classified. Otherwise no cards.',
    usageRequirements:
      'Vigil-specific hook (maturity 0, Draft): the EHR fires it after filing ECG Observations (LOINC 11524-6 or MDC 131328, valueSampledData ' +
      'or component[].valueSampledData in mV, ≥ 10 s). No prefetch: the tracing travels in the context.',
  };
}

const isObservation = (r: FhirResource | undefined): r is Observation => r?.resourceType === 'Observation';

/** Whether a subject reference ("Patient/1", "https://ehr/fhir/Patient/1") names this patient. */
function namesPatient(reference: string | undefined, patientId: string): boolean {
  return reference === `Patient/${patientId}` || (reference?.endsWith(`/Patient/${patientId}`) ?? false);
}

/**
 * The filed ECG tracings in the context, newest first (pure). Beyond the shape the generic validation
 * checks: every entry is an Observation of the patient in context, and at most MAX_FILED_ECGS are ECGs.
 * Non-ECG Observations (filed in the same batch) and entered-in-error ones are ignored.
 * @throws BadRequestError naming every offending entry.
 */
export function filedEcgTargets(context: Record<string, unknown>): EcgTarget[] {
  const patientId = String(context.patientId);
  const bundle = context.observations as Bundle;
  const issues: ErrorDetail[] = [];
  (bundle.entry ?? []).forEach((entry, i) => {
    const path = `context.observations.entry[${i}].resource`;
    if (!isObservation(entry.resource)) issues.push({ field: path, message: 'must be an Observation' });
    else if (!namesPatient(entry.resource.subject?.reference, patientId)) issues.push({ field: `${path}.subject`, message: 'must reference the patient in context.patientId' });
  });
  if (!bundle.entry?.length) issues.push({ field: 'context.observations.entry', message: 'must hold the filed Observation(s)' });
  if (issues.length) throw new BadRequestError('Invalid hook context', issues);
  const targets = ecgObservations(bundle).map(ecgTargetOf).filter((t): t is EcgTarget => t !== undefined);
  if (targets.length > MAX_FILED_ECGS) {
    throw new BadRequestError('Invalid hook context', [{ field: 'context.observations', message: `at most ${MAX_FILED_ECGS} ECG tracings per call` }]);
  }
  return targets;
}

export function createEcgFiledService(deps: Pick<ModelServiceDeps, 'models' | 'explanations' | 'engine'>): CdsService {
  const engine = deps.engine ?? new ExplanationEngine();
  return {
    definition: ecgFiledDefinition(),
    async handle(invocation: HookInvocation): Promise<CdsResponse> {
      const { context } = invocation.request;
      const targets = filedEcgTargets(context);
      if (!targets.length) return { cards: [] };
      const loaded = await ecgModelOrCard(deps.models);
      if ('card' in loaded) return { cards: [loaded.card] };
      const { model } = loaded;
      const patientId = String(context.patientId);
      const cards: Card[] = [];
      for (const target of targets) {
        const analysed = await analyseEcg(engine, model, patientId, target, { logger: invocation.logger, ...(invocation.signal ? { signal: invocation.signal } : {}) });
        if (!isActionable(analysed.analysis)) continue;
        cards.push(
          await ecgCard({
            model,
            patientId,
            target,
            analysed,
            serviceId: ECG_FILED_SERVICE_ID,
            hookInstance: invocation.request.hookInstance,
            baseUrl: invocation.baseUrl,
            now: invocation.now,
            explanations: deps.explanations,
            logger: invocation.logger,
          }),
        );
      }
      return { cards };
    },
  };
}
