/**
 * The vigil-news2 discovery definition — CDS Hooks 2.0.1 §Discovery and §Prefetch Template
 * (https://cds-hooks.hl7.org/2.0/#discovery). One prefetch key per NEWS2 parameter, each asking
 * for the single latest usable Observation, so the EHR sends seven small Bundles instead of the
 * patient's whole vital-signs history.
 */
import { HYPERCAPNIC_RESPIRATORY_FAILURE, LOINC, NEWS2_CODES, SNOMED, VITALS } from '../../../fhir/codes.js';
import type { CdsServiceDefinition } from '../../types.js';
import type { ConditionCode } from './observations.js';

export const NEWS2_SERVICE_ID = 'vigil-news2';

/** Prefetch keys; the handler reads Observations from all of them regardless of key. */
export const PREFETCH_KEYS = {
  patient: 'patient',
  respiratoryRate: 'respiratoryRate',
  spo2: 'spo2',
  inspiredOxygen: 'inspiredOxygen',
  systolicBp: 'systolicBp',
  heartRate: 'heartRate',
  temperature: 'temperature',
  consciousness: 'consciousness',
  glasgowComaScore: 'glasgowComaScore',
  spo2Scale2Conditions: 'spo2Scale2Conditions',
} as const;

// Entered-in-error and cancelled readings are filtered by the server so `_count=1` cannot land on one.
const USABLE = 'status=final,amended,corrected,preliminary';

function latestObservation(...codes: Array<[system: string, code: string]>): string {
  const tokens = codes.map(([system, code]) => `${system}|${code}`).join(',');
  return `Observation?patient={{context.patientId}}&code=${tokens}&${USABLE}&_sort=-date&_count=1`;
}

export function conditionQuery(eligible: readonly ConditionCode[]): string {
  const tokens = eligible.map((c) => `${c.system}|${c.code}`).join(',');
  return `Condition?patient={{context.patientId}}&code=${tokens}&clinical-status=active,recurrence,relapse`;
}

export function news2Prefetch(eligible: readonly ConditionCode[] = HYPERCAPNIC_RESPIRATORY_FAILURE): Record<string, string> {
  return {
    [PREFETCH_KEYS.patient]: 'Patient/{{context.patientId}}',
    [PREFETCH_KEYS.respiratoryRate]: latestObservation([LOINC, VITALS.respiratoryRate]),
    [PREFETCH_KEYS.spo2]: latestObservation([LOINC, VITALS.spo2], [LOINC, VITALS.oxygenSaturation]),
    [PREFETCH_KEYS.inspiredOxygen]: latestObservation([LOINC, VITALS.inhaledO2Concentration], [LOINC, VITALS.inhaledO2FlowRate]),
    // Servers differ in whether `code` also matches component codes, so ask for both panels and the
    // standalone systolic code; the handler reads the systolic component out of a panel.
    [PREFETCH_KEYS.systolicBp]: latestObservation(
      [LOINC, VITALS.bloodPressurePanel],
      [LOINC, NEWS2_CODES.bloodPressurePanelLegacy],
      [LOINC, VITALS.systolicBp],
    ),
    [PREFETCH_KEYS.heartRate]: latestObservation([LOINC, VITALS.heartRate]),
    [PREFETCH_KEYS.temperature]: latestObservation([LOINC, VITALS.bodyTemperature], [LOINC, NEWS2_CODES.oralTemperature]),
    [PREFETCH_KEYS.consciousness]: latestObservation([LOINC, VITALS.levelOfResponsiveness], [SNOMED, NEWS2_CODES.acvpuObservable]),
    [PREFETCH_KEYS.glasgowComaScore]: latestObservation([LOINC, VITALS.glasgowComaScoreTotal]),
    [PREFETCH_KEYS.spo2Scale2Conditions]: conditionQuery(eligible),
  };
}

export function news2Definition(eligible?: readonly ConditionCode[]): CdsServiceDefinition {
  return {
    id: NEWS2_SERVICE_ID,
    hook: 'patient-view',
    title: 'NEWS2 early warning score',
    description:
      'National Early Warning Score 2 (Royal College of Physicians, 2017) from the latest vital signs: ' +
      'aggregate score, clinical risk band and the recommended clinical response, with missing and stale readings called out.',
    usageRequirements:
      'Adult in-patients (16 years and over) who are not pregnant. Reads Observations (respiratory rate, SpO2, ' +
      'inhaled oxygen, blood pressure, heart rate, temperature, ACVPU or GCS) and Conditions for SpO2 scale 2 ' +
      '(hypercapnic respiratory failure); needs patient/Observation.read and patient/Condition.read when the EHR does not prefetch.',
    prefetch: news2Prefetch(eligible),
  };
}
