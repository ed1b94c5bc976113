/** What the model CDS services are given by createVigil (or a test): models, where records go, the explanation engine. */
import type { ExplanationEngine } from './engine.js';
import type { ModelProvider } from './model-provider.js';
import type { ExplanationStore } from './store.js';

export interface ModelServiceDeps {
  models: ModelProvider;
  explanations: ExplanationStore;
  /**
   * src/explain behind the explanation cache, shared with the precompute worker so the hook can serve
   * what was explained ahead of time. Default: a new engine per service (its own in-memory cache).
   */
  engine?: ExplanationEngine;
}
