/**
 * Code systems and the LOINC codes Vigil reads. One source of truth for the sandbox data builder,
 * NEWS2 and the models' input schemas. Add codes here rather than writing literals elsewhere.
 */

export const LOINC = 'http://loinc.org';
export const SNOMED = 'http://snomed.info/sct';
export const UCUM = 'http://unitsofmeasure.org';
export const OBSERVATION_CATEGORY = 'http://terminology.hl7.org/CodeSystem/observation-category';

/** Vital signs (FHIR R4 vital-signs profile codes where one exists). */
export const VITALS = {
  heartRate: '8867-4',
  respiratoryRate: '9279-1',
  /** Oxygen saturation by pulse oximetry (SpO2). */
  spo2: '59408-5',
  /** Oxygen saturation in arterial blood; also accepted as SpO2 by the vital-signs profile. */
  oxygenSaturation: '2708-6',
  bodyTemperature: '8310-5',
  bloodPressurePanel: '85354-9',
  systolicBp: '8480-6',
  diastolicBp: '8462-4',
  meanBp: '8478-0',
  /** Inhaled oxygen concentration (FiO2), %. Presence above room air (21 %) means supplemental oxygen. */
  inhaledO2Concentration: '3150-0',
  /** Inhaled oxygen flow rate, L/min. */
  inhaledO2FlowRate: '3151-8',
  /** Level of responsiveness (ACVPU / AVPU). */
  levelOfResponsiveness: '67775-7',
  glasgowComaScoreTotal: '9269-2',
  endTidalCo2: '19889-5',
} as const;

export type VitalCode = (typeof VITALS)[keyof typeof VITALS];

export const RXNORM = 'http://www.nlm.nih.gov/research/umls/rxnorm';

/** Orderables the sandbox EHR offers as draft orders on order-select / order-sign. */
export const SANDBOX_ORDERABLES = {
  /** SNOMED CT: Exercise tolerance test (procedure) — the cardiac stress test. */
  exerciseToleranceTest: '165079009',
  /** SNOMED CT: Electrocardiographic procedure (procedure). */
  electrocardiogram: '29303009',
  /** RxNorm SCD: aspirin 81 MG Delayed Release Oral Tablet. */
  aspirin81: '308416',
} as const;
