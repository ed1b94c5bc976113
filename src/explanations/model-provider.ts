/**
 * How the model CDS services reach the model registry. The registry loads asynchronously at start-up
 * (src/app.ts) and may fail to load; services ask for a model through this provider and turn a
 * ModelUnavailableError into a "model unavailable" card instead of failing the hook call.
 */
import { VigilError } from '../errors.js';
import type { ModelRegistry, RegisteredModel } from '../models/index.js';

/** The model cannot be used right now (still loading, failed to load, or not shipped). */
export class ModelUnavailableError extends VigilError {
  override readonly status = 503;
  override readonly code = 'model_unavailable';
}

export interface ModelProvider {
  /** The current version of model `id`. @throws ModelUnavailableError */
  get<I>(id: string): Promise<RegisteredModel<I>>;
}

export interface ModelProviderOptions {
  /** Longest a call waits for a registry that is still loading. Default 5000 ms. */
  loadWaitMs?: number;
}

/** A provider over a registry that is loading (or has failed to load). */
export function modelProviderFrom(registry: Promise<ModelRegistry>, options: ModelProviderOptions = {}): ModelProvider {
  const loadWaitMs = options.loadWaitMs ?? 5000;
  let loaded: ModelRegistry | undefined;
  let failure: string | undefined;
  registry.then(
    (r) => {
      loaded = r;
    },
    (err: unknown) => {
      failure = err instanceof Error ? err.message : String(err);
    },
  );
  return {
    async get<I>(id: string): Promise<RegisteredModel<I>> {
      if (failure !== undefined) throw new ModelUnavailableError(`the models could not be loaded (${failure})`);
      let current = loaded;
      if (!current) {
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<undefined>((resolve) => {
          timer = setTimeout(() => resolve(undefined), loadWaitMs);
        });
        try {
          current = await Promise.race([registry, timeout]);
        } catch (err) {
          throw new ModelUnavailableError(`the models could not be loaded (${err instanceof Error ? err.message : String(err)})`);
        } finally {
          clearTimeout(timer);
        }
        if (!current) throw new ModelUnavailableError('the models are still loading');
      }
      if (!current.ids().includes(id)) {
        const broken = current.failures().get(id);
        throw new ModelUnavailableError(broken !== undefined ? `model ${id} could not be loaded (${broken})` : `model ${id} is not installed`);
      }
      return current.get(id) as unknown as RegisteredModel<I>;
    },
  };
}

/** A provider over an already opened registry (tests, tools). */
export function modelProviderOf(registry: ModelRegistry): ModelProvider {
  return modelProviderFrom(Promise.resolve(registry));
}
