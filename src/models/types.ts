/**
 * What a shipped model is, as written to models/<id>/manifest.json by the training CLI and read by the
 * registry. A CDS service needs nothing else: registry.get(id) → predict(input) → probability, band.
 */
import type { Indicator } from '../cds-hooks/types.js';
import type { HeartEncodingSpec, HeartRecord } from './data/uci-heart.js';
import type { PhysionetEncodingSpec } from './data/physionet.js';

/** One model input as the FHIR side must supply it. */
export interface InputField {
  /** Name in the training data (e.g. "HR", "chol"). */
  name: string;
  /** Code system URL (LOINC, SNOMED CT) and code of the FHIR element that carries it, when there is one. */
  system?: string;
  code?: string;
  display?: string;
  /** UCUM unit of the FHIR value. */
  unit?: string;
  /** Unit of the training data when it differs; the FHIR mapping converts (src/fhir/mappings). */
  sourceUnit?: string;
  /** Allowed values for coded inputs, or the plausible range for quantities. */
  values?: number[];
  plausible?: { min: number; max: number };
}

export interface InputSchema {
  /** Encoding the preprocess.json spec implements. */
  encoding: HeartEncodingSpec['kind'] | PhysionetEncodingSpec['kind'];
  fields: InputField[];
  /** For time series: hours of history per prediction, ending at the scored hour. */
  windowHours?: number;
  /** Resolution of the time grid, hours. */
  stepHours?: number;
}

export type RiskBand = 'low' | 'moderate' | 'high';

/** Probability cut-offs chosen on the validation split (never on test), and the rule used. */
export interface Thresholds {
  /** p ≥ moderate → moderate band. */
  moderate: number;
  /** p ≥ high → high band. */
  high: number;
  rule: string;
  /** Operating characteristics of each cut-off on the validation split. */
  validation: Record<'moderate' | 'high', { sensitivity: number; specificity: number; ppv: number }>;
}

export const BAND_INDICATOR: Readonly<Record<RiskBand, Indicator>> = {
  low: 'info',
  moderate: 'warning',
  high: 'critical',
};

export interface ModelManifest {
  id: string;
  /** Semantic version; bumped by the training CLI when the weights change. */
  version: string;
  title: string;
  /** What the probability means, e.g. "sepsis onset within 6 h (PhysioNet 2019 label)". */
  output: { name: 'probability'; description: string; horizonHours?: number };
  input: InputSchema;
  thresholds: Thresholds;
  /** Files, relative to the model folder. */
  files: { model: string; preprocess: string; quantized?: string; card: string; metrics: string };
  trainedAt: string;
  /** TensorFlow.js back end the weights were trained on. */
  trainedOn: string;
  seed: number;
}

export type Preprocess = HeartEncodingSpec | PhysionetEncodingSpec;

/** Raw input of the heart-disease model: the 13 UCI fields, NaN for missing. */
export type HeartDiseaseInput = HeartRecord;

/**
 * Raw input of the deterioration model: up to windowHours hourly rows (oldest first, the last row is the
 * scored hour) of the PhysioNet measurement columns in training units, NaN where nothing was measured.
 */
export interface DeteriorationInput {
  rows: ArrayLike<number>[];
  /** Years. */
  age: number;
  /** 0 female, 1 male, NaN unknown. */
  sex: number;
}

export function bandOf(probability: number, thresholds: Pick<Thresholds, 'moderate' | 'high'>): RiskBand {
  if (probability >= thresholds.high) return 'high';
  if (probability >= thresholds.moderate) return 'moderate';
  return 'low';
}
