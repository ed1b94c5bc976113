/** Messages between the main thread (./thread-executor.ts) and the explanation thread (./explain-thread.ts). */
import type { ExplanationRecord, Provenance } from '../explain/index.js';
import type { EngineExplainOptions } from '../explanations/engine.js';
import type { Config } from '../config.js';
import type { EcgAnalysis, EcgSamples } from '../cds-hooks/services/ecg-rhythm/analysis.js';

/** workerData: what the thread needs to open the same models on the same back end. */
export interface ThreadSettings {
  backend: Config['backend'];
  modelsDir: string;
  maxBatch: number;
  /** WASM_FAST_KERNELS, as the main thread runs them. */
  wasmFastKernels?: boolean;
}

/** One batch of one model's inputs, raw (the thread prepares them again). */
export interface ThreadRequest {
  id: number;
  modelId: string;
  version: string;
  inputs: Array<{ value: unknown; provenance?: Provenance }>;
  options: EngineExplainOptions;
}

/** One ECG tracing, decoded on the main thread (its Float32Array transferred), analysed with this model version. */
export interface EcgThreadRequest {
  id: number;
  kind: 'ecg';
  modelId: string;
  version: string;
  samples: EcgSamples;
  explain: boolean;
}

export type ThreadReply =
  | { ready: true; backend: string }
  /** The thread could not open its models. */
  | { failed: { name: string; message: string } }
  /** `forward`: the scoring pass within the batch, for the main thread's inference metrics. */
  | { id: number; records: ExplanationRecord[]; ms: number; forward?: { inputs: number; seconds: number } }
  /** An ECG analysis, with the model version it was computed with. */
  | { id: number; ecg: EcgAnalysis; version: string; ms: number }
  | { id: number; error: { name: string; message: string } };
