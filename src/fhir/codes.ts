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

export const ICD10CM = 'http://hl7.org/fhir/sid/icd-10-cm';

/** Codes NEWS2 reads beyond the vital-signs profile codes (src/cds-hooks/services/news2). */
export const NEWS2_CODES = {
  /** LOINC: Blood pressure systolic and diastolic — the older BP panel code (Synthea writes it). */
  bloodPressurePanelLegacy: '55284-4',
  /** LOINC: Oral temperature (a child of 8310-5 that some EHRs send instead). */
  oralTemperature: '8331-1',
  /** SNOMED CT (UK): ACVPU observable — the UK Core ACVPU Observation.code. */
  acvpuObservable: '1104441000000107',
  /** SNOMED CT (UK): Royal College of Physicians NEWS2 total score (observable entity). */
  news2TotalScore: '1104051000000101',
} as const;

/** Vigil's override reasons for NEWS2 cards (CDS Hooks §Overridden guidance). */
export const VIGIL_NEWS2_OVERRIDE_REASON = 'http://vigil.example.org/CodeSystem/news2-override-reason';

/** Vigil's override reasons for sepsis hour-1 bundle cards at order signing. */
export const VIGIL_SEPSIS_BUNDLE_OVERRIDE_REASON = 'http://vigil.example.org/CodeSystem/sepsis-bundle-override-reason';

/**
 * ACVPU answers → level. SNOMED CT from the UK Core ACVPU value set; LOINC answers from the
 * 67775-7 answer list (LA6560-2 "Confused" is the GCS verbal answer, used for new confusion).
 */
export const ACVPU_ANSWERS: Record<string, Record<string, 'A' | 'C' | 'V' | 'P' | 'U'>> = {
  [SNOMED]: { '248234008': 'A', '130987000': 'C', '300202002': 'V', '450847001': 'P', '422768004': 'U' },
  [LOINC]: { 'LA9340-6': 'A', 'LA6560-2': 'C', 'LA17108-4': 'V', 'LA17107-6': 'P', 'LA9343-0': 'U' },
};

/**
 * Diagnoses that make a patient eligible for NEWS2 SpO2 scale 2 (hypercapnic respiratory failure).
 * Deliberately narrow: COPD alone does not qualify (RCP 2017, chapter 3). Reviewed list in
 * docs/services/news2.md; sites can pass their own list to the NEWS2 service.
 */
export const HYPERCAPNIC_RESPIRATORY_FAILURE: ReadonlyArray<{ system: string; code: string; display: string }> = [
  { system: SNOMED, code: '101301000119106', display: 'Acute hypercapnic respiratory failure due to obstructive sleep apnea' },
  { system: ICD10CM, code: 'J96.02', display: 'Acute respiratory failure with hypercapnia' },
  { system: ICD10CM, code: 'J96.12', display: 'Chronic respiratory failure with hypercapnia' },
  { system: ICD10CM, code: 'J96.22', display: 'Acute and chronic respiratory failure with hypercapnia' },
  { system: ICD10CM, code: 'J96.92', display: 'Respiratory failure, unspecified with hypercapnia' },
];

/** Laboratory LOINC codes written by the sandbox data builder (PhysioNet 2019 columns; see src/fhir/mappings/physionet.ts). */
export const LABS = {
  baseExcessArterial: '1925-7',
  bicarbonateArterial: '1960-4',
  phArterial: '2744-1',
  pco2Arterial: '2019-8',
  /** Oxygen saturation in arterial blood (blood gas); also accepted as SpO2 by the vital-signs profile. */
  sao2Arterial: '2708-6',
  ast: '1920-8',
  bun: '3094-0',
  alkalinePhosphatase: '6768-6',
  calciumTotal: '17861-6',
  /** Ionized calcium in blood, mmol/L: PhysioNet's Calcium column holds these values too (see mapping). */
  calciumIonized: '1994-3',
  chloride: '2075-0',
  creatinine: '2160-0',
  bilirubinDirect: '1968-7',
  /** Glucose in serum or plasma; Synthea writes 2339-0 (glucose in blood). */
  glucose: '2345-7',
  glucoseBlood: '2339-0',
  /** Fasting glucose in serum or plasma. */
  glucoseFasting: '1558-6',
  /** Lactate (moles/volume) in serum or plasma, mmol/L. */
  lactate: '2524-7',
  /** Lactate (moles/volume) in blood; accepted as lactate when reading. */
  lactateBlood: '32693-4',
  magnesium: '19123-9',
  phosphate: '2777-1',
  potassium: '2823-3',
  bilirubinTotal: '1975-2',
  troponinI: '10839-9',
  hematocrit: '4544-3',
  hemoglobin: '718-7',
  ptt: '3173-2',
  wbc: '6690-2',
  fibrinogen: '3255-7',
  platelets: '777-3',
  /** Total cholesterol in serum or plasma, mg/dL. */
  cholesterolTotal: '2093-3',
} as const;

/** ACVPU answers for LOINC 67775-7 (level of responsiveness), as SNOMED CT findings (NEWS2 consciousness). */
export const ACVPU = {
  alert: { code: '248234008', display: 'Mentally alert' },
  newConfusion: { code: '130987000', display: 'Acute confusion' },
  voice: { code: '300202002', display: 'Responds to voice' },
  pain: { code: '450847001', display: 'Responds to pain' },
  unresponsive: { code: '422768004', display: 'Unresponsive' },
} as const;

/**
 * Local code system for cardiology work-up items that have no LOINC code we could verify (exercise-test
 * results and angiography findings from the UCI Heart Disease data; see src/fhir/mappings/uci-heart.ts).
 */
export const VIGIL_CARDIOLOGY = 'http://vigil.example.org/CodeSystem/cardiology';

/** Tags resources Vigil invented rather than took from a data set (meta.tag); see docs/data.md. */
export const VIGIL_DATA_ORIGIN = 'http://vigil.example.org/CodeSystem/data-origin';

/** ISO/IEEE 11073-10101 (MDC) nomenclature, as FHIR R4 names it (http://hl7.org/fhir/R4/terminologies-systems.html). */
export const MDC = 'urn:oid:2.16.840.1.113883.6.24';

/**
 * Codes of an ECG rhythm strip Observation (vigil-ecg-rhythm; docs/services/ecg-rhythm.md). LOINC 11524-6
 * "EKG study" is the Observation code Vigil writes; MDC 131328 MDC_ECG_ELEC_POTL (ECG electrical potential,
 * the code of FHIR R4's own example ECG Observation "ekg") is read too, as is each lead's MDC code on
 * components (131329 lead I, 131330 lead II, 131389 lead III).
 */
export const ECG_CODES = {
  ekgStudy: '11524-6',
  mdcEcgPotential: '131328',
  mdcLeadI: '131329',
  mdcLeadII: '131330',
  mdcLeadIII: '131389',
} as const;
