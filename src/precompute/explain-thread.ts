/**
 * The explanation worker thread (node:worker_threads; started by ./thread-executor.ts). It opens its own
 * model registry on its own tfjs engine — the back end the main thread chose, forced by name — and for
 * each batch it is sent prepares the raw inputs again and runs explainPredictions, exactly what the main
 * thread would run. The main thread checks every record's data version against its own before caching it.
 * Nothing here logs: failures go back to the main thread as { name, message } (no patient data).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { explainableFromRegistered, explainPredictions } from '../explain/index.js';
import { backendName, openModelRegistry, type ModelRegistry, type RegisteredModel } from '../models/index.js';
import { analyseSamples } from '../cds-hooks/services/ecg-rhythm/analysis.js';
import type { EcgInput } from '../models/ecg/encoding.js';
import type { EcgThreadRequest, ThreadReply, ThreadRequest, ThreadSettings } from './thread-protocol.js';

async function modelAt(registry: ModelRegistry, id: string, version: string) {
  let model = registry.get(id);
  // The main thread hot-reloaded the model: load the same files here before explaining.
  if (model.manifest.version !== version) model = await registry.reload(id);
  if (model.manifest.version !== version) throw new Error(`model ${id} is version ${model.manifest.version} in the explanation thread, ${version} was asked for`);
  return model;
}

async function main(): Promise<void> {
  const port = parentPort;
  if (!port) throw new Error('explain-thread.ts runs only as a worker thread');
  const settings = workerData as ThreadSettings;
  const registry = await openModelRegistry({ backend: settings.backend, modelsDir: settings.modelsDir, modelMaxBatch: settings.maxBatch, modelMaxWaitMs: 0, wasmFastKernels: settings.wasmFastKernels === true });
  // Requests are handled one at a time, in arrival order (explainPredictions is synchronous).
  let chain = Promise.resolve();
  port.on('message', (request: ThreadRequest | EcgThreadRequest) => {
    chain = chain.then(async () => {
      let reply: ThreadReply;
      try {
        const started = performance.now();
        if ('kind' in request) {
          const model = await modelAt(registry, request.modelId, request.version);
          const ecg = analyseSamples(model as RegisteredModel as RegisteredModel<EcgInput>, request.samples, { explain: request.explain });
          reply = { id: request.id, ecg, version: model.manifest.version, ms: performance.now() - started };
          port.postMessage(reply);
          return;
        }
        const explainable = explainableFromRegistered(await modelAt(registry, request.modelId, request.version));
        const prepared = request.inputs.map((input) => explainable.prepare(input.value as never, input.provenance));
        let forward: { inputs: number; seconds: number } | undefined;
        const records = explainPredictions(explainable, prepared, { ...request.options, onForward: (inputs, seconds) => (forward = { inputs, seconds }) });
        reply = { id: request.id, records, ms: performance.now() - started, ...(forward ? { forward } : {}) };
      } catch (err) {
        reply = { id: request.id, error: { name: err instanceof Error ? err.name : typeof err, message: err instanceof Error ? err.message : String(err) } };
      }
      port.postMessage(reply);
    });
  });
  port.postMessage({ ready: true, backend: backendName() ?? 'unknown' } satisfies ThreadReply);
}

main().catch((err: unknown) => {
  parentPort?.postMessage({ failed: { name: err instanceof Error ? err.name : typeof err, message: err instanceof Error ? err.message : String(err) } } satisfies ThreadReply);
});
