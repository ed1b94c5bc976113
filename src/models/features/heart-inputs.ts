/** FHIR Patient + Observations → the heart-disease model's 13 inputs (NaN = missing), via src/fhir/mappings/uci-heart.ts. */
import type { Observation, Patient } from 'fhir/r4';
import { fhirToUciInputs } from '../../fhir/mappings/uci-heart.js';
import { HEART_INPUTS, type HeartRecord } from '../data/uci-heart.js';

export function heartInputFromFhir(patient: Patient | undefined, observations: readonly Observation[], asOf: Date): HeartRecord {
  const inputs = fhirToUciInputs(patient, observations, asOf);
  return Object.fromEntries(HEART_INPUTS.map((name) => [name, inputs[name] ?? NaN])) as HeartRecord;
}
