/**
 * ECG rhythm model (issue 10): 1-D residual CNN over 10-second windows of a single-lead ECG, trained on the
 * 200 PhysioNet/CinC 2017 development records with a record-level stratified split, compared on the same
 * test records with an R-peak/RR-irregularity softmax regression. Everything a model folder holds comes
 * from one call of trainEcg.
 */
import type * as tfTypes from '@tensorflow/tfjs';
import { backendName } from '../backend/index.js';
import { quantizedCopy } from '../io.js';
import { ECG_CLASSES, classIndex } from './classes.js';
import { stratifiedRecordSplit, type EcgRecord, type RecordSplit } from './data.js';
import { multiclassReport, argmax, type MulticlassReport } from './metrics.js';
import { buildEcgNetwork, DEFAULT_FILTERS } from './network.js';
import { RR_FEATURES, rrFeatures } from './rpeaks.js';
import { fitSoftmax, predictSoftmax, type SoftmaxModel } from './softmax-regression.js';
import { balancedClassWeights, predictTracings, trainEcgLoop, type EcgProgressEvent, type EcgTrainResult } from './train.js';
import { installFastConvGradients } from './wasm-conv-grad.js';
import { DEFAULT_AUGMENT, defaultEcgSpec, toModelRate, type EcgEncodingSpec } from './windows.js';

export const ECG_MODEL_ID = 'ecg-rhythm';

export interface EcgTrainOptions {
  seed: number;
  epochs?: number;
  patience?: number;
  rateHz?: number;
  windowSeconds?: number;
  windowsPerRecord?: number;
  batchSize?: number;
  learningRate?: number;
  filters?: readonly number[];
  bootstrapReplicates?: number;
  onProgress?(event: EcgProgressEvent): void;
}

export interface EcgMetrics {
  modelId: string;
  seed: number;
  backend: string;
  trainingSeconds: number;
  hyperparameters: {
    rateHz: number;
    windowSeconds: number;
    windowsPerRecord: number;
    batchSize: number;
    learningRate: number;
    filters: number[];
    augment: typeof DEFAULT_AUGMENT;
    patience: number;
    parameters: number;
  };
  split: { records: Record<'train' | 'validation' | 'test', Record<string, number>> };
  training: EcgTrainResult;
  validation: { cnnChallengeF1: number; baselineChallengeF1: number };
  test: { cnn: MulticlassReport; baseline: MulticlassReport };
  target: { afVsNormalAuroc: number; met: boolean; shortfall: number };
  quantized: { quantization: 'uint8'; weightBytes: number; float32WeightBytes: number; challengeF1: number; challengeF1Delta: number; afVsNormalAuroc: number; afVsNormalAurocDelta: number; agreement: number };
  /** Test-record probabilities, so a test can check the committed weights are the ones these metrics describe. */
  fingerprint: Array<{ record: string; probabilities: number[] }>;
}

export interface EcgTrained {
  model: tfTypes.LayersModel;
  preprocess: EcgEncodingSpec;
  baseline: SoftmaxModel;
  split: RecordSplit;
  metrics: EcgMetrics;
}

function countByClass(records: readonly EcgRecord[]): Record<string, number> {
  return Object.fromEntries(ECG_CLASSES.map((c) => [c, records.filter((r) => r.label === c).length]));
}

export async function trainEcg(records: readonly EcgRecord[], options: EcgTrainOptions): Promise<EcgTrained> {
  const started = Date.now();
  installFastConvGradients();
  const {
    seed,
    epochs = 30,
    patience = 8,
    rateHz = 150,
    windowSeconds = 10,
    windowsPerRecord = 4,
    batchSize = 32,
    learningRate = 0.001,
    filters = DEFAULT_FILTERS,
    bootstrapReplicates = 1000,
  } = options;
  const spec = defaultEcgSpec(rateHz, windowSeconds);
  const split = stratifiedRecordSplit(records, seed);
  const byId = new Map(records.map((r) => [r.id, r]));
  const atRate = (ids: string[]) =>
    ids.map((id) => {
      const r = byId.get(id)!;
      return { ...r, fs: spec.rateHz, samples: toModelRate(r.samples, r.fs, spec) };
    });
  const train = atRate(split.train);
  const validation = atRate(split.validation);
  const test = atRate(split.test);

  const network = buildEcgNetwork({ windowSamples: spec.windowSamples, filters, seed });
  const training = await trainEcgLoop({
    network,
    spec,
    train,
    validation,
    seed,
    epochs,
    patience,
    learningRate,
    batchSize,
    windowsPerRecord,
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  });

  const labelsOf = (rs: readonly EcgRecord[]) => rs.map((r) => classIndex(r.label));
  const valProbs = predictTracings(network, spec, validation.map((r) => r.samples));
  const testProbs = predictTracings(network, spec, test.map((r) => r.samples));
  const boot = { replicates: bootstrapReplicates, seed };

  // Baseline: RR-irregularity features on the original-rate signal, class-balanced softmax regression.
  const features = (ids: string[]) => ids.map((id) => rrFeatures(byId.get(id)!.samples, byId.get(id)!.fs));
  const trainLabels = labelsOf(train);
  const baseline = fitSoftmax(features(split.train), trainLabels, { classes: ECG_CLASSES.length, classWeights: balancedClassWeights(trainLabels), l2: 0.01 });
  const baseProbs = (ids: string[]) => features(ids).map((f) => predictSoftmax(baseline, f));
  const valBase = baseProbs(split.validation);
  const testBase = baseProbs(split.test);

  const cnnTest = multiclassReport(labelsOf(test), testProbs, boot);
  const baselineTest = multiclassReport(labelsOf(test), testBase, boot);

  const q = await quantizedCopy(network, 'uint8');
  const qProbs = predictTracings(q.model, spec, test.map((r) => r.samples));
  q.model.dispose();
  const qReport = multiclassReport(labelsOf(test), qProbs, { replicates: 1, seed });
  const agreement = qProbs.filter((p, i) => argmax(p) === argmax(testProbs[i]!)).length / Math.max(1, qProbs.length);

  const target = 0.95;
  const af = cnnTest.aurocAfVsNormal.estimate;
  const metrics: EcgMetrics = {
    modelId: ECG_MODEL_ID,
    seed,
    backend: backendName() ?? 'unknown',
    trainingSeconds: (Date.now() - started) / 1000,
    hyperparameters: {
      rateHz,
      windowSeconds,
      windowsPerRecord,
      batchSize,
      learningRate,
      filters: [...filters],
      augment: DEFAULT_AUGMENT,
      patience,
      parameters: network.countParams(),
    },
    split: { records: { train: countByClass(train), validation: countByClass(validation), test: countByClass(test) } },
    training,
    validation: {
      cnnChallengeF1: multiclassReport(labelsOf(validation), valProbs, { replicates: 1 }).challengeF1,
      baselineChallengeF1: multiclassReport(labelsOf(validation), valBase, { replicates: 1 }).challengeF1,
    },
    test: { cnn: cnnTest, baseline: baselineTest },
    target: { afVsNormalAuroc: target, met: af >= target, shortfall: Math.max(0, target - af) },
    quantized: {
      quantization: 'uint8',
      weightBytes: q.weightBytes,
      float32WeightBytes: network.countParams() * 4,
      challengeF1: qReport.challengeF1,
      challengeF1Delta: qReport.challengeF1 - cnnTest.challengeF1,
      afVsNormalAuroc: qReport.aurocAfVsNormal.estimate,
      afVsNormalAurocDelta: qReport.aurocAfVsNormal.estimate - af,
      agreement,
    },
    fingerprint: test.map((r, i) => ({ record: r.id, probabilities: Array.from(testProbs[i]!) })),
  };
  return { model: network, preprocess: spec, baseline, split, metrics };
}

export { RR_FEATURES };
