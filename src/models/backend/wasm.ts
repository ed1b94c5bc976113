/**
 * WebAssembly back end (`@tensorflow/tfjs-backend-wasm`, SIMD, single thread in Node). The .wasm
 * binaries are read from the package's dist folder on disk, never fetched over the network.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import * as tfWasm from '@tensorflow/tfjs-backend-wasm';
import type { BackendAdapter } from './types.js';

/** Absolute folder holding tfjs-backend-wasm*.wasm, with the trailing separator setWasmPaths expects. */
export function wasmDistFolder(): string {
  const entry = createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm');
  return path.dirname(entry) + path.sep;
}

export const wasmBackend: BackendAdapter = {
  name: 'wasm',
  async activate() {
    try {
      tfWasm.setWasmPaths(wasmDistFolder());
      return await tf.setBackend('wasm');
    } catch {
      return false;
    }
  },
};
