/**
 * Wraps a FhirReaderFactory so every FHIR read made for a hook call (prefetch completion and handler
 * reads) is timed and counted by resource type and outcome. The URL itself is never recorded.
 */
import { FhirReadError, type FhirReaderFactory } from '../fhir/fhir-reader.js';
import type { VigilMetrics } from './metrics.js';

export function instrumentFhirReaderFactory(factory: FhirReaderFactory, metrics: VigilMetrics): FhirReaderFactory {
  return (fhirServer, auth, opts) => {
    const reader = factory(fhirServer, auth, opts);
    return {
      async get(relativeUrl) {
        const started = performance.now();
        try {
          const resource = await reader.get(relativeUrl);
          metrics.observeFhirRead(relativeUrl, (performance.now() - started) / 1000);
          return resource;
        } catch (err) {
          const failure = err instanceof FhirReadError ? err.failure : 'network';
          metrics.observeFhirRead(relativeUrl, (performance.now() - started) / 1000, failure);
          throw err;
        }
      },
    };
  };
}
