/**
 * The rhythm network: a small 1-D residual CNN (He et al. 2016, "Deep Residual Learning", §3.2 identity
 * and projection shortcuts) over one normalised window, global average pooling, and a dense layer to
 * the four Challenge classes. Sized for training on two CPU cores with the wasm back end (a few minutes);
 * the cost figures are in docs/models/ecg-rhythm.md.
 *
 * The last two layers are a linear dense layer (class logits) and a separate softmax, so explainers can
 * read the logits exactly (logitNetwork) instead of inverting a saturated softmax.
 *
 * Hybrid (rhythmFeatures > 0): one input row holds the window's samples followed by the tracing's
 * standardised rhythm features (windows.ts rowWidth); built-in reshape and cropping layers split it, so the model
 * stays a single-input LayersModel the registry, the explainers and the quantiser handle unchanged. The
 * pooled CNN embedding (after dropout) is concatenated with the features before the dense logits: a
 * linear late-fusion head, so each feature's effect on a class logit is one weight.
 */
import type * as tfTypes from '@tensorflow/tfjs';
import { getTf } from '../backend/index.js';
import { ECG_CLASSES } from './classes.js';

export interface EcgNetworkOptions {
  /** Samples per window. */
  windowSamples: number;
  /** Filters of the stem and of each residual stage. */
  filters?: readonly number[];
  /** Convolution width. */
  kernel?: number;
  dropout?: number;
  l2?: number;
  /** Rhythm features appended to each window row (0: signal-only CNN). */
  rhythmFeatures?: number;
  seed: number;
}

export const DEFAULT_FILTERS: readonly number[] = [16, 16, 24, 32, 48, 64];
export const LOGITS_LAYER = 'logits';

/** Builds the network; input [batch, windowSamples, 1] → softmax probabilities [batch, 4]. */
export function buildEcgNetwork(options: EcgNetworkOptions): tfTypes.LayersModel {
  const tf = getTf();
  const filters = options.filters ?? DEFAULT_FILTERS;
  const kernel = options.kernel ?? 7;
  const l2 = options.l2 ?? 1e-4;
  let seed = options.seed;
  const init = () => tf.initializers.heNormal({ seed: seed++ });
  const reg = () => tf.regularizers.l2({ l2 });
  const conv = (units: number, width: number, strides = 1) =>
    tf.layers.conv1d({ filters: units, kernelSize: width, strides, padding: 'same', useBias: false, kernelInitializer: init(), kernelRegularizer: reg() });
  const bn = () => tf.layers.batchNormalization({ momentum: 0.9 });
  const relu = () => tf.layers.activation({ activation: 'relu' });

  const F = options.rhythmFeatures ?? 0;
  const input = tf.input({ shape: [options.windowSamples + F, 1] });
  // tfjs has no Cropping1D: view the row as a one-column image and crop rows with Cropping2D.
  const asImage = F ? (tf.layers.reshape({ targetShape: [options.windowSamples + F, 1, 1] }).apply(input) as tfTypes.SymbolicTensor) : input;
  const crop = (top: number, bottom: number) => tf.layers.cropping2D({ cropping: [[top, bottom], [0, 0]] }).apply(asImage) as tfTypes.SymbolicTensor;
  const signal = F ? (tf.layers.reshape({ targetShape: [options.windowSamples, 1], name: 'signal' }).apply(crop(0, F)) as tfTypes.SymbolicTensor) : input;
  // Stem: a wide stride-2 convolution halves the length before the residual stages.
  let x = relu().apply(bn().apply(conv(filters[0]!, kernel * 2 + 1, 2).apply(signal))) as tfTypes.SymbolicTensor;
  let channels = filters[0]!;
  for (const units of filters.slice(1)) {
    let y = relu().apply(bn().apply(conv(units, kernel).apply(x))) as tfTypes.SymbolicTensor;
    y = bn().apply(conv(units, kernel).apply(y)) as tfTypes.SymbolicTensor;
    // Projection shortcut only where the channel count changes.
    const shortcut = units === channels ? x : (bn().apply(conv(units, 1).apply(x)) as tfTypes.SymbolicTensor);
    x = relu().apply(tf.layers.add().apply([y, shortcut])) as tfTypes.SymbolicTensor;
    x = tf.layers.maxPooling1d({ poolSize: 2 }).apply(x) as tfTypes.SymbolicTensor;
    channels = units;
  }
  x = tf.layers.globalAveragePooling1d().apply(x) as tfTypes.SymbolicTensor;
  x = tf.layers.dropout({ rate: options.dropout ?? 0.3, seed: seed++ }).apply(x) as tfTypes.SymbolicTensor;
  if (F) {
    const rhythm = tf.layers.flatten({ name: 'rhythm' }).apply(crop(options.windowSamples, 0)) as tfTypes.SymbolicTensor;
    x = tf.layers.concatenate({ name: 'fusion' }).apply([x, rhythm]) as tfTypes.SymbolicTensor;
  }
  const logits = tf.layers
    .dense({ units: ECG_CLASSES.length, name: LOGITS_LAYER, kernelInitializer: tf.initializers.glorotUniform({ seed: seed++ }), ...(F ? { kernelRegularizer: reg() } : {}) })
    .apply(x) as tfTypes.SymbolicTensor;
  const output = tf.layers.activation({ activation: 'softmax' }).apply(logits) as tfTypes.SymbolicTensor;
  return tf.model({ inputs: input, outputs: output });
}

/** The same network up to its class logits (shares weights with `network`). */
export function logitNetwork(network: tfTypes.LayersModel): tfTypes.LayersModel {
  const tf = getTf();
  const layer = network.layers.find((l) => l.name === LOGITS_LAYER) ?? network.layers[network.layers.length - 2]!;
  return tf.model({ inputs: network.inputs, outputs: layer.output as tfTypes.SymbolicTensor });
}
