/**
 * What the rest of Vigil uses from src/models: open the registry once at start-up, then
 * registry.get(id).predict(input). Explainers additionally use RegisteredModel.encode / network.
 */
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { initBackend } from './backend/index.js';
import { installFastWasmMatMul } from './backend/wasm-matmul.js';
import { installFastConvGradients } from './ecg/wasm-conv-grad.js';
import { ModelRegistry } from './registry.js';

export { ModelRegistry, type RegisteredModel, type Prediction } from './registry.js';
export { initBackend, backendName, getTf, type BackendName } from './backend/index.js';
export { buildDeteriorationWindow, type DeteriorationWindow, type RejectedObservation } from './features/deterioration-window.js';
export { heartInputFromFhir } from './features/heart-inputs.js';
export { BAND_INDICATOR, bandOf, type DeteriorationInput, type HeartDiseaseInput, type ModelManifest, type RiskBand, type Thresholds } from './types.js';
export type { ModelCard } from './model-card.js';

/**
 * Selects the TensorFlow.js back end (VIGIL_BACKEND) and loads every model under MODELS_DIR. With
 * `wasmFastKernels` (WASM_FAST_KERNELS, the serving process only: training does not come here) the wasm
 * gradient kernels are swapped for untransposed XNNPACK ones before any explanation runs.
 */
export async function openModelRegistry(
  config: Pick<Config, 'backend' | 'modelsDir' | 'modelMaxBatch' | 'modelMaxWaitMs'> & Partial<Pick<Config, 'wasmFastKernels'>>,
  logger?: Logger,
): Promise<ModelRegistry> {
  await initBackend({ force: config.backend === 'auto' ? undefined : config.backend, logger });
  if (config.wasmFastKernels) {
    installFastWasmMatMul();
    installFastConvGradients();
  }
  // A broken model folder must not take the others down (issue 9 §Faults); /readyz names it.
  return ModelRegistry.open({ dir: config.modelsDir, maxBatch: config.modelMaxBatch, maxWaitMs: config.modelMaxWaitMs, logger, brokenModels: 'skip' });
}
