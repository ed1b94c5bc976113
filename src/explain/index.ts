/**
 * What the rest of Vigil uses from src/explain (issue 7). A CDS service:
 *
 *   const model = explainableFromRegistered(registry.get('deterioration'));
 *   const prepared = model.prepare(window.input, provenanceOfWindow(window));
 *   const record = await cache.getOrCompute(
 *     { patient, modelId: model.modelId, modelVersion: model.version, dataVersion: prepared.dataVersion },
 *     () => explainPrediction(model, prepared, { patient }),
 *   );
 *   card.detail = record.factors.slice(0, 3).map((f) => f.text) … link to /explanations/{record.id}
 *
 * The explainers themselves (integratedGradients, noiseTunnel, gradientTimesInput, occlusion) work on any
 * {@link Differentiable}; docs/explanations.md describes methods, baselines and measured costs.
 */
export type {
  AttributionTarget,
  BaselineKind,
  CellValue,
  Differentiable,
  Direction,
  Explainable,
  ExplanationMethod,
  ExplanationRecord,
  Factor,
  FeatureInfo,
  InputLayout,
  PreparedInput,
  Provenance,
  QuadratureRule,
  TimeSeriesAttribution,
} from './types.js';
export { explainableFromRegistered, provenanceOfWindow } from './explainable.js';
export { heartProvenance } from './encodings/uci-heart.js';
export { explainPrediction, explainPredictions, type ExplainOptions } from './explain.js';
export { ExplanationCache, explainsScore, type ExplanationCacheOptions, type ExplanationKey } from './cache.js';
export { dataVersionOf } from './data-version.js';
export { differentiableFromLayers, valuesAndGradients } from './differentiable.js';
export {
  integratedGradients,
  integratedGradientsBatch,
  integratedGradientsStepwise,
  completenessDelta,
  DEFAULT_SCHEDULE,
  type IntegratedGradientsOptions,
  type IntegratedGradientsResult,
} from './integrated-gradients.js';
export { noiseTunnel, gaussianNoise, type NoiseTunnelOptions, type NoiseTunnelResult } from './noise-tunnel.js';
export { inputGradient, gradientTimesInput } from './saliency.js';
export { occlusion, type OcclusionOptions, type OcclusionResult } from './occlusion.js';
export { foldToFeatures, featureTotals, windowTotals } from './aggregate.js';
export { buildFactor, describeCell, formatContribution, formatValue, sortFactors } from './factors.js';
export { gaussLegendre, trapezoid } from './quadrature.js';
export { REFERENCE, directionOf } from './reference-ranges.js';
