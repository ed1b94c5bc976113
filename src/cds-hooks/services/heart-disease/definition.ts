/**
 * Discovery definitions of the two heart-disease services — CDS Hooks 2.0.1 §Discovery (one hook per
 * service): `vigil-heart-disease` on patient-view and `vigil-heart-disease-order` on order-select, which
 * answers only when a cardiology order is among the selections (orders.ts). Same prefetch for both: the
 * Patient, the Observations the model reads and the cardiology work-up Encounters (workup.ts).
 */
import { LOINC, SANDBOX_ORDERABLES, SNOMED, VIGIL_CARDIOLOGY, VITALS, LABS } from '../../../fhir/codes.js';
import { CARDIOLOGY_CODES } from '../../../fhir/mappings/uci-heart.js';
import type { CdsServiceDefinition } from '../../types.js';

export const HEART_SERVICE_ID = 'vigil-heart-disease';
export const HEART_ORDER_SERVICE_ID = 'vigil-heart-disease-order';
export const HEART_MODEL_ID = 'heart-disease';

export const PREFETCH_KEYS = { patient: 'patient', observations: 'observations', encounters: 'encounters' } as const;

/** Encounter types that make an encounter a cardiology work-up (exercise tolerance test, ECG). */
export const WORKUP_ENCOUNTER_TYPES: ReadonlyArray<{ system: string; code: string }> = [
  { system: SNOMED, code: SANDBOX_ORDERABLES.exerciseToleranceTest },
  { system: SNOMED, code: SANDBOX_ORDERABLES.electrocardiogram },
];

/**
 * The Observation codes ("system|code") the heart model reads: the work-up's local cardiology codes, blood
 * pressure, total cholesterol and fasting glucose. The prefetch asks for these, and the population export
 * (src/population/model-inputs.ts) filters on them, so both see the same Observations.
 */
export function heartObservationCodes(): string[] {
  return [
    ...Object.values(CARDIOLOGY_CODES).map((c) => `${VIGIL_CARDIOLOGY}|${c}`),
    `${LOINC}|${VITALS.systolicBp}`,
    `${LOINC}|${VITALS.bloodPressurePanel}`,
    `${LOINC}|${LABS.cholesterolTotal}`,
    `${LOINC}|${LABS.glucoseFasting}`,
  ];
}

export function heartPrefetch(): Record<string, string> {
  const codes = heartObservationCodes().join(',');
  const types = WORKUP_ENCOUNTER_TYPES.map((t) => `${t.system}|${t.code}`).join(',');
  return {
    [PREFETCH_KEYS.patient]: 'Patient/{{context.patientId}}',
    [PREFETCH_KEYS.observations]: `Observation?patient={{context.patientId}}&code=${codes}&status=final,amended,corrected,preliminary&_sort=-date&_count=200`,
    [PREFETCH_KEYS.encounters]: `Encounter?patient={{context.patientId}}&type=${types}`,
  };
}

const DESCRIPTION =
  'Probability of angiographic coronary artery disease from the cardiology work-up (chest pain type, resting BP, ' +
  'cholesterol, fasting glucose, resting ECG, exercise test, fluoroscopy, thallium scan; MLP trained on UCI Heart ' +
  'Disease, Cleveland), with its risk band, the inputs that moved it most and a link to the full explanation.';

const USAGE =
  'Adults with a cardiology work-up on record. Reads the Patient, Observations (local cardiology codes, LOINC 8480-6, ' +
  '85354-9, 2093-3, 1558-6) and Encounters; needs patient/Patient.read, patient/Observation.rs and patient/Encounter.rs ' +
  'when the EHR does not prefetch.';

export function heartDefinition(): CdsServiceDefinition {
  return { id: HEART_SERVICE_ID, hook: 'patient-view', title: 'Coronary artery disease probability', description: DESCRIPTION, usageRequirements: USAGE, prefetch: heartPrefetch() };
}

export function heartOrderDefinition(): CdsServiceDefinition {
  return {
    id: HEART_ORDER_SERVICE_ID,
    hook: 'order-select',
    title: 'Coronary artery disease probability (when a cardiology test is ordered)',
    description: `${DESCRIPTION} Answers only when a cardiac stress test or ECG is among the selected orders.`,
    usageRequirements: USAGE,
    prefetch: heartPrefetch(),
  };
}
