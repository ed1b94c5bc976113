/**
 * Where HL7-fed resources go: one interface, two back ends chosen in src/hl7/index.ts — the sandbox
 * FhirStore in process (default) and any FHIR R4 server over HTTP (FHIR_STORE_URL, through the
 * resilient client in src/fhir/fhir-client.ts). All writes are updates (PUT) with ids the message
 * determines, so a replayed message overwrites instead of duplicating.
 */
import type { Identifier, Observation, Patient, Resource } from 'fhir/r4';

export interface FhirWriter {
  /** The Patient holding this identifier (system|value), if any. */
  findPatient(identifier: Identifier): Promise<Patient | undefined>;
  read<T extends Resource>(resourceType: T['resourceType'], id: string): Promise<T | undefined>;
  /** Creates or updates every resource (by id), all or nothing where the back end allows. */
  write(resources: readonly Resource[]): Promise<void>;
  /** A patient's Observations with any of these LOINC codes, effective at or after `since`. */
  observations(patientId: string, loincCodes: readonly string[], since: Date): Promise<Observation[]>;
}
