/**
 * One interface for the TensorFlow.js back ends Vigil can run on. Each adapter lives in its own file;
 * src/models/backend/index.ts is the one place that chooses among them.
 */

/** Back-end names as reported in logs, benchmarks and model metadata. */
export type BackendName = 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';

export const BACKEND_PREFERENCE: readonly BackendName[] = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];

export interface BackendAdapter {
  readonly name: BackendName;
  /**
   * Loads and activates the back end. Resolves true when tfjs now runs on it, false when it is not
   * available here (package missing, native library absent); never throws for mere absence.
   */
  activate(): Promise<boolean>;
}
