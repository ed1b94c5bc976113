/**
 * Chooses the TensorFlow.js back end once per process: tensorflow-gpu → tensorflow (CPU) → wasm → cpu,
 * the first that loads, unless VIGIL_BACKEND forces one. Models and explainers call getTf() and never
 * import a back end themselves.
 */
import * as tf from '@tensorflow/tfjs';
import type { Logger } from '../../logger.js';
import { ServiceUnavailableError } from '../../errors.js';
import { BACKEND_PREFERENCE, type BackendAdapter, type BackendName } from './types.js';
import { tensorflowGpuBackend } from './tensorflow-gpu.js';
import { tensorflowCpuBackend } from './tensorflow-cpu.js';
import { wasmBackend } from './wasm.js';
import { cpuBackend } from './cpu.js';

export type { BackendName } from './types.js';
export { BACKEND_PREFERENCE } from './types.js';

/** The tfjs namespace type, so callers can type tensors and layers without importing tfjs directly. */
export type Tf = typeof tf;

export const ADAPTERS: Readonly<Record<BackendName, BackendAdapter>> = {
  'tensorflow-gpu': tensorflowGpuBackend,
  tensorflow: tensorflowCpuBackend,
  wasm: wasmBackend,
  cpu: cpuBackend,
};

export interface InitBackendOptions {
  /** A back end to use instead of the preference order (config.backend, from VIGIL_BACKEND). */
  force?: BackendName;
  logger?: Pick<Logger, 'info' | 'warn'>;
  /** Adapters to try, for tests; defaults to ADAPTERS. */
  adapters?: Readonly<Record<BackendName, BackendAdapter>>;
}

export function isBackendName(value: string): value is BackendName {
  return (BACKEND_PREFERENCE as readonly string[]).includes(value);
}

let active: BackendName | undefined;
let pending: Promise<BackendName> | undefined;

async function choose(options: InitBackendOptions): Promise<BackendName> {
  const adapters = options.adapters ?? ADAPTERS;
  const order = options.force ? [options.force] : BACKEND_PREFERENCE;
  const skipped: BackendName[] = [];
  for (const name of order) {
    if (await adapters[name].activate()) {
      await tf.ready();
      options.logger?.info({ backend: name, forced: Boolean(options.force), skipped }, 'tensorflow.js backend selected');
      return name;
    }
    skipped.push(name);
  }
  // Only reachable when a forced back end is unavailable: refuse rather than silently run elsewhere.
  throw new ServiceUnavailableError(`TensorFlow.js backend "${order.join(', ')}" could not be loaded`);
}

/**
 * Selects and activates the back end. Idempotent: later calls return the first call's choice (the
 * process has one tfjs engine). Throws ServiceUnavailableError when a forced back end cannot load.
 */
export function initBackend(options: InitBackendOptions = {}): Promise<BackendName> {
  pending ??= choose(options).then(
    (name) => (active = name),
    (err: unknown) => {
      pending = undefined;
      throw err;
    },
  );
  return pending;
}

/** Forgets the choice so the next initBackend() chooses again (tests only). */
export function resetBackendForTests(): void {
  active = undefined;
  pending = undefined;
}

/** The tfjs namespace, bound to whichever back end initBackend() selected. */
export function getTf(): Tf {
  return tf;
}

/** The selected back end, or undefined before initBackend() has resolved. */
export function backendName(): BackendName | undefined {
  return active;
}
