/**
 * The use-case API: explain one prediction (or several at once) and get the JSON record a card links to.
 *
 *   const model = explainableFromRegistered(registry.get('deterioration'));
 *   const prepared = model.prepare(window.input, provenanceOfWindow(window));
 *   const record = explainPrediction(model, prepared, { patient: 'Patient/123' });
 *   record.factors.slice(0, 3).map((f) => f.text);
 *
 * Defaults: integrated gradients on the logit, adaptive trapezoid from 8 intervals, bisecting where the
 * completeness error sits until the delta is below 1 % (within a cell budget), against the "normal physiology" baseline (a patient of the same age and sex with
 * normal values), so contributions read "compared with normal physiology".
 */
import { randomUUID } from 'node:crypto';
import { foldToFeatures, featureTotals, peakStep, windowTotals, type FoldedAttribution } from './aggregate.js';
import { scores, widthOf } from './differentiable.js';
import { buildFactor, sortFactors, type FactorTextOptions } from './factors.js';
import { gradientTimesInput } from './saliency.js';
import { DEFAULT_SCHEDULE, integratedGradientsBatch, type IntegratedGradientsResult } from './integrated-gradients.js';
import { noiseTunnel } from './noise-tunnel.js';
import { occlusion } from './occlusion.js';
import { currentMetrics } from '../observability/metrics.js';
import type {
  AttributionTarget,
  BaselineKind,
  Explainable,
  ExplanationMethod,
  ExplanationRecord,
  Factor,
  InputLayout,
  PreparedInput,
  QuadratureRule,
  TimeSeriesAttribution,
} from './types.js';

export interface ExplainOptions {
  /** Default integrated-gradients. */
  method?: ExplanationMethod;
  /** Default normal. */
  baseline?: BaselineKind;
  /** Default logit. */
  target?: AttributionTarget;
  /** Integrated gradients: quadrature rule (default adaptive-trapezoid), step schedule, tolerance (default 0.01). */
  rule?: QuadratureRule;
  schedule?: readonly number[];
  tolerance?: number;
  /** Integrated gradients: budget of differentiated cells per input (see IntegratedGradientsOptions.maxCells). */
  maxCells?: number;
  /** NoiseTunnel methods: noisy samples (default 8), noise SD in encoded units (default 0.1), seed (default 1). */
  noise?: { samples?: number; stdev?: number; seed?: number };
  /** Occlusion: steps per occluded window (default 4). */
  occlusionSteps?: number;
  /** Patient reference recorded in the explanation (and used as its cache key). */
  patient?: string;
  /** Time-series window for per-window totals and window factors, in steps. Default 4. */
  windowSteps?: number;
  /** How many feature × window factors to keep (time series). Default 10. */
  windowFactors?: number;
  /** Time zone for factor text. Default UTC. */
  timeZone?: string;
  /**
   * Told of the one forward pass that yields the scores (inputs scored, seconds). Default: the process's
   * vigil_model_inference_* metrics; an explanation thread, which has none, passes its own.
   */
  onForward?: (inputs: number, seconds: number) => void;
  /** Clock and id source (tests). */
  now?: () => Date;
  newId?: () => string;
}

interface Attribution {
  attributions: Float32Array;
  integration?: IntegratedGradientsResult;
}

const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));
const logit = (p: number): number => Math.log(p) - Math.log1p(-p);

/** Noise only on continuous value channels: adding noise to masks, one-hots and time-since makes impossible inputs. */
export function noiseScale(layout: InputLayout): Float32Array {
  const perChannel = layout.channels.map((c, i) => {
    const feature = layout.features[layout.channelFeature[i]!]!;
    return c === feature.name && feature.kind === 'quantity' ? 1 : 0;
  });
  const steps = layout.shape.length === 2 ? layout.shape[0]! : 1;
  const out = new Float32Array(steps * perChannel.length);
  for (let t = 0; t < steps; t++) out.set(perChannel, t * perChannel.length);
  return out;
}

function attribute(model: Explainable, inputs: readonly PreparedInput[], options: ExplainOptions): Attribution[] {
  const method = options.method ?? 'integrated-gradients';
  const baselineKind = options.baseline ?? 'normal';
  const target = options.target ?? 'logit';
  const ig = {
    rule: options.rule ?? 'adaptive-trapezoid',
    schedule: options.schedule ?? DEFAULT_SCHEDULE,
    tolerance: options.tolerance ?? 0.01,
    ...(options.maxCells !== undefined ? { maxCells: options.maxCells } : {}),
  } as const;
  const noise = { samples: options.noise?.samples ?? 8, stdev: options.noise?.stdev ?? 0.1, seed: options.noise?.seed ?? 1 };
  switch (method) {
    case 'integrated-gradients':
      // Several patients' interpolation points share each gradient call.
      return integratedGradientsBatch(
        model,
        inputs.map((p) => ({ x: p.encoded, baseline: p.baselines[baselineKind] })),
        { ...ig, target },
      ).map((r) => ({ attributions: r.attributions, integration: r }));
    case 'smoothgrad-integrated-gradients':
    case 'smoothgrad':
      return inputs.map((p) => {
        const result = noiseTunnel(model, p.encoded, {
          method: method === 'smoothgrad' ? 'gradient-x-input' : 'integrated-gradients',
          ...noise,
          scale: noiseScale(model.layout),
          baseline: p.baselines[baselineKind],
          target,
          integratedGradients: ig,
        });
        // Report the least-converged sample: the record's delta must not look better than the worst path.
        const worst = result.integration?.reduce((a, b) => (b.delta > a.delta ? b : a));
        return { attributions: result.attributions, ...(worst ? { integration: worst } : {}) };
      });
    case 'gradient-x-input':
      return inputs.map((p) => ({ attributions: gradientTimesInput(model, p.encoded, p.baselines[baselineKind], target) }));
    case 'occlusion':
      return inputs.map((p) => ({
        attributions: occlusion(model, p.encoded, {
          baseline: p.baselines[baselineKind],
          windowSteps: options.occlusionSteps ?? 4,
          groups: model.layout.channelFeature,
          target,
        }).attributions,
      }));
  }
}

/** Explains several predictions of one model together (their gradient work is batched). */
export function explainPredictions(model: Explainable, inputs: readonly PreparedInput[], options: ExplainOptions = {}): ExplanationRecord[] {
  if (!inputs.length) return [];
  const target = options.target ?? 'logit';
  const baselineKind = options.baseline ?? 'normal';
  const width = widthOf(model.shape);
  const attributions = attribute(model, inputs, options);
  // One forward pass for every input and its baseline: the prediction and the probability scale.
  const flat = new Float32Array(inputs.length * 2 * width);
  inputs.forEach((p, k) => {
    flat.set(p.encoded, 2 * k * width);
    flat.set(p.baselines[baselineKind], (2 * k + 1) * width);
  });
  const started = performance.now();
  const probabilities = scores(model, flat, inputs.length * 2, 'probability');
  // This pass is the score the card shows (services score through the explanation, not registry.predict),
  // so it is what vigil_model_inference_duration_seconds must see (from a thread: via its reply).
  const seconds = (performance.now() - started) / 1000;
  if (options.onForward) options.onForward(inputs.length, seconds);
  else currentMetrics()?.observeInference(model.modelId, inputs.length, seconds);
  const now = options.now ?? (() => new Date());
  const newId = options.newId ?? randomUUID;

  return inputs.map((prepared, k) => {
    const p = probabilities[2 * k]!;
    const pBaseline = probabilities[2 * k + 1]!;
    const { attributions: cells, integration } = attributions[k]!;
    const scale = probabilityScale(target, p, pBaseline, integration);
    const folded = foldToFeatures(cells, model.layout);
    const textOptions: FactorTextOptions = {
      timeZone: options.timeZone ?? 'UTC',
      ...(prepared.stepTimes?.length ? { asOf: endOf(prepared.stepTimes, model.layout) } : {}),
      ...(model.layout.stepHours ? { windowHours: folded.steps * model.layout.stepHours } : {}),
    };
    const factors = featureFactors(model, prepared, folded, scale, textOptions);
    const record: ExplanationRecord = {
      id: newId(),
      model: { id: model.modelId, version: model.version },
      ...(options.patient ? { patient: options.patient } : {}),
      dataVersion: prepared.dataVersion,
      createdAt: now().toISOString(),
      method: options.method ?? 'integrated-gradients',
      target,
      baseline: { kind: baselineKind, probability: pBaseline },
      ...(integration
        ? {
            integration: {
              rule: integration.rule,
              steps: integration.steps,
              delta: integration.delta,
              tolerance: options.tolerance ?? 0.01,
              converged: integration.converged,
              gradientCalls: integration.gradientCalls,
            },
          }
        : {}),
      ...(options.method === 'smoothgrad' || options.method === 'smoothgrad-integrated-gradients'
        ? { noise: { samples: options.noise?.samples ?? 8, stdev: options.noise?.stdev ?? 0.1, seed: options.noise?.seed ?? 1 } }
        : {}),
      prediction: { probability: p, logit: integration && target === 'logit' ? integration.score : logit(p) },
      factors,
    };
    if (model.layout.shape.length === 2 && prepared.stepTimes) {
      const timeSeries = timeSeriesOf(model, prepared, folded, scale, options.windowSteps ?? 4);
      record.timeSeries = timeSeries;
      record.windowFactors = windowFactorsOf(model, prepared, folded, scale, options, textOptions);
    }
    return record;
  });
}

/** Explains one prediction. */
export function explainPrediction(model: Explainable, input: PreparedInput, options: ExplainOptions = {}): ExplanationRecord {
  return explainPredictions(model, [input], options)[0]!;
}

/**
 * Common factor turning target-unit attributions into probability: Δp / Δlogit between input and baseline
 * (the slope of the secant of the sigmoid); when the two logits nearly coincide, the sigmoid's derivative.
 */
function probabilityScale(target: AttributionTarget, p: number, pBaseline: number, integration?: IntegratedGradientsResult): number {
  if (target === 'probability') return 1;
  const z = integration?.score ?? logit(p);
  const zBaseline = integration?.baselineScore ?? logit(pBaseline);
  if (Math.abs(z - zBaseline) < 1e-6) return sigmoid(z) * (1 - sigmoid(z));
  return (sigmoid(z) - sigmoid(zBaseline)) / (z - zBaseline);
}

function endOf(stepTimes: readonly string[], layout: InputLayout): string {
  const last = Date.parse(stepTimes[stepTimes.length - 1]!);
  return new Date(last + (layout.stepHours ?? 1) * 3_600_000).toISOString();
}

function featureFactors(model: Explainable, prepared: PreparedInput, folded: FoldedAttribution, scale: number, text: FactorTextOptions): Factor[] {
  const totals = featureTotals(folded);
  return sortFactors(
    model.layout.features.map((feature, f) => {
      // The value shown is the one at the step that drove this feature's contribution most.
      const cell = prepared.cell(peakStep(folded, f), f);
      return buildFactor({ feature, cell, contribution: totals[f]! * scale, attribution: totals[f]! }, text);
    }),
  );
}

function windowFactorsOf(
  model: Explainable,
  prepared: PreparedInput,
  folded: FoldedAttribution,
  scale: number,
  options: ExplainOptions,
  text: FactorTextOptions,
): Factor[] {
  const times = prepared.stepTimes!;
  const windows = windowTotals(folded, options.windowSteps ?? 4);
  // Rank the window totals first and decode only the cells of the factors kept.
  const ranked = windows
    .flatMap((w) => model.layout.features.map((feature, f) => ({ w, f, feature, total: w.byFeature[f]! })))
    .filter((c) => c.total !== 0)
    .sort((a, b) => Math.abs(b.total) - Math.abs(a.total) || (a.feature.name < b.feature.name ? -1 : a.feature.name > b.feature.name ? 1 : a.w.from - b.w.from))
    .slice(0, options.windowFactors ?? 10);
  return sortFactors(
    ranked.map(({ w, f, feature, total }) => {
      const window = { from: times[w.from]!, to: endOf(times.slice(0, w.to), model.layout) };
      const cell = prepared.cell(peakStep(folded, f, w.from, w.to), f);
      return buildFactor({ feature, cell, contribution: total * scale, attribution: total, window }, text);
    }),
  );
}

function timeSeriesOf(model: Explainable, prepared: PreparedInput, folded: FoldedAttribution, scale: number, windowSteps: number): TimeSeriesAttribution {
  const { features } = model.layout;
  const times = [...prepared.stepTimes!];
  const attribution = features.map((_, f) => Array.from({ length: folded.steps }, (_, t) => folded.cells[t * folded.features + f]! * scale));
  const values = features.map((_, f) => Array.from({ length: folded.steps }, (_, t) => prepared.cell(t, f).value));
  const imputed = features.map((_, f) => Array.from({ length: folded.steps }, (_, t) => prepared.cell(t, f).imputed));
  const windows = windowTotals(folded, windowSteps).map((w) => ({
    from: times[w.from]!,
    to: endOf(times.slice(0, w.to), model.layout),
    contribution: w.total * scale,
  }));
  return { stepHours: model.layout.stepHours ?? 1, times, features: features.map((f) => f.name), attribution, values, imputed, windows };
}
