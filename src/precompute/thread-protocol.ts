/** Messages between the main thread (./thread-executor.ts) and the explanation thread (./explain-thread.ts). */
import type { ExplanationRecord, Provenance } from '../explain/index.js';
import type { EngineExplainOptions } from '../explanations/engine.js';
import type { Config } from '../config.js';

/** workerData: what the thread needs to open the same models on the same back end. */
export interface ThreadSettings {
  backend: Config['backend'];
  modelsDir: string;
  maxBatch: number;
}

/** One batch of one model's inputs, raw (the thread prepares them again). */
export interface ThreadRequest {
  id: number;
  modelId: string;
  version: string;
  inputs: Array<{ value: unknown; provenance?: Provenance }>;
  options: EngineExplainOptions;
}

export type ThreadReply =
  | { ready: true; backend: string }
  /** The thread could not open its models. */
  | { failed: { name: string; message: string } }
  | { id: number; records: ExplanationRecord[]; ms: number }
  | { id: number; error: { name: string; message: string } };
