/** Pure-JavaScript back end bundled with tfjs: always available, slowest (see runtime notes). */
import * as tf from '@tensorflow/tfjs';
import type { BackendAdapter } from './types.js';

export const cpuBackend: BackendAdapter = {
  name: 'cpu',
  activate: () => tf.setBackend('cpu'),
};
