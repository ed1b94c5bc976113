/** FhirWriter over the sandbox EHR's in-memory FhirStore (no HTTP, no token: same process). */
import type { Bundle, Observation, Patient, Resource } from 'fhir/r4';
import type { FhirStore } from '../sandbox/fhir/store.js';
import { LOINC } from '../fhir/codes.js';
import type { FhirWriter } from './fhir-writer.js';

const LOCAL = { baseUrl: 'urn:vigil:in-process' };

function resourcesOf<T extends Resource>(bundle: Bundle, type: T['resourceType']): T[] {
  return (bundle.entry ?? []).map((e) => e.resource).filter((r) => r?.resourceType === type) as T[];
}

export function storeWriter(store: FhirStore): FhirWriter {
  return {
    async findPatient(identifier) {
      const token = identifier.system ? `${identifier.system}|${identifier.value}` : String(identifier.value);
      const bundle = store.search('Patient', new URLSearchParams({ identifier: token, _count: '1' }), LOCAL);
      return resourcesOf<Patient>(bundle, 'Patient')[0];
    },
    async read<T extends Resource>(resourceType: T['resourceType'], id: string): Promise<T | undefined> {
      return store.has(resourceType, id) ? (store.read(resourceType, id) as T) : undefined;
    },
    async write(resources) {
      // The store writes synchronously; nothing else runs between these updates.
      for (const r of resources) store.update(r);
    },
    async observations(patientId, codes, since) {
      const params = new URLSearchParams({
        patient: `Patient/${patientId}`,
        code: codes.map((c) => `${LOINC}|${c}`).join(','),
        date: `ge${since.toISOString()}`,
        _count: '1000',
      });
      return resourcesOf<Observation>(store.search('Observation', params, LOCAL), 'Observation');
    },
  };
}
