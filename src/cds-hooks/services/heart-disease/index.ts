/**
 * vigil-heart-disease (patient-view) and vigil-heart-disease-order (order-select): probability of coronary
 * artery disease from the cardiology work-up (model: models/heart-disease, docs/models/heart-disease.md).
 * Steps: work-up Observations → 13 inputs with their evidence → can they be scored? → score and explain
 * (src/explain, through the explanation engine and its cache) → store the explanation record, once per
 * exact data (an identical later call — after a restart or on another replica too — links its card to the
 * stored record instead of writing another: ./issued-key.ts) → card. The order-select service answers no
 * cards unless a cardiology test is among the selections.
 *
 * The two services keep separate records for the same data: the explanation view files a clinician's
 * feedback under the record's serviceId and cardUuid (src/smart/app-launch/feedback.ts), so a shared record
 * would send feedback given on an order-select card to vigil-heart-disease, about a card it never issued.
 */
import { randomUUID } from 'node:crypto';
import type { Encounter, Observation, Patient } from 'fhir/r4';
import { UnprocessableEntityError } from '../../../errors.js';
import { prefetchResources } from '../../../fhir/prefetch-resources.js';
import { HEART_INPUTS } from '../../../models/data/uci-heart.js';
import type { HeartDiseaseInput, Prediction, RegisteredModel } from '../../../models/index.js';
import { explainableFromRegistered, heartProvenance, type Provenance } from '../../../explain/index.js';
import { ExplanationEngine } from '../../../explanations/engine.js';
import { methodOf, modelFailureReason, predictionOf, recordedPrediction, serviceFactors } from '../../../explanations/from-explain.js';
import { issueRecord, recallIssued, type IssuedExplanation, type IssuedFor } from '../../../explanations/issued.js';
import { saveExplanationRecord } from '../../../explanations/store.js';
import { dataHash, type ExplanationFactor, type ExplanationMethod, type ExplanationRecord } from '../../../explanations/record.js';
import { cannotScoreCard, modelCardLink, modelSource, modelUnavailableCard } from '../../../explanations/risk-card.js';
import type { ModelServiceDeps } from '../../../explanations/service-deps.js';
import type { CdsResponse, CdsService, HookInvocation } from '../../types.js';
import { buildHeartCard } from './card.js';
import { HEART_MODEL_ID, HEART_ORDER_SERVICE_ID, HEART_SERVICE_ID, PREFETCH_KEYS, heartDefinition, heartOrderDefinition } from './definition.js';
import { heartIssuedKeyOf } from './issued-key.js';
import { CARDIOLOGY_ORDER_CODES, selectedCardiologyOrders, type OrderCode } from './orders.js';
import { heartInputs } from './workup.js';

const SERVICE_LABEL = 'Vigil · coronary artery disease probability';
const MIN_AGE_YEARS = 18;
const USABLE = new Set(['final', 'amended', 'corrected', 'preliminary']);

interface Explained {
  factors: ExplanationFactor[];
  method?: ExplanationMethod;
  probability?: number;
  dataVersion?: string;
  problem?: string;
}

/**
 * Score and factors from src/explain (integrated gradients against a patient of the same age and sex with a
 * normal work-up), through the engine's cache. The MLP explanation is cheap (a few ms), so it is computed
 * inline; the cache still answers a repeated call on unchanged data.
 * @throws UnprocessableEntityError when the model cannot score the inputs.
 */
async function explain(
  engine: ExplanationEngine,
  model: RegisteredModel<HeartDiseaseInput>,
  scored: ReturnType<typeof heartInputs>,
  provenance: Provenance,
  patientId: string,
  observationsById: ReadonlyMap<string, Observation>,
  invocation: HookInvocation,
): Promise<Explained> {
  const explainable = explainableFromRegistered(model);
  const prepared = explainable.prepare(scored.input, provenance);
  try {
    const result = await engine.explain({ model: explainable, prepared, patient: `Patient/${patientId}`, ...(invocation.signal ? { signal: invocation.signal } : {}) });
    return {
      factors: serviceFactors(result.record, explainable.layout, { observationsById, asOf: invocation.now.toISOString() }),
      method: methodOf(result.record, { timeSeries: false, computed: result.source === 'cache' ? 'cache' : 'inline' }),
      probability: result.record.prediction.probability,
      dataVersion: result.record.dataVersion,
    };
  } catch (err) {
    invocation.logger.warn({ errName: err instanceof Error ? err.name : typeof err }, 'heart-disease explanation failed');
    return { factors: [], problem: 'the explainer failed for this input', dataVersion: prepared.dataVersion };
  }
}

async function scoreHeart(deps: ModelServiceDeps & { engine: ExplanationEngine }, serviceId: string, invocation: HookInvocation, orders?: readonly string[]): Promise<CdsResponse> {
  const { now, baseUrl } = invocation;
  let model: RegisteredModel<HeartDiseaseInput>;
  try {
    model = await deps.models.get<HeartDiseaseInput>(HEART_MODEL_ID);
  } catch (err) {
    return { cards: [modelUnavailableCard({ modelTitle: 'Coronary disease probability', serviceLabel: SERVICE_LABEL, reason: modelFailureReason(err, 'the model could not be loaded') })] };
  }
  const { manifest } = model;
  const patientValue = invocation.prefetch[PREFETCH_KEYS.patient];
  const patient: Patient | undefined = patientValue?.resourceType === 'Patient' ? patientValue : undefined;
  const patientId = patient?.id ?? String(invocation.request.context.patientId ?? '');
  const observations = prefetchResources(invocation.prefetch[PREFETCH_KEYS.observations]).filter(
    (r): r is Observation => r.resourceType === 'Observation' && USABLE.has(r.status),
  );
  const encounters = prefetchResources(invocation.prefetch[PREFETCH_KEYS.encounters]).filter((r): r is Encounter => r.resourceType === 'Encounter');
  const scored = heartInputs(patient, observations, encounters, manifest, now);
  const source = modelSource(manifest, baseUrl);
  const links = [modelCardLink(baseUrl, manifest)];
  const summary = 'Coronary disease probability not scored: the work-up cannot be scored reliably';

  // patient-view on a patient never worked up: nothing to say, and a "not scored" card on every ICU chart
  // would only train clinicians to ignore Vigil. On order-select the absence is worth saying.
  if (!orders && scored.workupObservations.length === 0) return { cards: [] };
  const problems = [...scored.problems];
  if (!Number.isNaN(scored.input.age) && scored.input.age < MIN_AGE_YEARS) problems.unshift(`the patient is ${scored.input.age}; the model was trained on adults only`);
  if (problems.length) return { cards: [cannotScoreCard({ summary, reasons: problems, notUsed: scored.notUsed, source, links })] };

  const cannotScore = (err: UnprocessableEntityError): CdsResponse => {
    const reason = scored.workupObservations.length ? err.message : `${err.message}; no cardiology work-up was found for this patient`;
    return { cards: [cannotScoreCard({ summary, reasons: [reason], notUsed: scored.notUsed, source, links })] };
  };
  const observationsById = new Map(observations.filter((o) => o.id).map((o) => [o.id!, o]));
  const provenance = heartProvenance(scored.workupObservations, now);
  const cardOf = (shown: { cardUuid?: string; prediction: Prediction; factors: readonly ExplanationFactor[]; method?: ExplanationMethod; problem?: string; explanationId?: string }): CdsResponse => ({
    cards: [
      buildHeartCard({
        cardUuid: shown.cardUuid ?? randomUUID(),
        prediction: shown.prediction,
        manifest,
        factors: shown.factors,
        ...(shown.method ? { method: shown.method } : {}),
        ...(shown.problem ? { explanationProblem: shown.problem } : {}),
        ...(shown.explanationId ? { explanationId: shown.explanationId } : {}),
        missing: HEART_INPUTS.filter((n) => Number.isNaN(scored.input[n])),
        notUsed: scored.notUsed,
        ...(orders ? { orders } : {}),
        baseUrl,
        ...(invocation.request.fhirServer ? { fhirServer: invocation.request.fhirServer } : {}),
      }),
    ],
  });
  const issuedCard = (issued: IssuedExplanation, cardUuid?: string): CdsResponse =>
    cardOf({ prediction: issued.prediction, factors: issued.factors, ...(issued.method ? { method: issued.method } : {}), explanationId: issued.id, ...(cardUuid ? { cardUuid } : {}) });

  // The same data as an earlier call of this service: its stored record (score, factors, link) is this
  // call's answer. Memory first; on a miss (a restart, another replica's record) the store, by key.
  const issuedFor: IssuedFor = { patientId, serviceId, model: { id: manifest.id, version: manifest.version } };
  const issueKey = heartIssuedKeyOf({
    serviceId,
    patient: `Patient/${patientId}`,
    model: issuedFor.model,
    explainer: deps.engine.settingsHash,
    input: scored.input,
    evidence: scored.evidence,
    provenance,
    notUsed: scored.notUsed,
    observationsById,
    asOf: now,
  });
  const reused = await recallIssued(deps.engine.issued, deps.explanations, issueKey, issuedFor, invocation.logger);
  if (reused) return issuedCard(reused);

  let explained: Explained;
  try {
    explained = await explain(deps.engine, model, scored, provenance, patientId, observationsById, invocation);
  } catch (err) {
    if (err instanceof UnprocessableEntityError) return cannotScore(err);
    throw err;
  }
  let prediction: Prediction;
  try {
    prediction = await predictionOf(model, explained.probability, scored.input);
  } catch (err) {
    if (err instanceof UnprocessableEntityError) return cannotScore(err);
    return { cards: [modelUnavailableCard({ modelTitle: 'Coronary disease probability', serviceLabel: SERVICE_LABEL, reason: modelFailureReason(err, 'the model failed on this input') })] };
  }

  const cardUuid = randomUUID();
  const record: ExplanationRecord = {
    id: randomUUID(),
    patientId,
    serviceId,
    hookInstance: invocation.request.hookInstance,
    cardUuid,
    model: { id: manifest.id, version: manifest.version },
    created: new Date().toISOString(),
    asOf: now.toISOString(),
    dataHash: explained.dataVersion ?? dataHash(scored.input),
    prediction: recordedPrediction(prediction, manifest),
    ...(explained.method ? { method: explained.method } : {}),
    factors: explained.factors,
    inputs: HEART_INPUTS.map((feature) => ({ feature, value: Number.isNaN(scored.input[feature]) ? null : scored.input[feature], evidence: scored.evidence[feature] })),
    notUsed: scored.notUsed,
  };
  const { method, problem } = explained;
  if (problem) {
    // Without factors the record is not reused: the next identical call tries the explainer again.
    const explanationId = await saveExplanationRecord(deps.explanations, record, invocation.logger);
    return cardOf({ cardUuid, prediction, factors: explained.factors, ...(method ? { method } : {}), problem, ...(explanationId ? { explanationId } : {}) });
  }
  // A concurrent identical call shares this write (one row); if another replica stored a record for these
  // data meanwhile, that one is linked.
  const issued = await issueRecord(deps.engine.issued, deps.explanations, record, issueKey, issuedFor, invocation.logger);
  if (issued) return issuedCard(issued, issued.id === record.id ? cardUuid : undefined);
  return cardOf({ cardUuid, prediction, factors: explained.factors, ...(method ? { method } : {}) });
}

export interface HeartServiceOptions {
  /** Orders that make vigil-heart-disease-order answer. Default CARDIOLOGY_ORDER_CODES. */
  cardiologyOrderCodes?: readonly OrderCode[];
}

/** Both heart-disease services: patient-view first, then order-select. */
export function createHeartDiseaseServices(deps: ModelServiceDeps, options: HeartServiceOptions = {}): CdsService[] {
  const full = { ...deps, engine: deps.engine ?? new ExplanationEngine() };
  const orderCodes = options.cardiologyOrderCodes ?? CARDIOLOGY_ORDER_CODES;
  return [
    {
      definition: heartDefinition(),
      requiredPrefetch: [PREFETCH_KEYS.patient],
      handle: (invocation) => scoreHeart(full, HEART_SERVICE_ID, invocation),
    },
    {
      definition: heartOrderDefinition(),
      requiredPrefetch: [PREFETCH_KEYS.patient],
      async handle(invocation) {
        const selected = selectedCardiologyOrders(invocation.request.context, orderCodes);
        // Not a cardiology order: nothing to say (§HTTP Response: an empty cards array).
        if (!selected.length) return { cards: [] };
        return scoreHeart(full, HEART_ORDER_SERVICE_ID, invocation, selected.map((s) => s.code.display));
      },
    },
  ];
}
