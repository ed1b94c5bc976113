/**
 * FhirWriter over any FHIR R4 server (FHIR_STORE_URL) through the resilient client: one transaction
 * Bundle of PUTs per message (all or nothing; ids fixed by the message, so safe to repeat), a bearer
 * token from the injected provider on every call (the SMART back-end token seam).
 */
import type { Bundle, FhirResource, Observation, Patient, Resource } from 'fhir/r4';
import { createFhirClient, type FhirClient, type TokenProvider } from '../fhir/fhir-client.js';
import { LOINC } from '../fhir/codes.js';
import type { FhirWriter } from './fhir-writer.js';

export interface HttpWriterOptions {
  baseUrl: string;
  token?: TokenProvider;
  timeoutMs?: number;
  /** Injected client (tests); built from the options otherwise. */
  client?: FhirClient;
}

export function httpWriter(options: HttpWriterOptions): FhirWriter {
  const client =
    options.client ??
    createFhirClient({ baseUrl: options.baseUrl, ...(options.token ? { token: options.token } : {}), timeoutMs: options.timeoutMs ?? 10_000 });
  return {
    async findPatient(identifier) {
      const token = identifier.system ? `${identifier.system}|${identifier.value}` : String(identifier.value);
      const { resources } = await client.search<Patient>('Patient', { identifier: token }, { count: 1, maxPages: 1 });
      return resources[0];
    },
    read: (resourceType, id) => client.read(resourceType, id),
    async write(resources: readonly Resource[]) {
      if (resources.length === 0) return;
      const bundle: Bundle = {
        resourceType: 'Bundle',
        type: 'transaction',
        entry: resources.map((r) => ({
          fullUrl: `${client.baseUrl}/${r.resourceType}/${r.id}`,
          resource: r as FhirResource,
          request: { method: 'PUT', url: `${r.resourceType}/${r.id}` },
        })),
      };
      await client.transaction(bundle, { idempotent: true });
    },
    async observations(patientId, codes, since) {
      const params = new URLSearchParams({ patient: `Patient/${patientId}`, code: codes.map((c) => `${LOINC}|${c}`).join(',') });
      params.append('date', `ge${since.toISOString()}`);
      const { resources } = await client.search<Observation>('Observation', params, { count: 200, maxPages: 10 });
      return resources;
    },
  };
}
