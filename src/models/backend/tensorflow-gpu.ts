/** CUDA TensorFlow via `@tensorflow/tfjs-node-gpu` (optional dependency). */
import type { BackendAdapter } from './types.js';
import { activateNative } from './native.js';

export const tensorflowGpuBackend: BackendAdapter = {
  name: 'tensorflow-gpu',
  activate: () => activateNative('@tensorflow/tfjs-node-gpu'),
};
