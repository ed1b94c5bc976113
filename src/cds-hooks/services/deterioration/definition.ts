/**
 * The vigil-deterioration discovery definition — CDS Hooks 2.0.1 §Discovery and §Prefetch Template
 * (https://cds-hooks.hl7.org/2.0/#prefetch-template).
 *
 * Templates cannot compute dates (only context and user tokens are defined), so the 48-hour window
 * cannot be put in the query: the template asks for the patient's Observations with the codes the
 * model reads, newest first, in pages of PREFETCH_PAGE_SIZE; the handler follows `next` links (on the
 * EHR's own FHIR server only) until it has passed the start of the window, and cuts the window itself.
 */
import { LOINC, NEWS2_CODES, VITALS } from '../../../fhir/codes.js';
import { PHYSIONET_OBSERVATION_MAPPINGS } from '../../../fhir/mappings/physionet.js';
import type { CdsServiceDefinition } from '../../types.js';

export const DETERIORATION_SERVICE_ID = 'vigil-deterioration';
export const DETERIORATION_MODEL_ID = 'deterioration';

export const PREFETCH_KEYS = { patient: 'patient', observations: 'observations' } as const;

/** About 8 Observations an hour over 48 hours, plus labs; larger windows page. */
export const PREFETCH_PAGE_SIZE = 500;

/**
 * Every LOINC code that carries a model input: each column's primary code, the ionized-calcium variant,
 * the alternative codes read as the same quantity, and both blood-pressure panels (systolic and
 * diastolic arrive as their components).
 */
export function deteriorationCodes(): string[] {
  const codes = new Set<string>();
  for (const m of PHYSIONET_OBSERVATION_MAPPINGS) {
    codes.add(m.primary.code);
    if (m.variant) codes.add(m.variant.representation.code);
    for (const c of m.alsoAcceptCodes ?? []) codes.add(c);
  }
  codes.add(VITALS.bloodPressurePanel);
  codes.add(NEWS2_CODES.bloodPressurePanelLegacy);
  return [...codes];
}

const USABLE = 'status=final,amended,corrected,preliminary';

export function deteriorationPrefetch(): Record<string, string> {
  const tokens = deteriorationCodes()
    .map((code) => `${LOINC}|${code}`)
    .join(',');
  return {
    [PREFETCH_KEYS.patient]: 'Patient/{{context.patientId}}',
    [PREFETCH_KEYS.observations]: `Observation?patient={{context.patientId}}&code=${tokens}&${USABLE}&_sort=-date&_count=${PREFETCH_PAGE_SIZE}`,
  };
}

export function deteriorationDefinition(): CdsServiceDefinition {
  return {
    id: DETERIORATION_SERVICE_ID,
    hook: 'patient-view',
    title: 'Sepsis risk in the next 6 hours (deterioration model)',
    description:
      'Probability of sepsis onset within 6 hours from the last 48 hours of vital signs and laboratory values ' +
      '(temporal convolution network trained on the PhysioNet/CinC Challenge 2019 ICU data), with its risk band, the ' +
      'factors that moved it most and a link to the full explanation.',
    usageRequirements:
      'Adult ICU patients. Reads the Patient and the Observations the model uses (LOINC codes in the prefetch); ' +
      'needs patient/Patient.read and patient/Observation.rs when the EHR does not prefetch.',
    prefetch: deteriorationPrefetch(),
  };
}
