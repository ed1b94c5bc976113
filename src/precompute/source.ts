/**
 * Where the precompute worker reads a patient's data from: the same FHIR store the EHR fills prefetch
 * from, through relative FHIR URLs (the services' own prefetch templates), so the worker builds the model
 * input from the same resources the hook will receive. Two back ends: the sandbox's in-process FhirStore
 * and any FHIR R4 server over HTTP (FHIR_STORE_URL).
 */
import type { FhirResource } from 'fhir/r4';
import type { FhirReader } from '../cds-hooks/types.js';
import type { FhirStore } from '../sandbox/fhir/store.js';

export interface FhirSource {
  /** Base URL the source's Bundle `next` links start with. */
  readonly baseUrl: string;
  /** A read or search by relative URL. @throws NotFoundError (or FhirReadError 'not-found') for a missing resource. */
  get(relativeUrl: string): Promise<FhirResource>;
}

/** The sandbox FhirStore, in process. */
export function fhirStoreSource(store: FhirStore, baseUrl = 'urn:vigil:in-process'): FhirSource {
  return {
    baseUrl,
    async get(relativeUrl) {
      return store.get(relativeUrl, { baseUrl }) as FhirResource;
    },
  };
}

/** A FHIR server through a reader (src/fhir/fhir-reader.ts) bound to its base URL and token. */
export function fhirReaderSource(reader: Pick<FhirReader, 'get'>, baseUrl: string): FhirSource {
  return { baseUrl, get: (relativeUrl) => reader.get(relativeUrl) };
}
