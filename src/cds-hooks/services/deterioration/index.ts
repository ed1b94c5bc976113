/**
 * vigil-deterioration: probability of sepsis onset within 6 hours on patient-view (CDS Hooks 2.0.1
 * §Calling a CDS Service; model: models/deterioration, docs/models/deterioration.md). The handler wires
 * pure steps: gather Observations → 48-hour window → can it be scored? → prepare (encoding + data version)
 * → score and explain (src/explain through the explanation engine: served from the cache only when an
 * explanation of exactly these data exists, e.g. computed ahead of time by src/precompute; otherwise
 * computed now, batched with concurrent calls) → store the explanation record, once per exact data (an
 * identical later call — after a restart or on another replica too: the key is stored with the record —
 * links its card to the stored record instead of writing another: ./issued-key.ts) → card. Bad or missing
 * data and an unavailable model give an explanatory card rather than an error; an explainer failure falls
 * back to the plain model score without factors, a store failure only drops the explanation link.
 */
import { randomUUID } from 'node:crypto';
import type { Observation } from 'fhir/r4';
import { UnprocessableEntityError } from '../../../errors.js';
import { type DeteriorationInput, type DeteriorationWindow, type Prediction, type RegisteredModel } from '../../../models/index.js';
import { MEASUREMENTS } from '../../../models/data/physionet.js';
import { provenanceOfWindow } from '../../../explain/index.js';
import { ExplanationEngine, type ExplainResult } from '../../../explanations/engine.js';
import { cardFactors, methodOf, modelFailureReason, predictionOf, recordedPrediction, serviceFactors } from '../../../explanations/from-explain.js';
import { saveExplanationRecord } from '../../../explanations/store.js';
import { issueRecord, recallIssued, type IssuedExplanation, type IssuedFor } from '../../../explanations/issued.js';
import { windowFromInput } from '../../../explanations/trend.js';
import { dataHash, type ExplanationFactor, type ExplanationMethod, type ExplanationRecord } from '../../../explanations/record.js';
import { cannotScoreCard, modelSource, modelUnavailableCard, modelCardLink } from '../../../explanations/risk-card.js';
import type { ModelServiceDeps } from '../../../explanations/service-deps.js';
import type { CdsResponse, CdsService, HookInvocation } from '../../types.js';
import { attributionGrid } from './attributions.js';
import { buildDeteriorationCard, horizonOf } from './card.js';
import { collectDeteriorationData } from './data.js';
import { issuedKeyOf } from './issued-key.js';
import { DETERIORATION_MODEL_ID, DETERIORATION_SERVICE_ID, PREFETCH_KEYS, deteriorationDefinition } from './definition.js';
import { patientReference, prepareForExplanation, scoreableWindow, windowHoursOf, windowStartFor } from './pipeline.js';

const SERVICE_LABEL = 'Vigil · sepsis risk (deterioration model)';
const VITAL_COUNT = MEASUREMENTS.indexOf('EtCO2');
const NOT_SCORED = 'Sepsis risk not scored: the data cannot be scored reliably';

/** Effective time of the newest vital-sign Observation in the window (the hour start if it has no id). */
function latestVitalTime(window: DeteriorationWindow, observationsById: ReadonlyMap<string, Observation>): string | undefined {
  for (let h = window.input.rows.length - 1; h >= 0; h--) {
    const times = window.sources[h]!.slice(0, VITAL_COUNT)
      .flat()
      .map((id) => observationsById.get(id))
      .map((o) => o?.effectiveDateTime ?? o?.effectivePeriod?.start ?? o?.effectiveInstant)
      .filter((t): t is string => t !== undefined)
      .sort();
    if (times.length) return times[times.length - 1];
    if (Array.from(window.input.rows[h]!).slice(0, VITAL_COUNT).some((v) => !Number.isNaN(v))) return window.hourStarts[h];
  }
  return undefined;
}

interface Explained {
  factors: ExplanationFactor[];
  method?: ExplanationMethod;
  attributions?: ExplanationRecord['attributions'];
  dataVersion?: string;
  probability?: number;
  problem?: string;
}

/** What the card states about the score and its explanation. */
interface CardExplanation {
  prediction: Prediction;
  factors: readonly ExplanationFactor[];
  method: ExplanationMethod | undefined;
  explanationId?: string;
  problem?: string;
  cardUuid?: string;
}

function explainedFrom(result: ExplainResult, window: DeteriorationWindow, model: RegisteredModel<DeteriorationInput>, asOf: Date, observationsById: ReadonlyMap<string, Observation>, layout: Parameters<typeof serviceFactors>[1]): Explained {
  const { record } = result;
  return {
    factors: serviceFactors(record, layout, { observationsById, asOf: asOf.toISOString(), windowHours: windowHoursOf(model) }),
    method: methodOf(record, { timeSeries: true, computed: result.source === 'cache' ? 'cache' : 'inline' }),
    ...(record.timeSeries ? { attributions: attributionGrid(window, record.timeSeries) } : {}),
    dataVersion: record.dataVersion,
    probability: record.prediction.probability,
  };
}

export function createDeteriorationService(deps: ModelServiceDeps): CdsService {
  const engine = deps.engine ?? new ExplanationEngine();
  return {
    definition: deteriorationDefinition(),
    requiredPrefetch: [PREFETCH_KEYS.patient],
    async handle(invocation: HookInvocation): Promise<CdsResponse> {
      const { now, baseUrl } = invocation;
      let model: RegisteredModel<DeteriorationInput>;
      try {
        model = await deps.models.get<DeteriorationInput>(DETERIORATION_MODEL_ID);
      } catch (err) {
        return { cards: [modelUnavailableCard({ modelTitle: 'Sepsis risk', serviceLabel: SERVICE_LABEL, reason: modelFailureReason(err, 'the model could not be loaded') })] };
      }
      const { manifest } = model;
      const windowHours = windowHoursOf(model);
      const data = await collectDeteriorationData(invocation, windowStartFor(model, now));
      const patientId = data.patient?.id ?? String(invocation.request.context.patientId ?? '');
      const { window, asOf, assessment, observationsById } = scoreableWindow(model, data, now);
      const source = modelSource(manifest, baseUrl);
      const links = [modelCardLink(baseUrl, manifest)];
      if (!assessment.ok) {
        return { cards: [cannotScoreCard({ summary: NOT_SCORED, reasons: assessment.reasons, notUsed: assessment.notUsed, source, links })] };
      }

      const hoursWithData = window.input.rows.filter((row) => Array.from(row).some((v) => !Number.isNaN(v))).length;
      const latestVital = latestVitalTime(window, observationsById);
      const cardOf = (shown: CardExplanation): CdsResponse => ({
        cards: [
          buildDeteriorationCard({
            cardUuid: shown.cardUuid ?? randomUUID(),
            prediction: shown.prediction,
            manifest,
            factors: shown.factors,
            method: shown.method,
            ...(shown.problem ? { explanationProblem: shown.problem } : {}),
            ...(shown.explanationId ? { explanationId: shown.explanationId } : {}),
            measuredCells: window.measuredCells,
            hoursWithData,
            windowHours,
            ...(latestVital ? { latestVital } : {}),
            notUsed: assessment.notUsed,
            baseUrl,
            ...(invocation.request.fhirServer ? { fhirServer: invocation.request.fhirServer } : {}),
          }),
        ],
      });
      const issuedCard = (issued: IssuedExplanation, cardUuid?: string): CdsResponse =>
        cardOf({ prediction: issued.prediction, factors: issued.factors, method: issued.method, explanationId: issued.id, ...(cardUuid ? { cardUuid } : {}) });

      // Score and explanation come from one computation on one data version (cached or computed now).
      let explained: Explained = { factors: [] };
      const patient = patientReference(patientId);
      const issueKey = issuedKeyOf({ serviceId: DETERIORATION_SERVICE_ID, patient, modelVersion: manifest.version, explainer: engine.settingsHash, window, observationsById, notUsed: assessment.notUsed });
      // The same data as an earlier call: its stored record (score, factors, link) is this call's answer.
      // Memory first; on a miss (restart, another replica's record) the store, by key.
      const issuedFor: IssuedFor = { patientId, serviceId: DETERIORATION_SERVICE_ID, model: { id: manifest.id, version: manifest.version } };
      const reused = await recallIssued(engine.issued, deps.explanations, issueKey, issuedFor, invocation.logger);
      if (reused) return issuedCard(reused);
      try {
        const { explainable, prepared } = prepareForExplanation(model, window);
        const result = await engine.explain({
          model: explainable,
          prepared,
          patient,
          // The raw window too: with EXPLAIN_THREAD=all a miss is prepared again and explained on the thread.
          input: { value: window.input, provenance: provenanceOfWindow(window) },
          ...(invocation.signal ? { signal: invocation.signal } : {}),
        });
        explained = explainedFrom(result, window, model, asOf, observationsById, explainable.layout);
      } catch (err) {
        if (err instanceof UnprocessableEntityError) {
          return { cards: [cannotScoreCard({ summary: NOT_SCORED, reasons: [err.message], notUsed: assessment.notUsed, source, links })] };
        }
        invocation.logger.warn({ errName: err instanceof Error ? err.name : typeof err }, 'deterioration explanation failed');
        explained = { factors: [], problem: 'the explainer failed for this input' };
      }

      let prediction: Prediction;
      try {
        prediction = await predictionOf(model, explained.probability, window.input);
      } catch (err) {
        if (err instanceof UnprocessableEntityError) {
          return { cards: [cannotScoreCard({ summary: NOT_SCORED, reasons: [err.message], notUsed: assessment.notUsed, source, links })] };
        }
        return { cards: [modelUnavailableCard({ modelTitle: 'Sepsis risk', serviceLabel: SERVICE_LABEL, reason: modelFailureReason(err, 'the model failed on this input') })] };
      }

      const cardUuid = randomUUID();
      const record: ExplanationRecord = {
        id: randomUUID(),
        cardUuid,
        patientId,
        serviceId: DETERIORATION_SERVICE_ID,
        hookInstance: invocation.request.hookInstance,
        model: { id: manifest.id, version: manifest.version },
        created: new Date().toISOString(),
        asOf: asOf.toISOString(),
        dataHash: explained.dataVersion ?? dataHash(window.input),
        prediction: { ...recordedPrediction(prediction, manifest), horizonHours: horizonOf(manifest) },
        ...(explained.method ? { method: explained.method } : {}),
        factors: explained.factors,
        ...(explained.attributions ? { attributions: explained.attributions } : {}),
        // The raw grid the score came from: the explanation view's trend rescores its earlier hours on demand.
        window: windowFromInput(window.input, window.hourStarts),
        notUsed: assessment.notUsed,
      };
      // Only a complete explanation is reused; a concurrent identical call shares this write (one row). The
      // store keeps the key; if another replica stored a record for these data meanwhile, that one is linked.
      if (explained.problem) {
        const id = await saveExplanationRecord(deps.explanations, record, invocation.logger);
        if (id) return issuedCard({ id, prediction, factors: cardFactors(explained.factors), ...(explained.method ? { method: explained.method } : {}), created: record.created }, cardUuid);
      } else {
        const issued = await issueRecord(engine.issued, deps.explanations, record, issueKey, issuedFor, invocation.logger);
        if (issued) return issuedCard(issued, issued.id === record.id ? cardUuid : undefined);
      }
      return cardOf({ cardUuid, prediction, factors: explained.factors, method: explained.method, ...(explained.problem ? { problem: explained.problem } : {}) });
    },
  };
}
