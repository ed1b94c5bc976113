/**
 * Heart-disease classifier: a small MLP on the 13 UCI inputs (standardised, one-hot, missingness
 * indicators) with a logistic-regression baseline trained on the same encoding. Trained on Cleveland;
 * the fields other sites often lack (slope, ca, thal, chol, fbs) are randomly hidden during training so
 * the model degrades gracefully when they are missing.
 */
import type * as tfTypes from '@tensorflow/tfjs';
import { backendName, getTf } from '../backend/index.js';
import { encodeHeart, fitHeartEncoding, hideOftenMissing, OFTEN_MISSING, type HeartEncodingSpec, type HeartExample, type HeartRecord } from '../data/uci-heart.js';
import { stratifiedSplit, type PatientSplit } from '../data/split.js';
import { fitLogistic, predictLogistic, type LogisticModel } from '../logistic.js';
import { auroc, operatingPoint, thresholdForSensitivity, thresholdForSpecificity } from '../metrics.js';
import { seededRandom, shuffled } from '../random.js';
import { evaluateProbabilities, type EvaluationReport } from '../report.js';
import { predictFlat, trainLoop, type Batch, type ProgressEvent, type TrainResult } from '../training.js';
import type { Thresholds } from '../types.js';
import { quantizedCopy, type WeightQuantization } from '../io.js';

export const HEART_MODEL_ID = 'heart-disease';

export interface HeartTrainOptions {
  seed: number;
  epochs?: number;
  patience?: number;
  /** Probability of hiding each often-missing field per example per epoch. */
  inputDropout?: number;
  bootstrapReplicates?: number;
  onProgress?(event: ProgressEvent): void;
}

export interface QuantizedResult {
  quantization: WeightQuantization;
  weightBytes: number;
  float32WeightBytes: number;
  testAuroc: number;
  aurocDelta: number;
}

export interface HeartMetrics {
  modelId: string;
  seed: number;
  backend: string;
  trainingSeconds: number;
  split: { train: number; validation: number; test: number; positives: { train: number; validation: number; test: number } };
  training: TrainResult;
  validation: { mlpAuroc: number; baselineAuroc: number };
  test: { mlp: EvaluationReport; baseline: EvaluationReport };
  /** Test AUROC with slope, ca and thal hidden for everyone — the situation at sites that do not record them. */
  testWithoutSlopeCaThal: { mlpAuroc: number; baselineAuroc: number };
  thresholds: Thresholds;
  quantized: QuantizedResult;
}

export interface HeartTrained {
  model: tfTypes.LayersModel;
  preprocess: HeartEncodingSpec;
  baseline: LogisticModel;
  split: PatientSplit;
  metrics: HeartMetrics;
}

export function buildHeartMlp(inputs: number, seed: number): tfTypes.Sequential {
  const tf = getTf();
  const init = (s: number) => tf.initializers.glorotUniform({ seed: seed + s });
  const model = tf.sequential();
  model.add(tf.layers.dense({ inputShape: [inputs], units: 16, activation: 'relu', kernelInitializer: init(1), kernelRegularizer: tf.regularizers.l2({ l2: 1e-3 }) }));
  model.add(tf.layers.dropout({ rate: 0.2, seed: seed + 2 }));
  model.add(tf.layers.dense({ units: 8, activation: 'relu', kernelInitializer: init(3), kernelRegularizer: tf.regularizers.l2({ l2: 1e-3 }) }));
  model.add(tf.layers.dense({ units: 1, activation: 'sigmoid', kernelInitializer: init(4) }));
  return model;
}

function stack(rows: Float32Array[]): Float32Array {
  const width = rows[0]?.length ?? 0;
  const out = new Float32Array(rows.length * width);
  rows.forEach((r, i) => out.set(r, i * width));
  return out;
}

/** Probabilities for raw records with a trained MLP and its encoding. */
export function predictHeart(model: tfTypes.LayersModel, spec: HeartEncodingSpec, records: readonly HeartRecord[]): Float32Array {
  if (!records.length) return new Float32Array();
  return predictFlat(model, [spec.featureNames.length], stack(records.map((r) => encodeHeart(r, spec))), records.length);
}

const withoutSlopeCaThal = (r: HeartRecord): HeartRecord => ({ ...r, slope: NaN, ca: NaN, thal: NaN });

/**
 * Validation-chosen cut-offs: "moderate" is the highest cut-off keeping sensitivity ≥ `sensitivity`
 * (rule-out), "high" the lowest keeping specificity ≥ `specificity` (rule-in), never below moderate.
 */
export function chooseThresholds(labels: ArrayLike<number>, scores: ArrayLike<number>, sensitivity: number, specificity: number): Thresholds {
  const moderate = thresholdForSensitivity(labels, scores, sensitivity);
  const high = Math.max(moderate, thresholdForSpecificity(labels, scores, specificity));
  return {
    moderate,
    high,
    rule: `On the validation split: moderate = highest cut-off with sensitivity ≥ ${sensitivity * 100} %; high = lowest cut-off with specificity ≥ ${specificity * 100} % (not below moderate).`,
    validation: { moderate: operatingPoint(labels, scores, moderate), high: operatingPoint(labels, scores, high) },
  };
}

export async function trainHeartDisease(examples: readonly HeartExample[], options: HeartTrainOptions): Promise<HeartTrained> {
  const started = Date.now();
  const { seed, epochs = 200, patience = 30, inputDropout = 0.25, bootstrapReplicates = 1000 } = options;
  const split = stratifiedSplit(examples.map((e) => ({ id: e.id, positive: e.label === 1 })), seed, { train: 0.6, validation: 0.2, test: 0.2 });
  const byId = new Map(examples.map((e) => [e.id, e]));
  const part = (ids: string[]) => ids.map((id) => byId.get(id)!);
  const train = part(split.train);
  const validation = part(split.validation);
  const test = part(split.test);
  const spec = fitHeartEncoding(train.map((e) => e.record));
  const width = spec.featureNames.length;

  const positives = train.filter((e) => e.label === 1).length;
  const classWeight = [train.length / (2 * (train.length - positives)), train.length / (2 * positives)];

  const model = buildHeartMlp(width, seed);
  const batchSize = 32;
  const training = await trainLoop({
    model,
    inputShape: [width],
    epochs,
    patience,
    learningRate: 0.005,
    onProgress: options.onProgress,
    epochBatches(epoch) {
      const random = seededRandom(seed * 1000 + epoch);
      const order = shuffled(train, random);
      const batches: Batch[] = [];
      for (let i = 0; i < order.length; i += batchSize) {
        const chunk = order.slice(i, i + batchSize);
        batches.push({
          x: stack(chunk.map((e) => encodeHeart(hideOftenMissing(e.record, inputDropout, random), spec))),
          y: Float32Array.from(chunk, (e) => e.label),
          weights: Float32Array.from(chunk, (e) => classWeight[e.label]!),
          size: chunk.length,
        });
      }
      return batches;
    },
    validation: {
      labels: validation.map((e) => e.label),
      batches: () => [{ x: stack(validation.map((e) => encodeHeart(e.record, spec))), size: validation.length }],
    },
  });

  // The baseline sees the same encoding and the same kind of hidden fields (original + 3 augmented copies).
  const random = seededRandom(seed + 7);
  const lrRows: Float32Array[] = [];
  const lrLabels: number[] = [];
  for (const e of train) {
    lrRows.push(encodeHeart(e.record, spec));
    lrLabels.push(e.label);
    for (let k = 0; k < 3; k++) {
      lrRows.push(encodeHeart(hideOftenMissing(e.record, inputDropout, random), spec));
      lrLabels.push(e.label);
    }
  }
  const baseline = fitLogistic(lrRows, lrLabels, { l2: 4 });
  const baselineScores = (records: HeartRecord[]) => records.map((r) => predictLogistic(baseline, encodeHeart(r, spec)));

  const valLabels = validation.map((e) => e.label);
  const valScores = predictHeart(model, spec, validation.map((e) => e.record));
  const thresholds = chooseThresholds(valLabels, valScores, 0.95, 0.95);

  const testLabels = test.map((e) => e.label);
  const testRecords = test.map((e) => e.record);
  const testScores = predictHeart(model, spec, testRecords);
  const groups = { sex: testRecords.map((r) => r.sex), age: testRecords.map((r) => r.age), replicates: bootstrapReplicates, seed };

  const q = await quantizedCopy(model, 'uint8');
  const qAuroc = auroc(testLabels, predictHeart(q.model, spec, testRecords));
  q.model.dispose();
  const float32WeightBytes = model.countParams() * 4;
  const mlpAuroc = auroc(testLabels, testScores);

  const metrics: HeartMetrics = {
    modelId: HEART_MODEL_ID,
    seed,
    backend: backendName() ?? 'unknown',
    trainingSeconds: (Date.now() - started) / 1000,
    split: {
      train: train.length,
      validation: validation.length,
      test: test.length,
      positives: { train: positives, validation: valLabels.filter((l) => l === 1).length, test: testLabels.filter((l) => l === 1).length },
    },
    training,
    validation: { mlpAuroc: auroc(valLabels, valScores), baselineAuroc: auroc(valLabels, baselineScores(validation.map((e) => e.record))) },
    test: {
      mlp: evaluateProbabilities(testLabels, testScores, groups),
      baseline: evaluateProbabilities(testLabels, baselineScores(testRecords), groups),
    },
    testWithoutSlopeCaThal: {
      mlpAuroc: auroc(testLabels, predictHeart(model, spec, testRecords.map(withoutSlopeCaThal))),
      baselineAuroc: auroc(testLabels, baselineScores(testRecords.map(withoutSlopeCaThal))),
    },
    thresholds,
    quantized: { quantization: 'uint8', weightBytes: q.weightBytes, float32WeightBytes, testAuroc: qAuroc, aurocDelta: qAuroc - mlpAuroc },
  };
  return { model, preprocess: spec, baseline, split, metrics };
}

export { OFTEN_MISSING };
