/**
 * src/explain's explanation record → the parts of the stored ExplanationRecord (record.ts) that the cards
 * and the explanation view read. Pure. Factor sentences are src/explain's own (buildFactor), rebuilt with
 * the measurement time of the source Observation instead of the start of its hourly cell, so "at 03:17"
 * names the reading a clinician will find in the chart; a carried-forward value keeps its "carried
 * forward" mark and the time of the earlier measurement.
 */
import type { Observation } from 'fhir/r4';
import { buildFactor, type CellValue, type ExplanationRecord as ExplainRecord, type Factor, type InputLayout } from '../explain/index.js';
import type { FactorTextOptions } from '../explain/factors.js';
import { isVigilError } from '../errors.js';
import { BAND_INDICATOR, bandOf, type ModelManifest, type Prediction, type RegisteredModel } from '../models/index.js';
import type { ExplanationFactor, ExplanationMethod, ExplanationRecord, RecordedPrediction } from './record.js';

/** Factors whose contribution is below this (0.1 percentage point) are not shown on cards. */
export const MIN_CARD_FACTOR = 0.001;
/** Factors listed on a card. */
export const MAX_CARD_FACTORS = 5;

/** What the baseline means, in words, per src/explain baseline kind and model kind. */
export function baselineWords(kind: string, timeSeries: boolean): string {
  switch (kind) {
    case 'normal':
      return timeSeries
        ? 'a patient of the same age and sex with normal physiology (vital signs hourly, laboratory values daily, all mid-normal)'
        : 'a patient of the same age and sex with a normal work-up';
    case 'training-mean':
      return 'the average input of the training data';
    default:
      return 'an all-zero encoded input';
  }
}

/** The record's `method`: name, baseline, steps and convergence delta of the integration. */
export function methodOf(record: ExplainRecord, options: { timeSeries: boolean; computed: 'inline' | 'cache' }): ExplanationMethod {
  const integration = record.integration;
  return {
    name: record.method,
    baseline: baselineWords(record.baseline.kind, options.timeSeries),
    baselineKind: record.baseline.kind,
    baselineProbability: record.baseline.probability,
    ...(integration
      ? {
          steps: integration.steps,
          convergenceDelta: integration.delta,
          rule: integration.rule,
          tolerance: integration.tolerance,
          converged: integration.converged,
          gradientCalls: integration.gradientCalls,
        }
      : {}),
    explainedAt: record.createdAt,
    computed: options.computed,
  };
}

function effectiveTime(o: Observation | undefined): string | undefined {
  return o?.effectiveDateTime ?? o?.effectivePeriod?.start ?? o?.effectiveInstant ?? o?.issued;
}

function printedValue(f: Factor): string | undefined {
  if (f.valueText !== undefined) return f.valueText;
  if (f.value === null) return undefined;
  const value = Math.abs(f.value) >= 100 ? String(Math.round(f.value)) : String(Number(f.value.toPrecision(3)));
  return f.unit ? `${value} ${f.unit}` : value;
}

export interface FactorConversionOptions {
  /** The Observations the input was built from, by id (for measurement times). */
  observationsById: ReadonlyMap<string, Observation>;
  /** Time the explanation is about: readings more than 24 h older print their date. */
  asOf?: string;
  /** Input window in hours (time series), for "not measured in the last N h". */
  windowHours?: number;
  timeZone?: string;
}

/** One src/explain factor in the stored form, its sentence naming the source Observation's own time. */
export function toServiceFactor(factor: Factor, layout: InputLayout, options: FactorConversionOptions): ExplanationFactor {
  const feature = layout.features.find((f) => f.name === factor.feature);
  const ids = factor.sources.map((s) => s.replace(/^Observation\//, ''));
  const observed = ids.map((id) => effectiveTime(options.observationsById.get(id))).find((t) => t !== undefined);
  const measuredAt = observed ?? factor.measuredAt;
  let text = factor.text;
  if (feature) {
    const cell: CellValue = {
      value: factor.value,
      imputed: factor.imputed,
      sources: ids,
      ...(measuredAt ? { measuredAt } : {}),
      ...(factor.unit ? { unitText: factor.unit } : {}),
      ...(factor.valueText !== undefined ? { valueText: factor.valueText } : {}),
      ...(factor.direction ? { direction: factor.direction } : {}),
    };
    const textOptions: FactorTextOptions = {
      timeZone: options.timeZone ?? 'UTC',
      ...(options.asOf ? { asOf: options.asOf } : {}),
      ...(options.windowHours ? { windowHours: options.windowHours } : {}),
    };
    text = buildFactor({ feature, cell, contribution: factor.contribution, attribution: factor.attribution }, textOptions).text;
  }
  const value = printedValue(factor);
  return {
    feature: factor.feature,
    label: factor.label,
    text,
    ...(value !== undefined ? { value } : {}),
    ...(measuredAt ? { time: measuredAt } : {}),
    contribution: factor.contribution,
    evidence: factor.sources,
    imputed: factor.imputed,
    ...(factor.direction ? { direction: factor.direction } : {}),
  };
}

/** Every factor that moved the prediction (already ordered by |contribution|, then name), in stored form. */
export function serviceFactors(record: ExplainRecord, layout: InputLayout, options: FactorConversionOptions): ExplanationFactor[] {
  return record.factors.filter((f) => f.contribution !== 0).map((f) => toServiceFactor(f, layout, options));
}

/** The factors a card lists: the strongest, at least MIN_CARD_FACTOR each. */
export function cardFactors(factors: readonly ExplanationFactor[], limit = MAX_CARD_FACTORS): ExplanationFactor[] {
  return factors.filter((f) => Math.abs(f.contribution) >= MIN_CARD_FACTOR).slice(0, limit);
}

/** The score as the model registry reports it, from the probability the explanation was computed with. */
export function predictionFrom(model: Pick<RegisteredModel<unknown>, 'manifest'>, probability: number): Prediction {
  const band = bandOf(probability, model.manifest.thresholds);
  return { modelId: model.manifest.id, version: model.manifest.version, probability, band, indicator: BAND_INDICATOR[band] };
}

/**
 * The score a card states: the probability the explanation was computed with when the explainer scored
 * this input (so score and explanation cannot disagree), else a fresh forward pass. Errors of
 * `model.predict` (e.g. UnprocessableEntityError for an input it cannot score) propagate to the caller.
 */
export async function predictionOf<I>(model: RegisteredModel<I>, explainedProbability: number | undefined, input: I): Promise<Prediction> {
  if (explainedProbability !== undefined && Number.isFinite(explainedProbability)) {
    return predictionFrom(model as RegisteredModel<unknown>, explainedProbability);
  }
  return model.predict(input);
}

/** The record's prediction for a banded risk model: the score, the manifest's band thresholds and what it is a probability of. */
export function recordedPrediction(prediction: Prediction, manifest: ModelManifest): RecordedPrediction {
  return {
    probability: prediction.probability,
    band: prediction.band,
    indicator: prediction.indicator,
    thresholds: { moderate: manifest.thresholds.moderate, high: manifest.thresholds.high },
    outcome: manifest.output.description,
  };
}

/** Why a model could not be used, for the model-unavailable card: a typed error's message, else `otherwise` (never an internal error's text). */
export function modelFailureReason(err: unknown, otherwise: string): string {
  return isVigilError(err) ? err.message : otherwise;
}
