/**
 * The vigil-ecg-rhythm discovery definition — CDS Hooks 2.0.1 §Discovery and §Prefetch Template
 * (https://cds-hooks.hl7.org/2.0/#prefetch-template): the patient's newest ECG Observation (LOINC 11524-6
 * or MDC 131328), one per page, newest first.
 */
import { ECG_CODES, LOINC, MDC } from '../../../fhir/codes.js';
import type { CdsServiceDefinition } from '../../types.js';

export const ECG_SERVICE_ID = 'vigil-ecg-rhythm';
export const ECG_MODEL_ID = 'ecg-rhythm';
export const ECG_PREFETCH_KEYS = { ecg: 'ecg' } as const;

/** Most recent ECG Observations asked for; the newest with a usable waveform is classified. */
export const ECG_PREFETCH_COUNT = 3;

export function ecgPrefetch(): Record<string, string> {
  const codes = `${LOINC}|${ECG_CODES.ekgStudy},${MDC}|${ECG_CODES.mdcEcgPotential}`;
  return { [ECG_PREFETCH_KEYS.ecg]: `Observation?patient={{context.patientId}}&code=${codes}&status=final,amended,corrected,preliminary&_sort=-date&_count=${ECG_PREFETCH_COUNT}` };
}

export function ecgDefinition(): CdsServiceDefinition {
  return {
    id: ECG_SERVICE_ID,
    hook: 'patient-view',
    title: 'ECG rhythm (single-lead CNN): atrial fibrillation and other rhythms',
    description:
      "Classifies the patient's most recent single-lead ECG rhythm strip (FHIR SampledData) as normal sinus rhythm, atrial " +
      'fibrillation, other rhythm or too noisy, with the class probabilities, the stretches of the tracing that drove the call ' +
      'and a link to the full explanation. Tracings that are too short, flat or saturated get a card that says why they were not classified.',
    usageRequirements:
      'An ECG Observation (LOINC 11524-6 or MDC 131328) with valueSampledData or component[].valueSampledData in mV (≥ 10 s). ' +
      'Needs patient/Observation.rs when the EHR does not prefetch.',
    prefetch: ecgPrefetch(),
  };
}
