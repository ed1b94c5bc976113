/**
 * The training loop both neural models share: mini-batch Adam on a class-weighted binary cross-entropy,
 * validation AUROC after every epoch, early stopping with the best epoch's weights restored.
 */
import type * as tfTypes from '@tensorflow/tfjs';
import { getTf } from './backend/index.js';
import { auroc } from './metrics.js';

export interface Batch {
  /** Flattened inputs, batch × inputShape. */
  x: Float32Array;
  y: Float32Array;
  /** Per-example loss weights (class weighting). */
  weights: Float32Array;
  size: number;
}

export interface EpochReport {
  epoch: number;
  loss: number;
  validationAuroc: number;
  seconds: number;
}

export interface ProgressEvent {
  epoch: number;
  epochs: number;
  batch: number;
  batches: number;
  loss: number;
  /** Set once the epoch's validation has run. */
  validationAuroc?: number;
}

export interface TrainLoopOptions {
  model: tfTypes.LayersModel;
  /** Shape of one example, e.g. [31] or [48, 104]. */
  inputShape: number[];
  epochs: number;
  /** Epochs without a better validation AUROC before stopping. */
  patience: number;
  learningRate: number;
  /** The batches of one epoch (the caller shuffles and subsamples with its own seeded generator). */
  epochBatches(epoch: number): Batch[];
  /** Validation labels and the inputs to score, in batches. */
  validation: { labels: ArrayLike<number>; batches(): Iterable<{ x: Float32Array; size: number }> };
  onProgress?(event: ProgressEvent): void;
}

export interface TrainResult {
  history: EpochReport[];
  bestEpoch: number;
  bestValidationAuroc: number;
}

/** Probabilities for a flat batch of inputs. */
export function predictFlat(model: tfTypes.LayersModel, inputShape: number[], x: Float32Array, size: number): Float32Array {
  const tf = getTf();
  return tf.tidy(() => {
    const out = model.predict(tf.tensor(x, [size, ...inputShape])) as tfTypes.Tensor;
    return out.dataSync() as Float32Array;
  });
}

function scoreValidation(model: tfTypes.LayersModel, options: TrainLoopOptions): number {
  const scores: number[] = [];
  for (const b of options.validation.batches()) scores.push(...predictFlat(model, options.inputShape, b.x, b.size));
  return auroc(options.validation.labels, scores);
}

export async function trainLoop(options: TrainLoopOptions): Promise<TrainResult> {
  const tf = getTf();
  const { model } = options;
  const optimizer = tf.train.adam(options.learningRate);
  const variables = model.trainableWeights.map((w) => w.read() as tfTypes.Variable);
  const history: EpochReport[] = [];
  let best = { epoch: -1, auroc: -Infinity, weights: [] as tfTypes.Tensor[] };
  for (let epoch = 1; epoch <= options.epochs; epoch++) {
    const started = Date.now();
    const batches = options.epochBatches(epoch);
    let lossSum = 0;
    let weightSum = 0;
    for (let i = 0; i < batches.length; i++) {
      const b = batches[i]!;
      const loss = optimizer.minimize(
        () =>
          tf.tidy(() => {
            const x = tf.tensor(b.x, [b.size, ...options.inputShape]);
            const y = tf.tensor2d(b.y, [b.size, 1]);
            const w = tf.tensor2d(b.weights, [b.size, 1]);
            const p = (model.apply(x, { training: true }) as tfTypes.Tensor).clipByValue(1e-6, 1 - 1e-6);
            const bce = y.mul(p.log()).add(tf.scalar(1).sub(y).mul(tf.scalar(1).sub(p).log())).neg();
            // Regularisation losses (L2 kernels) are added by the layers themselves.
            const reg = model.losses.length ? tf.addN(model.losses.map((loss) => loss())) : tf.scalar(0);
            return bce.mul(w).sum().div(w.sum()).add(reg) as tfTypes.Scalar;
          }),
        true,
        variables,
      );
      const value = loss ? (await loss.data())[0]! : NaN;
      loss?.dispose();
      lossSum += value * b.size;
      weightSum += b.size;
      options.onProgress?.({ epoch, epochs: options.epochs, batch: i + 1, batches: batches.length, loss: lossSum / weightSum });
    }
    const validationAuroc = scoreValidation(model, options);
    const report = { epoch, loss: lossSum / weightSum, validationAuroc, seconds: (Date.now() - started) / 1000 };
    history.push(report);
    options.onProgress?.({ epoch, epochs: options.epochs, batch: batches.length, batches: batches.length, loss: report.loss, validationAuroc });
    if (validationAuroc > best.auroc) {
      best.weights.forEach((t) => t.dispose());
      best = { epoch, auroc: validationAuroc, weights: model.getWeights().map((t) => t.clone()) };
    } else if (epoch - best.epoch >= options.patience) {
      break;
    }
  }
  model.setWeights(best.weights);
  best.weights.forEach((t) => t.dispose());
  optimizer.dispose();
  return { history, bestEpoch: best.epoch, bestValidationAuroc: best.auroc };
}

/** One line of the CLI progress bar: `epoch  3/40 [#######-------] loss 0.4123 val AUROC 0.812`. */
export function progressLine(e: ProgressEvent, width = 24): string {
  const filled = Math.round((e.batch / Math.max(1, e.batches)) * width);
  const bar = '#'.repeat(filled) + '-'.repeat(width - filled);
  const epochs = String(e.epochs);
  const val = e.validationAuroc === undefined ? '' : ` val AUROC ${e.validationAuroc.toFixed(3)}`;
  return `epoch ${String(e.epoch).padStart(epochs.length)}/${epochs} [${bar}] loss ${e.loss.toFixed(4)}${val}`;
}

/**
 * Folds a logistic recalibration p' = σ(a + b·logit(p)) into a model whose last layer is a dense layer
 * with sigmoid activation: kernel ← b·kernel, bias ← a + b·bias. Exact, and keeps the model's output the
 * calibrated probability that explanations then attribute.
 */
export function foldRecalibration(model: tfTypes.LayersModel, a: number, b: number): void {
  const tf = getTf();
  const last = model.layers[model.layers.length - 1]!;
  const [kernel, bias] = last.getWeights();
  if (!kernel || !bias) throw new Error('last layer has no kernel and bias');
  const next = tf.tidy(() => [kernel.mul(b), bias.mul(b).add(a)]);
  last.setWeights(next);
  next.forEach((t) => t.dispose());
}
