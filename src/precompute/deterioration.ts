/**
 * Scores and explains one patient with the deterioration model ahead of time, exactly as the
 * vigil-deterioration hook would on the same data: the service's prefetch templates filled for the
 * patient and read from the FHIR source, then the hook's own steps (src/cds-hooks/services/deterioration/
 * pipeline.ts). The result lands in the explanation engine's cache under (patient, model version, data
 * version); the hook serves it only when the data it receives hash to the same version.
 */
import type { FhirResource } from 'fhir/r4';
import { isVigilError, NotFoundError } from '../errors.js';
import { FhirReadError } from '../fhir/fhir-reader.js';
import { fillPrefetchTemplate } from '../cds-hooks/prefetch-template.js';
import { collectFromSource } from '../cds-hooks/services/deterioration/data.js';
import { DETERIORATION_MODEL_ID, deteriorationPrefetch } from '../cds-hooks/services/deterioration/definition.js';
import { patientReference, prepareForExplanation, scoreableWindow, windowStartFor } from '../cds-hooks/services/deterioration/pipeline.js';
import type { ExplainExecutor, ExplanationEngine } from '../explanations/engine.js';
import { provenanceOfWindow } from '../explain/index.js';
import type { ModelProvider } from '../explanations/model-provider.js';
import type { DeteriorationInput } from '../models/index.js';
import type { FhirSource } from './source.js';

export type PrecomputeOutcome =
  /** Explained now and cached. */
  | { status: 'computed'; dataVersion: string; probability: number }
  /** The cache already held the explanation of exactly these data. */
  | { status: 'fresh'; dataVersion: string; probability: number }
  /** The hook would answer "not scored" (too little data, implausible values…): nothing to cache. */
  | { status: 'not-scorable'; reasons: string[] };

export interface PrecomputeDeps {
  models: ModelProvider;
  engine: ExplanationEngine;
  source: FhirSource;
  now: Date;
  /** Where a miss is explained (the explanation thread); default the engine's executor. */
  executor?: ExplainExecutor;
}

/** The prefetch an EHR would send for this patient, read from the source (missing resource → null). */
async function readPrefetch(source: FhirSource, patientId: string): Promise<Record<string, FhirResource | null>> {
  const prefetch: Record<string, FhirResource | null> = {};
  for (const [key, template] of Object.entries(deteriorationPrefetch())) {
    const url = fillPrefetchTemplate(template, { patientId });
    if (url === null) continue;
    try {
      prefetch[key] = await source.get(url);
    } catch (err) {
      if (err instanceof NotFoundError || (err instanceof FhirReadError && err.failure === 'not-found')) prefetch[key] = null;
      else throw err;
    }
  }
  return prefetch;
}

/** @throws ModelUnavailableError, FHIR read errors, explainer errors (the worker logs and moves on). */
export async function precomputeDeterioration(deps: PrecomputeDeps, patientId: string): Promise<PrecomputeOutcome> {
  const model = await deps.models.get<DeteriorationInput>(DETERIORATION_MODEL_ID);
  const prefetch = await readPrefetch(deps.source, patientId);
  const data = await collectFromSource({ prefetch, fhirServer: deps.source.baseUrl, fhir: deps.source }, windowStartFor(model, deps.now));
  const { window, assessment } = scoreableWindow(model, data, deps.now);
  if (!assessment.ok) return { status: 'not-scorable', reasons: assessment.reasons };
  let prepared;
  let explainable;
  try {
    ({ explainable, prepared } = prepareForExplanation(model, window));
  } catch (err) {
    if (isVigilError(err) && err.status === 422) return { status: 'not-scorable', reasons: [err.message] };
    throw err;
  }
  const { record, source } = await deps.engine.explain({
    model: explainable,
    prepared,
    patient: patientReference(data.patient?.id ?? patientId),
    // The raw window goes with it: an executor on another thread prepares it again there.
    input: { value: window.input, provenance: provenanceOfWindow(window) },
    ...(deps.executor ? { executor: deps.executor } : {}),
  });
  return { status: source === 'cache' ? 'fresh' : 'computed', dataVersion: record.dataVersion, probability: record.prediction.probability };
}
