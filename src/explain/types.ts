/**
 * The model-agnostic contract every explainer works over, and the explanation record the CDS services
 * attach to cards and `/explanations/{id}` serves to the explanation view (issue 8).
 *
 * Explainers see a model only as a {@link Differentiable}: a batched, differentiable score over the
 * *encoded* input. Attributions are computed on the **logit** (log-odds) by default: the networks end in a
 * sigmoid, whose saturation would make the integrand of integrated gradients sharply peaked (more steps for
 * the same completeness error), and a logistic model is exactly linear in the logit. Factor contributions
 * shown to clinicians are then rescaled to probability (see {@link Factor.contribution}).
 */
import type * as tfTypes from '@tensorflow/tfjs';

export type Tensor = tfTypes.Tensor;

/** Quantity attributions are computed on; completeness (Σ attributions = f(x) − f(baseline)) holds for it. */
export type AttributionTarget = 'logit' | 'probability';

/**
 * A batched, differentiable scoring function over encoded inputs.
 * `score(x, target)` maps a float32 tensor [batch, ...shape] to [batch]; it must be built only from tfjs ops
 * (so tf.grad can differentiate it) and score every batch row independently of the others.
 */
export interface Differentiable {
  /** Encoded input shape without the batch axis: [channels] (tabular) or [steps, channels] (time series). */
  readonly shape: readonly number[];
  score(x: Tensor, target: AttributionTarget): Tensor;
}

/** Baselines every explainable input offers (Sundararajan et al. 2017 §3: the baseline is part of the question). */
export type BaselineKind = 'training-mean' | 'normal' | 'zero';

/** One raw model input (a measurement, a demographic, a coded finding) as clinicians know it. */
export interface FeatureInfo {
  /** Name in the model's training data (e.g. "Lactate", "chol"). */
  name: string;
  /** Short clinical label for factor text (e.g. "Lactate", "Cholesterol"). */
  label: string;
  kind: 'quantity' | 'category' | 'flag';
  /** UCUM code of the value shown to clinicians (after conversion from the training unit). */
  ucum?: string;
  /** Unit as printed in factor text (e.g. "mmol/L", "/min", "°C"). */
  unitText?: string;
  /** Code system and code of the FHIR element (LOINC where one exists). */
  system?: string;
  code?: string;
}

/** How the encoded channels (last axis) map back to raw features. */
export interface InputLayout {
  /** Encoded shape without batch: [channels] or [steps, channels]. */
  shape: readonly number[];
  /** Encoded channel names (e.g. "HR", "HR:measured", "HR:hours_since", "cp=4", "chol:missing"). */
  channels: readonly string[];
  features: readonly FeatureInfo[];
  /** channelFeature[c] = index into features: mask, time-since, one-hot and missing channels fold into their feature. */
  channelFeature: readonly number[];
  /** Hours per time step for time series (absent for tabular inputs). */
  stepHours?: number;
}

/** The raw value behind one (step, feature) cell, decoded for people. */
export interface CellValue {
  /** Value in FeatureInfo.ucum units; null when nothing was recorded (the model saw its "missing" encoding). */
  value: number | null;
  /**
   * True when the cell holds no measurement of its own: carried forward from an earlier step, or filled
   * because nothing was measured. Such a value must never be shown as a fresh measurement.
   */
  imputed: boolean;
  /** ISO time of the measurement the value came from (for a carried-forward cell: the earlier measurement). */
  measuredAt?: string;
  /** FHIR Observation ids the value came from. */
  sources: readonly string[];
  /** Printed unit when it differs from the feature's (e.g. ionized calcium in mmol/L in the Calcium column). */
  unitText?: string;
  /** Label of a coded value (e.g. "asymptomatic", "male"). */
  valueText?: string;
  /** Against the reference range (src/explain/reference-ranges.ts). */
  direction?: Direction;
}

/** FHIR provenance of a raw input, as the feature extraction records it. */
export interface Provenance {
  /** sources[step][feature]: Observation ids whose value fills that cell (empty when nothing was measured then). */
  sources: readonly (readonly (readonly string[])[])[];
  /** ISO start of each time step (time series). */
  stepTimes?: readonly string[];
  /** ISO time each feature was observed (tabular inputs). */
  observedAt?: readonly (string | undefined)[];
}

/** One input ready to explain: the encoding the network sees, its baselines and a decoder back to raw values. */
export interface PreparedInput {
  encoded: Float32Array;
  baselines: Readonly<Record<BaselineKind, Float32Array>>;
  /** Raw value of feature f at step t (t = 0 for tabular inputs). */
  cell(step: number, feature: number): CellValue;
  /** ISO start of each step, for time series. */
  stepTimes?: readonly string[];
  /** Content hash of the encoded input and its provenance (see dataVersionOf). */
  dataVersion: string;
}

/** A registered model seen by the explainers: a Differentiable with its layout and an input preparer. */
export interface Explainable<I = unknown> extends Differentiable {
  readonly modelId: string;
  readonly version: string;
  readonly layout: InputLayout;
  /** Encodes one raw input (throws UnprocessableEntityError like the model) with its decoder and baselines. */
  prepare(input: I, provenance?: Provenance): PreparedInput;
}

/** Uniform rules refine by doubling along a schedule; adaptive-trapezoid bisects the intervals with the largest error. */
export type QuadratureRule = 'gauss-legendre' | 'trapezoid' | 'adaptive-trapezoid';

export type ExplanationMethod = 'integrated-gradients' | 'smoothgrad-integrated-gradients' | 'gradient-x-input' | 'smoothgrad' | 'occlusion';

export type Direction = 'high' | 'low' | 'normal';

/**
 * One contributing factor, in the form a card shows it. Contributions are relative to the baseline:
 * "raised the risk" means this feature moved the prediction above what the baseline patient would get.
 */
export interface Factor {
  /** Feature name in the model (stable key). */
  feature: string;
  label: string;
  /** Value shown (FeatureInfo.ucum units); null when not recorded. */
  value: number | null;
  unit?: string;
  /** Category or flag label for coded inputs (e.g. "asymptomatic", "yes"). */
  valueText?: string;
  /** ISO time of the measurement shown. */
  measuredAt?: string;
  direction?: Direction;
  /** The value shown was carried forward (not measured at the step that drove the contribution). */
  imputed: boolean;
  /**
   * Change in probability attributed to this factor relative to the baseline: the attribution (computed on
   * the record's target) times one common factor (p(x) − p(baseline)) / (logit(x) − logit(baseline)), so
   * contributions keep the attributions' signs and proportions and add up to the change in probability.
   */
  contribution: number;
  /** The attribution itself, in the record's target units (log-odds by default). */
  attribution: number;
  /** For time series: the time window the factor summarises ([from, to), ISO), when it is a window factor. */
  window?: { from: string; to: string };
  /** FHIR references of the Observations behind the value ("Observation/<id>"). */
  sources: string[];
  /** Plain-words sentence, e.g. "Lactate 4.1 mmol/L at 03:00 (high) raised the risk by 12.0 percentage points". */
  text: string;
}

/** Per-cell attributions of a time-series explanation, laid out for curves with heat strips (issue 8). */
export interface TimeSeriesAttribution {
  stepHours: number;
  /** ISO start of each step. */
  times: string[];
  features: string[];
  /** attribution[feature][step] in probability units (value, mask and time-since channels folded together). */
  attribution: number[][];
  /** values[feature][step] as the model saw them after carry-forward; null before the first measurement. */
  values: (number | null)[][];
  /** imputed[feature][step]: true where the value was carried forward or filled, not measured in that step. */
  imputed: boolean[][];
  /** Totals per time window (all features), probability units. */
  windows: { from: string; to: string; contribution: number }[];
}

/** A JSON-serialisable explanation of one prediction. */
export interface ExplanationRecord {
  /** Opaque id (`/explanations/{id}`). */
  id: string;
  model: { id: string; version: string };
  /** Reference of the patient ("Patient/<id>"), when the caller supplied it. */
  patient?: string;
  /** Hash of the encoded input and its provenance: the score this explains was computed on the same data. */
  dataVersion: string;
  createdAt: string;
  method: ExplanationMethod;
  target: AttributionTarget;
  baseline: { kind: BaselineKind; probability: number };
  /** Integrated-gradients bookkeeping; absent for methods without path integration. */
  integration?: {
    rule: QuadratureRule;
    steps: number;
    /** |Σ attributions − (f(x) − f(baseline))| / |f(x) − f(baseline)| on the target quantity. */
    delta: number;
    tolerance: number;
    converged: boolean;
    /** Number of batched gradient calls made (each covers every interpolation step). */
    gradientCalls: number;
  };
  /** NoiseTunnel settings, when noise was added. */
  noise?: { samples: number; stdev: number; seed: number };
  prediction: { probability: number; logit: number };
  /** Every feature with its contribution, ordered by |contribution| then name. */
  factors: Factor[];
  /** Time series: the largest feature × time-window contributions (window set), same ordering. */
  windowFactors?: Factor[];
  timeSeries?: TimeSeriesAttribution;
}
