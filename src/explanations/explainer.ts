/**
 * The seam between the model CDS services and the explainers (issue 7). A service encodes the input and
 * a baseline ("no information") the way its model expects, asks an Explainer for one attribution per
 * encoded element, and groups them back into clinical factors itself. Any explainer that satisfies this
 * interface (the src/explain package, when it lands) plugs in through createVigil / createServices.
 */
import type { RegisteredModel } from '../models/index.js';
import type { ExplanationMethod } from './record.js';

export interface AttributionRequest {
  model: RegisteredModel<unknown>;
  /** model.encode(input): the tensor the network sees, flattened. */
  input: Float32Array;
  /** An encoded reference input of the same shape. */
  baseline: Float32Array;
  /** Words for the baseline, recorded with the explanation. */
  baselineDescription: string;
  /** Aborted at the hook deadline. */
  signal?: AbortSignal;
}

export interface Attribution {
  /** One value per encoded element, same layout as the input; they sum to about probability − baselineProbability. */
  values: Float32Array;
  probability: number;
  baselineProbability: number;
  method: ExplanationMethod;
}

export interface Explainer {
  attribute(request: AttributionRequest): Promise<Attribution>;
}
