/** What the model CDS services are given by createVigil (or a test): models, where records go, the explainer. */
import type { Explainer } from './explainer.js';
import type { ModelProvider } from './model-provider.js';
import type { ExplanationStore } from './store.js';

export interface ModelServiceDeps {
  models: ModelProvider;
  explanations: ExplanationStore;
  /** Default: integratedGradientsExplainer() (src/explanations/integrated-gradients.ts). */
  explainer?: Explainer;
}
