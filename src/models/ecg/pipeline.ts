/**
 * ECG rhythm model (issue 10): 1-D residual CNN over 10-second windows of a single-lead ECG — from 2.0.0 a
 * hybrid whose dense head also sees the tracing's rhythm-irregularity features — trained on the 200
 * PhysioNet/CinC 2017 development records with a record-level stratified split, compared on the same test
 * records with an R-peak/RR-irregularity softmax regression. Everything a model folder holds comes from one
 * call of trainEcg; fitEcg alone (validation figures only) is what configurations are compared with.
 */
import type * as tfTypes from '@tensorflow/tfjs';
import { backendName } from '../backend/index.js';
import { quantizedCopy } from '../io.js';
import { ECG_CLASSES, classIndex } from './classes.js';
import { stratifiedRecordSplit, type EcgRecord, type RecordSplit } from './data.js';
import type { EcgHistoryEntry } from './history.js';
import { afVsNormalAuroc, multiclassReport, argmax, type MulticlassReport } from './metrics.js';
import { buildEcgNetwork, DEFAULT_FILTERS } from './network.js';
import { RHYTHM_FEATURES, RR_FEATURES, rhythmFeatures, rrFeatures } from './rpeaks.js';
import { fitSoftmax, predictSoftmax, type SoftmaxModel } from './softmax-regression.js';
import { balancedClassWeights, predictTracings, trainEcgLoop, type EcgProgressEvent, type EcgTrainResult } from './train.js';
import { installFastConvGradients } from './wasm-conv-grad.js';
import { DEFAULT_AUGMENT, defaultEcgSpec, toModelRate, type EcgEncodingSpec, type RhythmSpec } from './windows.js';

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
  /** Hybrid network: rhythm features beside the signal (default true); false trains the signal-only CNN. */
  rhythm?: boolean;
  /** Hybrid only: jitter of the standardised rhythm cells per training window. Default 0.3 (chosen on validation; docs/models/ecg-rhythm.md). */
  rhythmNoise?: number;
  /** Validation figure that picks the kept epoch (train.ts). Default 'f1'. */
  selectBy?: 'f1' | 'loss';
  /** Clip of the standardised rhythm cells. Default 5. */
  rhythmClip?: number;
  bootstrapReplicates?: number;
  /** Earlier configurations (models/ecg-rhythm/history.json), carried into metrics.json and the card. */
  history?: EcgHistoryEntry[];
  onProgress?(event: EcgProgressEvent): void;
}

export interface EcgMetrics {
  modelId: string;
  seed: number;
  backend: string;
  trainingSeconds: number;
  hyperparameters: {
    /** "hybrid": CNN embedding + rhythm features → dense; "cnn": signal only. Absent in 1.0.0 (cnn). */
    architecture?: 'hybrid' | 'cnn';
    rateHz: number;
    windowSeconds: number;
    windowsPerRecord: number;
    batchSize: number;
    learningRate: number;
    filters: number[];
    augment: typeof DEFAULT_AUGMENT;
    patience: number;
    parameters: number;
    /** Validation figure that picked the kept epoch; absent in 1.0.0 (f1). */
    selectBy?: 'f1' | 'loss';
    rhythmFeatures?: string[];
    rhythmNoise?: number;
  };
  split: { records: Record<'train' | 'validation' | 'test', Record<string, number>> };
  training: EcgTrainResult;
  validation: { cnnChallengeF1: number; baselineChallengeF1: number; cnnAfVsNormalAuroc?: number; baselineAfVsNormalAuroc?: number };
  /** `cnn` is the shipped network (the hybrid from 2.0.0 on; the key is kept for readers of 1.0.0 files). */
  test: { cnn: MulticlassReport; baseline: MulticlassReport };
  target: { afVsNormalAuroc: number; met: boolean; shortfall: number };
  quantized: { quantization: 'uint8'; weightBytes: number; float32WeightBytes: number; challengeF1: number; challengeF1Delta: number; afVsNormalAuroc: number; afVsNormalAurocDelta: number; agreement: number };
  /** Test-record probabilities, so a test can check the committed weights are the ones these metrics describe. */
  fingerprint: Array<{ record: string; probabilities: number[] }>;
  history?: EcgHistoryEntry[];
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

/** Training-record statistics of the rhythm features at the model rate (the hybrid's standardisation). */
export function rhythmSpecOf(train: readonly EcgRecord[], rateHz: number, clip = 5): RhythmSpec {
  const rows = train.map((r) => rhythmFeatures(r.samples, rateHz));
  const means = RHYTHM_FEATURES.map((_, j) => rows.reduce((s, row) => s + row[j]!, 0) / rows.length);
  const sds = RHYTHM_FEATURES.map((_, j) => Math.sqrt(rows.reduce((s, row) => s + (row[j]! - means[j]!) ** 2, 0) / rows.length) || 1);
  return { features: [...RHYTHM_FEATURES], means, sds, clip };
}

/** What fitEcg returns: the trained network and everything measured without touching the test records. */
export interface EcgFitted {
  network: tfTypes.LayersModel;
  spec: EcgEncodingSpec;
  split: RecordSplit;
  baseline: SoftmaxModel;
  training: EcgTrainResult;
  validation: EcgMetrics['validation'];
  hyperparameters: EcgMetrics['hyperparameters'];
  started: number;
}

/**
 * Trains the network and the RR baseline on the training records and scores both on the validation
 * records only. Configurations are compared with this (the test records are never read here).
 */
export async function fitEcg(records: readonly EcgRecord[], options: EcgTrainOptions): Promise<EcgFitted> {
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
    rhythm = true,
    rhythmNoise = 0.3,
    rhythmClip = 5,
    selectBy = 'f1',
  } = options;
  const split = stratifiedRecordSplit(records, seed);
  const byId = new Map(records.map((r) => [r.id, r]));
  const base = defaultEcgSpec(rateHz, windowSeconds);
  const atRate = (ids: string[]) =>
    ids.map((id) => {
      const r = byId.get(id)!;
      return { ...r, fs: base.rateHz, samples: toModelRate(r.samples, r.fs, base) };
    });
  const train = atRate(split.train);
  const validation = atRate(split.validation);
  const spec: EcgEncodingSpec = rhythm ? { ...base, rhythm: rhythmSpecOf(train, base.rateHz, rhythmClip), featureNames: ['ecg', ...RHYTHM_FEATURES] } : base;

  const network = buildEcgNetwork({ windowSamples: spec.windowSamples, filters, seed, rhythmFeatures: spec.rhythm?.features.length ?? 0 });
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
    rhythmNoise,
    selectBy,
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  });

  const valLabels = validation.map((r) => classIndex(r.label));
  const valProbs = predictTracings(network, spec, validation.map((r) => r.samples));
  // Baseline: RR-irregularity features on the original-rate signal, class-balanced softmax regression.
  const features = (ids: string[]) => ids.map((id) => rrFeatures(byId.get(id)!.samples, byId.get(id)!.fs));
  const trainLabels = train.map((r) => classIndex(r.label));
  const baseline = fitSoftmax(features(split.train), trainLabels, { classes: ECG_CLASSES.length, classWeights: balancedClassWeights(trainLabels), l2: 0.01 });
  const valBase = features(split.validation).map((f) => predictSoftmax(baseline, f));
  return {
    network,
    spec,
    split,
    baseline,
    training,
    started,
    validation: {
      cnnChallengeF1: multiclassReport(valLabels, valProbs, { replicates: 1 }).challengeF1,
      baselineChallengeF1: multiclassReport(valLabels, valBase, { replicates: 1 }).challengeF1,
      cnnAfVsNormalAuroc: afVsNormalAuroc(valLabels, valProbs),
      baselineAfVsNormalAuroc: afVsNormalAuroc(valLabels, valBase),
    },
    hyperparameters: {
      architecture: rhythm ? 'hybrid' : 'cnn',
      rateHz,
      windowSeconds,
      windowsPerRecord,
      batchSize,
      learningRate,
      filters: [...filters],
      augment: DEFAULT_AUGMENT,
      patience,
      parameters: network.countParams(),
      selectBy,
      ...(rhythm ? { rhythmFeatures: [...RHYTHM_FEATURES], rhythmNoise } : {}),
    },
  };
}

/** Scores a fitted configuration on the test records (once per shipped configuration) and its uint8 copy. */
export async function scoreEcg(records: readonly EcgRecord[], fitted: EcgFitted, options: Pick<EcgTrainOptions, 'seed' | 'bootstrapReplicates' | 'history'>): Promise<EcgTrained> {
  const { network, spec, split, baseline, seed = options.seed } = { ...fitted, seed: options.seed };
  const byId = new Map(records.map((r) => [r.id, r]));
  const atRate = (ids: string[]) =>
    ids.map((id) => {
      const r = byId.get(id)!;
      return { ...r, fs: spec.rateHz, samples: toModelRate(r.samples, r.fs, spec) };
    });
  const train = atRate(split.train);
  const validation = atRate(split.validation);
  const test = atRate(split.test);
  const labelsOf = (rs: readonly EcgRecord[]) => rs.map((r) => classIndex(r.label));
  const boot = { replicates: options.bootstrapReplicates ?? 1000, seed };
  const testProbs = predictTracings(network, spec, test.map((r) => r.samples));
  const testBase = split.test.map((id) => predictSoftmax(baseline, rrFeatures(byId.get(id)!.samples, byId.get(id)!.fs)));
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
    trainingSeconds: (Date.now() - fitted.started) / 1000,
    hyperparameters: fitted.hyperparameters,
    split: { records: { train: countByClass(train), validation: countByClass(validation), test: countByClass(test) } },
    training: fitted.training,
    validation: fitted.validation,
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
    ...(options.history ? { history: options.history } : {}),
  };
  return { model: network, preprocess: spec, baseline, split, metrics };
}

/** fitEcg then scoreEcg: what `npm run train -- --model ecg-rhythm` runs. */
export async function trainEcg(records: readonly EcgRecord[], options: EcgTrainOptions): Promise<EcgTrained> {
  return scoreEcg(records, await fitEcg(records, options), options);
}

export { RR_FEATURES };
