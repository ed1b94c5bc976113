/**
 * vigil-deterioration: probability of sepsis onset within 6 hours on patient-view (CDS Hooks 2.0.1
 * §Calling a CDS Service; model: models/deterioration, docs/models/deterioration.md). The handler wires
 * pure steps: gather Observations → 48-hour window → can it be scored? → predict → attribute → store the
 * explanation record → card. Bad or missing data and an unavailable model give an explanatory card
 * rather than an error; an explainer or store failure only drops the factors or the explanation link.
 */
import { randomUUID } from 'node:crypto';
import type { Observation } from 'fhir/r4';
import { UnprocessableEntityError, isVigilError } from '../../../errors.js';
import { buildDeteriorationWindow, type DeteriorationInput, type DeteriorationWindow, type RegisteredModel } from '../../../models/index.js';
import { MEASUREMENTS, encodeWindow, type PhysionetEncodingSpec } from '../../../models/data/physionet.js';
import { integratedGradientsExplainer } from '../../../explanations/integrated-gradients.js';
import { dataHash, type ExplanationFactor, type ExplanationMethod, type ExplanationRecord } from '../../../explanations/record.js';
import { cannotScoreCard, modelSource, modelUnavailableCard, modelCardLink } from '../../../explanations/risk-card.js';
import type { ModelServiceDeps } from '../../../explanations/service-deps.js';
import type { CdsResponse, CdsService, HookInvocation } from '../../types.js';
import { assessWindow } from './assess.js';
import { buildDeteriorationCard, horizonOf } from './card.js';
import { collectDeteriorationData } from './data.js';
import { DETERIORATION_MODEL_ID, DETERIORATION_SERVICE_ID, PREFETCH_KEYS, deteriorationDefinition } from './definition.js';
import { cellAttributions, deteriorationFactors } from './factors.js';

const HOUR_MS = 3_600_000;
const SERVICE_LABEL = 'Vigil · sepsis risk (deterioration model)';
const VITAL_COUNT = MEASUREMENTS.indexOf('EtCO2');

export const EMPTY_WINDOW_BASELINE = 'an empty 48-hour window (nothing measured; same age and sex)';

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
  problem?: string;
}

async function explain(
  deps: Required<Pick<ModelServiceDeps, 'explainer'>>,
  model: RegisteredModel<DeteriorationInput>,
  window: DeteriorationWindow,
  observationsById: ReadonlyMap<string, Observation>,
  invocation: HookInvocation,
): Promise<Explained> {
  try {
    const empty = window.input.rows.map(() => new Float32Array(MEASUREMENTS.length).fill(NaN));
    const baseline = encodeWindow(empty, window.input.age, window.input.sex, model.preprocess as PhysionetEncodingSpec);
    const attribution = await deps.explainer.attribute({
      model: model as RegisteredModel<unknown>,
      input: model.encode(window.input),
      baseline,
      baselineDescription: EMPTY_WINDOW_BASELINE,
      ...(invocation.signal ? { signal: invocation.signal } : {}),
    });
    const cells = cellAttributions(window, attribution.values);
    return { factors: deteriorationFactors(window, cells, observationsById), method: attribution.method, attributions: cells };
  } catch (err) {
    invocation.logger.warn({ errName: err instanceof Error ? err.name : typeof err }, 'deterioration explanation failed');
    return { factors: [], problem: 'the explainer failed for this input' };
  }
}

export function createDeteriorationService(deps: ModelServiceDeps): CdsService {
  const explainer = deps.explainer ?? integratedGradientsExplainer();
  return {
    definition: deteriorationDefinition(),
    requiredPrefetch: [PREFETCH_KEYS.patient],
    async handle(invocation: HookInvocation): Promise<CdsResponse> {
      const { now, baseUrl } = invocation;
      let model: RegisteredModel<DeteriorationInput>;
      try {
        model = await deps.models.get<DeteriorationInput>(DETERIORATION_MODEL_ID);
      } catch (err) {
        const reason = isVigilError(err) ? err.message : 'the model could not be loaded';
        return { cards: [modelUnavailableCard({ modelTitle: 'Sepsis risk', serviceLabel: SERVICE_LABEL, reason })] };
      }
      const { manifest } = model;
      const windowHours = manifest.input.windowHours ?? 48;
      const data = await collectDeteriorationData(invocation, new Date(now.getTime() - windowHours * HOUR_MS));
      const patientId = data.patient?.id ?? String(invocation.request.context.patientId ?? '');
      const window = buildDeteriorationWindow(data.patient, data.observations, now, windowHours);
      const source = modelSource(manifest, baseUrl);
      const links = [modelCardLink(baseUrl, manifest)];

      const assessment = assessWindow(window, data.observations, { now, ...(data.truncated ? { truncated: data.truncated } : {}) });
      if (!assessment.ok) {
        return {
          cards: [cannotScoreCard({ summary: 'Sepsis risk not scored: the data cannot be scored reliably', reasons: assessment.reasons, notUsed: assessment.notUsed, source, links })],
        };
      }

      let prediction;
      try {
        prediction = await model.predict(window.input);
      } catch (err) {
        if (err instanceof UnprocessableEntityError) {
          return { cards: [cannotScoreCard({ summary: 'Sepsis risk not scored: the data cannot be scored reliably', reasons: [err.message], notUsed: assessment.notUsed, source, links })] };
        }
        const reason = isVigilError(err) ? err.message : 'the model failed on this input';
        return { cards: [modelUnavailableCard({ modelTitle: 'Sepsis risk', serviceLabel: SERVICE_LABEL, reason })] };
      }

      const observationsById = new Map(data.observations.filter((o) => o.id).map((o) => [o.id!, o]));
      const explained = await explain({ explainer }, model, window, observationsById, invocation);

      const cardUuid = randomUUID();
      const record: ExplanationRecord = {
        id: randomUUID(),
        cardUuid,
        patientId,
        serviceId: DETERIORATION_SERVICE_ID,
        hookInstance: invocation.request.hookInstance,
        model: { id: manifest.id, version: manifest.version },
        created: new Date().toISOString(),
        asOf: now.toISOString(),
        dataHash: dataHash(window.input),
        prediction: {
          probability: prediction.probability,
          band: prediction.band,
          indicator: prediction.indicator,
          thresholds: { moderate: manifest.thresholds.moderate, high: manifest.thresholds.high },
          outcome: manifest.output.description,
          horizonHours: horizonOf(manifest),
        },
        ...(explained.method ? { method: explained.method } : {}),
        factors: explained.factors,
        ...(explained.attributions ? { attributions: explained.attributions } : {}),
        notUsed: assessment.notUsed,
      };
      let explanationId: string | undefined;
      try {
        await deps.explanations.save(record);
        explanationId = record.id;
      } catch (err) {
        invocation.logger.error({ errName: err instanceof Error ? err.name : typeof err }, 'explanation record not stored');
      }

      const hoursWithData = window.input.rows.filter((row) => Array.from(row).some((v) => !Number.isNaN(v))).length;
      const latestVital = latestVitalTime(window, observationsById);
      return {
        cards: [
          buildDeteriorationCard({
            cardUuid,
            prediction,
            manifest,
            factors: explained.factors,
            method: explained.method,
            ...(explained.problem ? { explanationProblem: explained.problem } : {}),
            ...(explanationId ? { explanationId } : {}),
            measuredCells: window.measuredCells,
            hoursWithData,
            windowHours,
            ...(latestVital ? { latestVital } : {}),
            notUsed: assessment.notUsed,
            baseUrl,
          }),
        ],
      };
    },
  };
}
