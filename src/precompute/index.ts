/** Scoring and explaining ahead of time (issue 7 §Speed): docs/explanations.md "Ahead of time". */
export { PrecomputeWorker, type PrecomputeWorkerOptions, type PrecomputeStats } from './worker.js';
export { precomputeDeterioration, type PrecomputeDeps, type PrecomputeOutcome } from './deterioration.js';
export { fhirStoreSource, fhirReaderSource, type FhirSource } from './source.js';
export { EcgPrecompute, precomputeEcg, ecgRiskAssessment, ecgRiskAssessmentId, watchStoreForEcgs, isEcgTracing, type EcgPrecomputeOutcome, type EcgPrecomputeStats, type EcgJob } from './ecg.js';
export { ExplainThread, type ExplainThreadOptions, type ExplainThreadStats } from './thread-executor.js';
