/** Native CPU TensorFlow via `@tensorflow/tfjs-node` (optional dependency). */
import type { BackendAdapter } from './types.js';
import { activateNative } from './native.js';

export const tensorflowCpuBackend: BackendAdapter = {
  name: 'tensorflow',
  activate: () => activateNative('@tensorflow/tfjs-node'),
};
