/**
 * The rhythm network's training loop: each epoch draws fresh augmented windows from every training record
 * (seeded per epoch), minimises a class-weighted softmax cross-entropy with Adam, scores the validation
 * records as whole tracings (mean of window probabilities) and keeps the weights of the epoch with the best
 * validation Challenge F1 (mean F1 of N, A, O; ties go to the lower validation cross-entropy) or, with
 * selectBy 'loss', the lowest validation cross-entropy. Stops after `patience` epochs without improvement.
 *
 * Hybrid models (spec.rhythm): every training window carries its record's rhythm features (whole tracing,
 * computed once), jittered with Gaussian noise of `rhythmNoise` standardised units per window so the head
 * cannot key on the exact feature vector of each of the few training records.
 */
import type * as tfTypes from '@tensorflow/tfjs';
import { getTf } from '../backend/index.js';
import { seededRandom, shuffled } from '../random.js';
import { ECG_CLASSES, classIndex } from './classes.js';
import type { EcgRecord } from './data.js';
import { afVsNormalAuroc, challengeF1, argmax } from './metrics.js';
import { DEFAULT_AUGMENT, augmentedWindow, encodeRhythm, encodeTracing, rowWidth, type AugmentOptions, type EcgEncodingSpec } from './windows.js';

export interface EcgProgressEvent {
  epoch: number;
  epochs: number;
  batch: number;
  batches: number;
  loss: number;
  /** Set once the epoch's validation has run. */
  validationF1?: number;
  validationAfAuroc?: number;
}

export interface EcgEpochReport {
  epoch: number;
  loss: number;
  validationF1: number;
  validationLoss: number;
  /** AF-vs-normal AUROC of the validation tracings (reported, not used for stopping). */
  validationAfAuroc?: number;
  seconds: number;
}

export interface EcgTrainLoopOptions {
  network: tfTypes.LayersModel;
  spec: EcgEncodingSpec;
  /** Training records already at the model rate. */
  train: readonly EcgRecord[];
  validation: readonly EcgRecord[];
  seed: number;
  epochs: number;
  patience: number;
  learningRate: number;
  batchSize: number;
  windowsPerRecord: number;
  augment?: AugmentOptions;
  /**
   * Which validation figure picks the kept epoch: 'f1' (Challenge F1, ties to the lower loss; 1.0.0) or 'loss'
   * (unweighted mean cross-entropy of the validation tracings, ties to the higher F1). Default 'f1'.
   */
  selectBy?: 'f1' | 'loss';
  /** Hybrid only: SD of the Gaussian jitter added to the standardised rhythm cells of each training window. Default 0. */
  rhythmNoise?: number;
  onProgress?(event: EcgProgressEvent): void;
}

export interface EcgTrainResult {
  history: EcgEpochReport[];
  bestEpoch: number;
  bestValidationF1: number;
  classWeights: number[];
}

/** Balanced class weights n / (K · n_k) over records. */
export function balancedClassWeights(labels: readonly number[], classes = ECG_CLASSES.length): number[] {
  const counts = new Array<number>(classes).fill(0);
  labels.forEach((y) => counts[y]!++);
  return counts.map((c) => (c ? labels.length / (classes * c) : 0));
}

/** Mean window probabilities of each tracing (records at the model rate), batched across records. */
export function predictTracings(network: tfTypes.LayersModel, spec: EcgEncodingSpec, signals: readonly Float32Array[], maxBatch = 64): Float32Array[] {
  const tf = getTf();
  const K = ECG_CLASSES.length;
  const R = rowWidth(spec);
  const encoded = signals.map((s) => encodeTracing(s, spec));
  const owners: number[] = [];
  encoded.forEach((e, r) => e.starts.forEach(() => owners.push(r)));
  const all = new Float32Array(owners.length * R);
  let at = 0;
  for (const e of encoded) {
    all.set(e.windows, at);
    at += e.windows.length;
  }
  const sums = signals.map(() => new Float32Array(K));
  for (let start = 0; start < owners.length; start += maxBatch) {
    const n = Math.min(maxBatch, owners.length - start);
    const probs = tf.tidy(() => (network.predict(tf.tensor3d(all.subarray(start * R, (start + n) * R), [n, R, 1])) as tfTypes.Tensor).dataSync());
    for (let i = 0; i < n; i++) for (let k = 0; k < K; k++) sums[owners[start + i]!]![k]! += probs[i * K + k]!;
  }
  return sums.map((s, r) => s.map((v) => v / Math.max(1, encoded[r]!.starts.length)));
}

export async function trainEcgLoop(options: EcgTrainLoopOptions): Promise<EcgTrainResult> {
  const tf = getTf();
  const { network, spec } = options;
  const W = spec.windowSamples;
  const R = rowWidth(spec);
  const K = ECG_CLASSES.length;
  const augment = options.augment ?? DEFAULT_AUGMENT;
  const rhythmSpec = spec.rhythm;
  const rhythmCells = rhythmSpec ? options.train.map((r) => encodeRhythm(r.samples, spec.rateHz, rhythmSpec).cells) : [];
  const rhythmNoise = options.rhythmNoise ?? 0;
  const trainLabels = options.train.map((r) => classIndex(r.label));
  const classWeights = balancedClassWeights(trainLabels);
  const valLabels = options.validation.map((r) => classIndex(r.label));
  const optimizer = tf.train.adam(options.learningRate);
  const variables = network.trainableWeights.map((w) => w.read() as tfTypes.Variable);
  const history: EcgEpochReport[] = [];
  let best = { epoch: -1, f1: -Infinity, loss: Infinity, weights: [] as tfTypes.Tensor[] };
  for (let epoch = 1; epoch <= options.epochs; epoch++) {
    const started = Date.now();
    const random = seededRandom(options.seed * 1000 + epoch);
    const items = shuffled(
      options.train.flatMap((r, i) => Array.from({ length: options.windowsPerRecord }, () => i)),
      random,
    );
    const batches = Math.ceil(items.length / options.batchSize);
    let lossSum = 0;
    for (let b = 0; b < batches; b++) {
      const chunk = items.slice(b * options.batchSize, (b + 1) * options.batchSize);
      const x = new Float32Array(chunk.length * R);
      const y = new Float32Array(chunk.length * K);
      const w = new Float32Array(chunk.length);
      chunk.forEach((r, i) => {
        augmentedWindow(options.train[r]!.samples, spec, random, augment, x, i * R);
        if (rhythmSpec) {
          rhythmCells[r]!.forEach((v, j) => (x[i * R + W + j] = v + rhythmNoise * gaussian(random)));
        }
        y[i * K + trainLabels[r]!] = 1;
        w[i] = classWeights[trainLabels[r]!]!;
      });
      const loss = optimizer.minimize(
        () =>
          tf.tidy(() => {
            const logits = tf.log(tf.clipByValue(network.apply(tf.tensor3d(x, [chunk.length, R, 1]), { training: true }) as tfTypes.Tensor, 1e-7, 1));
            const ce = tf.neg(tf.sum(tf.mul(tf.tensor2d(y, [chunk.length, K]), logits), 1));
            const weights = tf.tensor1d(w);
            const reg = network.losses.length ? tf.addN(network.losses.map((l) => l() as tfTypes.Scalar)) : tf.scalar(0);
            return tf.add(tf.div(tf.sum(tf.mul(ce, weights)), tf.sum(weights)), reg) as tfTypes.Scalar;
          }),
        true,
        variables,
      );
      lossSum += loss ? (await loss.data())[0]! : NaN;
      loss?.dispose();
      options.onProgress?.({ epoch, epochs: options.epochs, batch: b + 1, batches, loss: lossSum / (b + 1) });
    }
    const probabilities = predictTracings(network, spec, options.validation.map((r) => r.samples));
    const validationF1 = challengeF1(valLabels, probabilities.map(argmax));
    const validationLoss = -valLabels.reduce((s, y, i) => s + Math.log(Math.max(1e-7, probabilities[i]![y]!)), 0) / Math.max(1, valLabels.length);
    const validationAfAuroc = afVsNormalAuroc(valLabels, probabilities);
    const report = { epoch, loss: lossSum / batches, validationF1, validationLoss, validationAfAuroc, seconds: (Date.now() - started) / 1000 };
    history.push(report);
    options.onProgress?.({ epoch, epochs: options.epochs, batch: batches, batches, loss: report.loss, validationF1, validationAfAuroc });
    const better =
      options.selectBy === 'loss'
        ? validationLoss < best.loss || (validationLoss === best.loss && validationF1 > best.f1)
        : validationF1 > best.f1 || (validationF1 === best.f1 && validationLoss < best.loss);
    if (better) {
      best.weights.forEach((t) => t.dispose());
      best = { epoch, f1: validationF1, loss: validationLoss, weights: network.getWeights().map((t) => t.clone()) };
    } else if (epoch - best.epoch >= options.patience) {
      break;
    }
  }
  network.setWeights(best.weights);
  best.weights.forEach((t) => t.dispose());
  optimizer.dispose();
  return { history, bestEpoch: best.epoch, bestValidationF1: best.f1, classWeights };
}

/** A standard normal draw (Box–Muller). */
function gaussian(random: () => number): number {
  return Math.sqrt(-2 * Math.log(Math.max(random(), 1e-12))) * Math.cos(2 * Math.PI * random());
}

/** `epoch  3/40 [#######-------] loss 0.9123 val F1(N,A,O) 0.712`. */
export function ecgProgressLine(e: EcgProgressEvent, width = 24): string {
  const filled = Math.round((e.batch / Math.max(1, e.batches)) * width);
  const epochs = String(e.epochs);
  const val =
    (e.validationF1 === undefined ? '' : ` val F1(N,A,O) ${e.validationF1.toFixed(3)}`) +
    (e.validationAfAuroc === undefined || Number.isNaN(e.validationAfAuroc) ? '' : ` AF-vs-N AUROC ${e.validationAfAuroc.toFixed(3)}`);
  return `epoch ${String(e.epoch).padStart(epochs.length)}/${epochs} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] loss ${e.loss.toFixed(4)}${val}`;
}
