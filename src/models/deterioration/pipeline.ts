/**
 * Deterioration (sepsis) model: a temporal convolution network (2.0.0; a GRU in 1.x) over the 48-hour window, per scored hour, trained on PhysioNet 2019
 * with the challenge's label convention (SepsisLabel at hour t, from data up to t; the label is already
 * 6 h ahead of Sepsis-3 onset). Compared on the same test patients with a logistic regression on the
 * last hour's encoding and with NEWS2.
 *
 * Architectures (`architecture`, `npm run train -- --model deterioration --arch tcn|gru`): hourly inputs
 * (value, mask, hours-since per measurement + age, sex) are grouped into 4-hour patches (48 h → 12 steps)
 * by a dense projection, then either
 * - gru: a GRU(32) over the 12 steps (12 recurrent steps of small ops, forward and backward), or
 * - tcn: a temporal convolution network — stacked width-k convolutions over the 12 steps ('same'
 *   padding: the window already ends at the scored hour, so no input lies in its future) and a readout
 *   of every step — a handful of wide ops, so the batched input gradients of integrated gradients need
 *   far fewer kernel launches (issue 7, cold path; bench/deterioration-arch.ts measures both).
 * Everything else (encoding, sampling, class weights, recalibration, thresholds, seeds) is shared.
 */
import type * as tfTypes from '@tensorflow/tfjs';
import { backendName, getTf } from '../backend/index.js';
import { CHANNELS, encodeWindow, fitPhysionetEncoding, isSepsisPatient, windowRows, type PhysionetEncodingSpec, type Stay } from '../data/physionet.js';
import { stratifiedSplit, type PatientSplit } from '../data/split.js';
import { fitLogistic, predictLogistic, type LogisticModel } from '../logistic.js';
import { auroc, recalibrationFit } from '../metrics.js';
import { seededRandom, shuffled } from '../random.js';
import { evaluateProbabilities, type EvaluationReport } from '../report.js';
import { foldRecalibration, predictFlat, trainLoop, type Batch, type ProgressEvent, type TrainResult } from '../training.js';
import type { Thresholds } from '../types.js';
import { quantizedCopy } from '../io.js';
import { chooseThresholds, type QuantizedResult } from '../heart-disease/pipeline.js';
import { news2FromWindow } from './news2-baseline.js';
import { installFastConvGradients } from '../ecg/wasm-conv-grad.js';

export const DETERIORATION_MODEL_ID = 'deterioration';
/** Hours grouped into one recurrent step. */
export const PATCH_HOURS = 4;

export type DeteriorationArchitecture = 'gru' | 'tcn';
export const DETERIORATION_ARCHITECTURES: readonly DeteriorationArchitecture[] = ['gru', 'tcn'];

/** The temporal convolution network's shape (after the shared 4-hour patch projection). */
export interface TcnConfig {
  /** Channels of the patch projection and of every convolution. */
  filters: number;
  /** Convolution width in 4-hour steps (odd). */
  kernel: number;
  /** Stacked convolutions (each with a residual connection when `residual`). */
  blocks: number;
  residual: boolean;
  /** Of the patch projection and the convolutions: ReLU kinks make integrated gradients need more steps than a smooth tanh. */
  activation: 'relu' | 'tanh';
}

/** The shipped 2.0.0 configuration (docs/models/deterioration.md), so a plain `npm run train` reproduces it. */
export const DEFAULT_TCN: TcnConfig = { filters: 32, kernel: 3, blocks: 2, residual: false, activation: 'tanh' };

export interface DeteriorationTrainOptions {
  seed: number;
  /** Default tcn, what ships since 2.0.0 (the architecture rule in the model card decided); gru trains 1.x. */
  architecture?: DeteriorationArchitecture;
  tcn?: Partial<TcnConfig>;
  epochs?: number;
  patience?: number;
  /** Negative hours sampled per training patient per epoch (all positive hours are always used). */
  negativesPerPatient?: number;
  units?: number;
  learningRate?: number;
  bootstrapReplicates?: number;
  onProgress?(event: ProgressEvent): void;
}

export interface DeteriorationMetrics {
  modelId: string;
  seed: number;
  backend: string;
  trainingSeconds: number;
  sampling: string;
  hyperparameters: {
    architecture: DeteriorationArchitecture;
    learningRate: number;
    batchSize: number;
    /** GRU units, or the TCN's filters. */
    units: number;
    patchHours: number;
    inputDropout: number;
    dropout: number;
    l2: number;
    patience: number;
    tcn?: TcnConfig;
    parameters: number;
  };
  split: {
    patients: { train: number; validation: number; test: number };
    sepsisPatients: { train: number; validation: number; test: number };
    testHours: number;
    testPositiveHours: number;
  };
  training: TrainResult;
  recalibration: { a: number; b: number };
  /** networkAuroc: the shipped network (GRU or TCN, hyperparameters.architecture). */
  validation: { networkAuroc: number; baselineAuroc: number; news2Auroc: number };
  /** Per-hour metrics on every hour of every test patient; bootstrap resamples patients. */
  test: { network: EvaluationReport; baseline: EvaluationReport; news2: EvaluationReport };
  target: { perHourAuroc: number; met: boolean; shortfall: number };
  thresholds: Thresholds;
  quantized: QuantizedResult;
  /**
   * Probabilities of the first test hours, so a test can check cheaply that the committed weights are the
   * ones these metrics describe.
   */
  fingerprint: Array<{ patient: string; hour: number; probability: number }>;
}

export interface DeteriorationTrained {
  model: tfTypes.LayersModel;
  preprocess: PhysionetEncodingSpec;
  baseline: LogisticModel;
  split: PatientSplit;
  metrics: DeteriorationMetrics;
}

const INPUT_DROPOUT = 0.2;
const DROPOUT = 0.4;
const L2 = 1e-3;

export function buildDeteriorationGru(spec: PhysionetEncodingSpec, seed: number, units = 32, inputDropout = INPUT_DROPOUT): tfTypes.Sequential {
  const tf = getTf();
  const W = spec.windowHours;
  const model = tf.sequential();
  // Input dropout hides random cells each step, so the network cannot memorise the few septic stays.
  model.add(tf.layers.dropout({ inputShape: [W, CHANNELS], rate: inputDropout, seed: seed + 6 }));
  model.add(tf.layers.reshape({ targetShape: [W / PATCH_HOURS, PATCH_HOURS * CHANNELS] }));
  model.add(tf.layers.dense({ units: 32, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }), kernelRegularizer: tf.regularizers.l2({ l2: L2 }) }));
  // Few septic patients (≈ 85 in training): strong dropout is what keeps validation AUROC from falling after epoch 2.
  model.add(tf.layers.dropout({ rate: DROPOUT, seed: seed + 5 }));
  model.add(
    tf.layers.gru({
      units,
      kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 2 }),
      recurrentInitializer: tf.initializers.orthogonal({ seed: seed + 3 }),
    }),
  );
  model.add(tf.layers.dense({ units: 1, activation: 'sigmoid', kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 4 }) }));
  return model;
}

/**
 * Temporal convolution network over the same input: the GRU's 4-hour patch projection (itself a width-4,
 * stride-4 convolution over hours), `blocks` width-`kernel` convolutions over the 12 patches, and a
 * sigmoid readout of every patch (flatten → dense), so recent hours can weigh more than old ones.
 * Layers are tfjs built-ins only, so the registry loads it like the GRU (no custom classes).
 */
export function buildDeteriorationTcn(spec: PhysionetEncodingSpec, seed: number, config: TcnConfig = DEFAULT_TCN, inputDropout = INPUT_DROPOUT): tfTypes.LayersModel {
  const tf = getTf();
  if (config.kernel % 2 !== 1) throw new Error('TCN kernel must be odd');
  // tfjs-backend-wasm has no filter gradient for convolutions; this supplies one (and a fast input gradient).
  installFastConvGradients();
  const W = spec.windowHours;
  const l2 = () => tf.regularizers.l2({ l2: L2 });
  const input = tf.input({ shape: [W, CHANNELS] });
  let x = tf.layers.dropout({ rate: inputDropout, seed: seed + 6 }).apply(input) as tfTypes.SymbolicTensor;
  x = tf.layers.reshape({ targetShape: [W / PATCH_HOURS, PATCH_HOURS * CHANNELS] }).apply(x) as tfTypes.SymbolicTensor;
  x = tf.layers
    .dense({ units: config.filters, activation: config.activation, kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }), kernelRegularizer: l2() })
    .apply(x) as tfTypes.SymbolicTensor;
  x = tf.layers.dropout({ rate: DROPOUT, seed: seed + 5 }).apply(x) as tfTypes.SymbolicTensor;
  for (let b = 0; b < config.blocks; b++) {
    const y = tf.layers
      .conv1d({
        filters: config.filters,
        kernelSize: config.kernel,
        padding: 'same',
        activation: config.activation,
        kernelInitializer: config.activation === 'relu' ? tf.initializers.heNormal({ seed: seed + 10 + b }) : tf.initializers.glorotUniform({ seed: seed + 10 + b }),
        kernelRegularizer: l2(),
      })
      .apply(x) as tfTypes.SymbolicTensor;
    x = config.residual ? (tf.layers.add().apply([x, y]) as tfTypes.SymbolicTensor) : y;
  }
  x = tf.layers.flatten().apply(x) as tfTypes.SymbolicTensor;
  const output = tf.layers
    .dense({ units: 1, activation: 'sigmoid', kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 4 }) })
    .apply(x) as tfTypes.SymbolicTensor;
  return tf.model({ inputs: input, outputs: output });
}

/** (stay, hour) pairs. */
interface HourRef {
  stay: Stay;
  t: number;
}

function encodeBatch(refs: readonly HourRef[], spec: PhysionetEncodingSpec): Float32Array {
  const size = spec.windowHours * CHANNELS;
  const out = new Float32Array(refs.length * size);
  refs.forEach((r, i) => encodeWindow(windowRows(r.stay, r.t, spec.windowHours), r.stay.age, r.stay.sex, spec, out, i * size));
  return out;
}

function allHours(stays: readonly Stay[]): HourRef[] {
  return stays.flatMap((stay) => stay.hours.map((_, t) => ({ stay, t })));
}

/** The network's probabilities for every listed hour, in batches. */
export function predictHours(model: tfTypes.LayersModel, spec: PhysionetEncodingSpec, refs: readonly HourRef[], batchSize = 512): Float32Array {
  const out = new Float32Array(refs.length);
  for (let i = 0; i < refs.length; i += batchSize) {
    const chunk = refs.slice(i, i + batchSize);
    out.set(predictFlat(model, [spec.windowHours, CHANNELS], encodeBatch(chunk, spec), chunk.length), i);
  }
  return out;
}

/** The last hour of the encoded window: carried-forward values, this hour's mask, hours since, age, sex. */
function lastHourFeatures(r: HourRef, spec: PhysionetEncodingSpec): Float32Array {
  const enc = encodeWindow(windowRows(r.stay, r.t, spec.windowHours), r.stay.age, r.stay.sex, spec);
  return enc.slice((spec.windowHours - 1) * CHANNELS);
}

/**
 * What training decides from the training and validation patients alone (no test patient is scored):
 * the recalibrated network, the baseline, the thresholds and the validation AUROCs. `--trial` runs stop
 * here, so architectures can be compared on validation without looking at the test split.
 */
export interface DeteriorationFit {
  model: tfTypes.LayersModel;
  preprocess: PhysionetEncodingSpec;
  baseline: LogisticModel;
  split: PatientSplit;
  test: Stay[];
  metrics: Omit<DeteriorationMetrics, 'test' | 'target' | 'quantized' | 'fingerprint' | 'split'> & {
    split: Omit<DeteriorationMetrics['split'], 'testHours' | 'testPositiveHours'>;
  };
  started: number;
}

export async function fitDeterioration(stays: ReadonlyMap<string, Stay>, options: DeteriorationTrainOptions): Promise<DeteriorationFit> {
  const started = Date.now();
  const { seed, epochs = 30, patience = 5, negativesPerPatient = 16, units = 32, learningRate = 0.0003, architecture = 'tcn' } = options;
  const split = stratifiedSplit([...stays.values()].map((s) => ({ id: s.id, positive: isSepsisPatient(s) })), seed);
  const part = (ids: string[]) => ids.map((id) => stays.get(id)!);
  const train = part(split.train);
  const validation = part(split.validation);
  const test = part(split.test);
  const spec = fitPhysionetEncoding(train);
  const inputShape = [spec.windowHours, CHANNELS];

  const sampleHours = (random: () => number, negatives: number): HourRef[] => {
    const refs: HourRef[] = [];
    for (const stay of train) {
      const neg: number[] = [];
      stay.labels.forEach((l, t) => (l === 1 ? refs.push({ stay, t }) : neg.push(t)));
      for (const t of shuffled(neg, random).slice(0, negatives)) refs.push({ stay, t });
    }
    return refs;
  };

  const tcn: TcnConfig | undefined = architecture === 'tcn' ? { ...DEFAULT_TCN, ...options.tcn } : undefined;
  const model = tcn ? buildDeteriorationTcn(spec, seed, tcn) : buildDeteriorationGru(spec, seed, units);
  const valRefs = allHours(validation);
  const valLabels = valRefs.map((r) => r.stay.labels[r.t]!);
  const batchSize = 128;
  const training = await trainLoop({
    model,
    inputShape,
    epochs,
    patience,
    learningRate,
    onProgress: options.onProgress,
    epochBatches(epoch) {
      const random = seededRandom(seed * 1000 + epoch);
      const refs = shuffled(sampleHours(random, negativesPerPatient), random);
      const pos = refs.filter((r) => r.stay.labels[r.t] === 1).length;
      // Balanced class weights over this epoch's sample.
      const weight = [refs.length / (2 * (refs.length - pos)), refs.length / (2 * pos)];
      const batches: Batch[] = [];
      for (let i = 0; i < refs.length; i += batchSize) {
        const chunk = refs.slice(i, i + batchSize);
        const y = Float32Array.from(chunk, (r) => r.stay.labels[r.t]!);
        batches.push({ x: encodeBatch(chunk, spec), y, weights: Float32Array.from(y, (l) => weight[l]!), size: chunk.length });
      }
      return batches;
    },
    validation: {
      labels: valLabels,
      *batches() {
        for (let i = 0; i < valRefs.length; i += 512) {
          const chunk = valRefs.slice(i, i + 512);
          yield { x: encodeBatch(chunk, spec), size: chunk.length };
        }
      },
    },
  });

  // Class weighting and negative subsampling inflate probabilities; recalibrate on validation, folded
  // into the output layer so the model itself emits calibrated probabilities.
  const rawVal = predictHours(model, spec, valRefs);
  const recalibration = recalibrationFit(valLabels, rawVal);
  foldRecalibration(model, recalibration.a, recalibration.b);
  const valScores = predictHours(model, spec, valRefs);

  // Logistic baseline on the last hour's encoding, same training patients (20 negative hours each).
  const lrRefs = sampleHours(seededRandom(seed + 7), 20);
  const lrLabels = lrRefs.map((r) => r.stay.labels[r.t]!);
  const lrPos = lrLabels.filter((l) => l === 1).length;
  const lrWeights = lrLabels.map((l) => (l === 1 ? lrRefs.length / (2 * lrPos) : lrRefs.length / (2 * (lrRefs.length - lrPos))));
  const lrRaw = fitLogistic(lrRefs.map((r) => lastHourFeatures(r, spec)), lrLabels, { l2: 10, sampleWeights: lrWeights });
  const lrValRaw = valRefs.map((r) => predictLogistic(lrRaw, lastHourFeatures(r, spec)));
  const lrCal = recalibrationFit(valLabels, lrValRaw);
  const baseline: LogisticModel = { ...lrRaw, intercept: lrCal.a + lrCal.b * lrRaw.intercept, weights: lrRaw.weights.map((w) => w * lrCal.b) };
  const baselineScores = (refs: HourRef[]) => refs.map((r) => predictLogistic(baseline, lastHourFeatures(r, spec)));
  const news2Scores = (refs: HourRef[]) => refs.map((r) => news2FromWindow(windowRows(r.stay, r.t, spec.windowHours)));

  const thresholds = chooseThresholds(valLabels, valScores, 0.8, 0.95);

  return {
    model,
    preprocess: spec,
    baseline,
    split,
    test,
    started,
    metrics: {
      modelId: DETERIORATION_MODEL_ID,
      seed,
      backend: backendName() ?? 'unknown',
      trainingSeconds: (Date.now() - started) / 1000,
      hyperparameters: {
        architecture,
        learningRate,
        batchSize,
        units: tcn ? tcn.filters : units,
        patchHours: PATCH_HOURS,
        inputDropout: INPUT_DROPOUT,
        dropout: DROPOUT,
        l2: L2,
        patience,
        ...(tcn ? { tcn } : {}),
        parameters: model.countParams(),
      },
      sampling: `Each epoch: every SepsisLabel=1 hour of every training patient plus ${negativesPerPatient} randomly drawn label-0 hours per training patient (seeded per epoch); balanced class weights in the loss. Validation and test: every hour of every patient.`,
      split: {
        patients: { train: train.length, validation: validation.length, test: test.length },
        sepsisPatients: { train: train.filter(isSepsisPatient).length, validation: validation.filter(isSepsisPatient).length, test: test.filter(isSepsisPatient).length },
      },
      training,
      recalibration,
      validation: { networkAuroc: auroc(valLabels, valScores), baselineAuroc: auroc(valLabels, baselineScores(valRefs)), news2Auroc: auroc(valLabels, news2Scores(valRefs)) },
      thresholds,
    },
  };
}

/** Fits on training + validation patients, then scores the test patients once (network, baseline, NEWS2). */
export async function trainDeterioration(stays: ReadonlyMap<string, Stay>, options: DeteriorationTrainOptions): Promise<DeteriorationTrained> {
  const fit = await fitDeterioration(stays, options);
  const { model, preprocess: spec, baseline, split, test } = fit;
  const { seed, bootstrapReplicates = 500 } = options;
  const baselineScores = (refs: HourRef[]) => refs.map((r) => predictLogistic(baseline, lastHourFeatures(r, spec)));
  const news2Scores = (refs: HourRef[]) => refs.map((r) => news2FromWindow(windowRows(r.stay, r.t, spec.windowHours)));

  const testRefs = allHours(test);
  const testLabels = testRefs.map((r) => r.stay.labels[r.t]!);
  const testScores = predictHours(model, spec, testRefs);
  const groups = {
    sex: testRefs.map((r) => r.stay.sex),
    age: testRefs.map((r) => r.stay.age),
    clusters: testRefs.map((r) => r.stay.id),
    replicates: bootstrapReplicates,
    seed,
  };
  const networkTest = evaluateProbabilities(testLabels, testScores, groups);
  // NEWS2 is a points score, not a probability: its AUROC/AUPRC are meaningful, Brier and calibration are
  // reported on score/20 only for completeness.
  const news2Test = evaluateProbabilities(testLabels, news2Scores(testRefs).map((s) => s / 20), groups);

  const q = await quantizedCopy(model, 'uint8');
  const qAuroc = auroc(testLabels, predictHours(q.model, spec, testRefs));
  q.model.dispose();
  const target = 0.8;
  const estimate = networkTest.overall.auroc.estimate;

  const metrics: DeteriorationMetrics = {
    ...fit.metrics,
    // Total time, test scoring and quantisation included.
    trainingSeconds: (Date.now() - fit.started) / 1000,
    split: { ...fit.metrics.split, testHours: testRefs.length, testPositiveHours: testLabels.filter((l) => l === 1).length },
    test: { network: networkTest, baseline: evaluateProbabilities(testLabels, baselineScores(testRefs), groups), news2: news2Test },
    target: { perHourAuroc: target, met: estimate >= target, shortfall: Math.max(0, target - estimate) },
    quantized: { quantization: 'uint8', weightBytes: q.weightBytes, float32WeightBytes: model.countParams() * 4, testAuroc: qAuroc, aurocDelta: qAuroc - estimate },
    fingerprint: testRefs.slice(0, 200).map((r, i) => ({ patient: r.stay.id, hour: r.t, probability: testScores[i]! })),
  };
  return { model, preprocess: spec, baseline, split, metrics };
}
