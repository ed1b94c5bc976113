/**
 * PhysioNet/CinC Challenge 2019 columns ↔ FHIR R4 Observations.
 *
 * One table, two directions: the sandbox data builder writes each hourly value as an Observation
 * (LOINC code, UCUM unit, category), and the models read FHIR Observations back into the column
 * values they were trained on. Column meanings and documented units are from the challenge's
 * data description (https://physionet.org/content/challenge-2019/1.0.0/); where the values
 * contradict the documented unit the decision is recorded in `note` (and in docs/data.md).
 *
 * FHIR: Observation (http://hl7.org/fhir/R4/observation.html) and the vital-signs profile
 * (http://hl7.org/fhir/R4/observation-vitalsigns.html) — blood pressure is written as a
 * 85354-9 panel with systolic/diastolic components.
 */
import type { Observation, Quantity } from 'fhir/r4';
import { LABS, LOINC, UCUM, VITALS } from '../codes.js';

/** Every column of the challenge's hourly table, in file order (the staged CSV adds `patient_id` first). */
export const PHYSIONET_COLUMNS = [
  'HR', 'O2Sat', 'Temp', 'SBP', 'MAP', 'DBP', 'Resp', 'EtCO2',
  'BaseExcess', 'HCO3', 'FiO2', 'pH', 'PaCO2', 'SaO2', 'AST', 'BUN', 'Alkalinephos', 'Calcium',
  'Chloride', 'Creatinine', 'Bilirubin_direct', 'Glucose', 'Lactate', 'Magnesium', 'Phosphate',
  'Potassium', 'Bilirubin_total', 'TroponinI', 'Hct', 'Hgb', 'PTT', 'WBC', 'Fibrinogen', 'Platelets',
  'Age', 'Gender', 'Unit1', 'Unit2', 'HospAdmTime', 'ICULOS', 'SepsisLabel',
] as const;
export type PhysioNetColumn = (typeof PHYSIONET_COLUMNS)[number];

/** How one column's value is written as (and read from) a FHIR Observation. */
export interface PhysioNetRepresentation {
  /** LOINC code (system http://loinc.org). */
  code: string;
  display: string;
  /** UCUM code for valueQuantity.code (system http://unitsofmeasure.org); the canonical unit. */
  ucum: string;
  /** Human-readable unit for valueQuantity.unit. */
  unit: string;
  /** Plausible range in the canonical unit; values outside are artefacts and are rejected both ways. */
  plausible: { min: number; max: number };
  /** Source (CSV) value → canonical FHIR value. */
  fromSource(value: number): number;
  /** Canonical FHIR value → source (CSV) value, i.e. what a model trained on the CSV expects. */
  toSource(value: number): number;
}

export interface PhysioNetObservationMapping {
  column: PhysioNetColumn;
  kind: 'observation';
  category: 'vital-signs' | 'laboratory';
  /** Unit as documented by PhysioNet (may be wrong; see note). */
  sourceUnit: string;
  /** Written as a component of the 85354-9 blood-pressure panel instead of a standalone Observation. */
  bpComponent?: boolean;
  primary: PhysioNetRepresentation;
  /**
   * Alternative representation chosen by the source value. Only Calcium has one: the column mixes
   * total calcium (mg/dL) with ionized calcium (mmol/L).
   */
  variant?: { appliesTo(sourceValue: number): boolean; representation: PhysioNetRepresentation };
  /** Further LOINC codes that carry the same quantity when reading FHIR data written by others. */
  alsoAcceptCodes?: readonly string[];
  /** Other UCUM units accepted when reading, with their conversion to the canonical unit. */
  alsoAcceptUnits?: Readonly<Record<string, (value: number) => number>>;
  note?: string;
}

/** Columns that are not Observations: where they live in the sandbox FHIR data instead. */
export interface PhysioNetContextMapping {
  column: PhysioNetColumn;
  kind: 'demographic' | 'administrative' | 'label';
  sourceUnit: string;
  fhir: string;
}

export type PhysioNetMapping = PhysioNetObservationMapping | PhysioNetContextMapping;

const identity = (v: number): number => v;

function rep(
  code: string,
  display: string,
  ucum: string,
  unit: string,
  min: number,
  max: number,
  convert?: { fromSource(v: number): number; toSource(v: number): number },
): PhysioNetRepresentation {
  return {
    code,
    display,
    ucum,
    unit,
    plausible: { min, max },
    fromSource: convert?.fromSource ?? identity,
    toSource: convert?.toSource ?? identity,
  };
}

function obs(
  column: PhysioNetColumn,
  category: PhysioNetObservationMapping['category'],
  sourceUnit: string,
  primary: PhysioNetRepresentation,
  extra: Partial<Omit<PhysioNetObservationMapping, 'column' | 'kind' | 'category' | 'sourceUnit' | 'primary'>> = {},
): PhysioNetObservationMapping {
  return { column, kind: 'observation', category, sourceUnit, primary, ...extra };
}

// Rounding keeps FHIR values free of binary noise (0.35 * 100 = 35.00000000000001).
const round6 = (v: number): number => Math.round(v * 1e6) / 1e6;
const fahrenheitToCelsius = (f: number): number => round6(((f - 32) * 5) / 9);
const GLUCOSE_MG_PER_MMOL = 18.016;
const CREATININE_UMOL_PER_MG_DL = 88.42;

/**
 * The mapping table, one entry per PhysioNet column. Plausible ranges are physiological limits,
 * wide enough to keep real extremes and narrow enough to drop charting artefacts (e.g. Resp 99).
 */
export const PHYSIONET_MAPPINGS: readonly PhysioNetMapping[] = [
  // ── Vital signs ────────────────────────────────────────────────────────────────────────────
  obs('HR', 'vital-signs', 'beats/min', rep(VITALS.heartRate, 'Heart rate', '/min', 'beats/minute', 20, 300)),
  obs('O2Sat', 'vital-signs', '%', rep(VITALS.spo2, 'Oxygen saturation in Arterial blood by Pulse oximetry', '%', '%', 20, 100), {
    note: 'Pulse oximetry (bedside monitor). 2708-6 reads back as SaO2 (its own column), not as O2Sat, although the vital-signs profile lets it stand for SpO2.',
  }),
  obs('Temp', 'vital-signs', '°C', rep(VITALS.bodyTemperature, 'Body temperature', 'Cel', 'C', 25, 45), {
    alsoAcceptCodes: ['8331-1'],
    alsoAcceptUnits: { '[degF]': fahrenheitToCelsius },
  }),
  obs('SBP', 'vital-signs', 'mm Hg', rep(VITALS.systolicBp, 'Systolic blood pressure', 'mm[Hg]', 'mmHg', 20, 300), { bpComponent: true }),
  obs('MAP', 'vital-signs', 'mm Hg', rep(VITALS.meanBp, 'Mean blood pressure', 'mm[Hg]', 'mmHg', 20, 250), {
    note: 'Standalone Observation beside the panel (the vital-signs BP profile has only systolic/diastolic slices).',
  }),
  obs('DBP', 'vital-signs', 'mm Hg', rep(VITALS.diastolicBp, 'Diastolic blood pressure', 'mm[Hg]', 'mmHg', 10, 200), { bpComponent: true }),
  obs('Resp', 'vital-signs', 'breaths/min', rep(VITALS.respiratoryRate, 'Respiratory rate', '/min', 'breaths/minute', 2, 70)),
  obs('EtCO2', 'vital-signs', 'mm Hg', rep(VITALS.endTidalCo2, 'Carbon dioxide [Partial pressure] in Exhaled gas --at end expiration', 'mm[Hg]', 'mmHg', 1, 100)),

  // ── Laboratory ─────────────────────────────────────────────────────────────────────────────
  obs('BaseExcess', 'laboratory', 'mmol/L', rep(LABS.baseExcessArterial, 'Base excess in Arterial blood by calculation', 'mmol/L', 'mmol/L', -40, 40)),
  obs('HCO3', 'laboratory', 'mmol/L', rep(LABS.bicarbonateArterial, 'Bicarbonate [Moles/volume] in Arterial blood', 'mmol/L', 'mmol/L', 2, 60), {
    alsoAcceptCodes: ['1963-8'],
  }),
  obs(
    'FiO2',
    'vital-signs',
    'fraction (documented as %)',
    rep(VITALS.inhaledO2Concentration, 'Inhaled oxygen concentration', '%', '%', 21, 100, {
      fromSource: (v) => round6(v * 100),
      toSource: (v) => round6(v / 100),
    }),
    {
      note:
        'Documented as %, but every value is a fraction (median 0.40, max 1.0), so it is multiplied by 100. ' +
        'Values below 0.21 (room air) are artefacts and rejected. Written as vital-signs so NEWS2 finds supplemental oxygen (> 21 %).',
    },
  ),
  obs('pH', 'laboratory', 'pH units', rep(LABS.phArterial, 'pH of Arterial blood', '[pH]', 'pH', 6.5, 8)),
  obs('PaCO2', 'laboratory', 'mm Hg', rep(LABS.pco2Arterial, 'Carbon dioxide [Partial pressure] in Arterial blood', 'mm[Hg]', 'mmHg', 5, 150)),
  obs('SaO2', 'laboratory', '%', rep(LABS.sao2Arterial, 'Oxygen saturation in Arterial blood', '%', '%', 20, 100)),
  obs('AST', 'laboratory', 'IU/L', rep(LABS.ast, 'Aspartate aminotransferase [Enzymatic activity/volume] in Serum or Plasma', 'U/L', 'U/L', 1, 20000)),
  obs('BUN', 'laboratory', 'mg/dL', rep(LABS.bun, 'Urea nitrogen [Mass/volume] in Serum or Plasma', 'mg/dL', 'mg/dL', 1, 300), {
    alsoAcceptCodes: ['6299-2'],
  }),
  obs('Alkalinephos', 'laboratory', 'IU/L', rep(LABS.alkalinePhosphatase, 'Alkaline phosphatase [Enzymatic activity/volume] in Serum or Plasma', 'U/L', 'U/L', 5, 5000)),
  obs('Calcium', 'laboratory', 'mg/dL', rep(LABS.calciumTotal, 'Calcium [Mass/volume] in Serum or Plasma', 'mg/dL', 'mg/dL', 3, 20), {
    alsoAcceptCodes: ['49765-1'],
    variant: {
      // Total calcium below 3 mg/dL is incompatible with life; 1.0–1.5 is the normal ionized range in mmol/L.
      appliesTo: (v) => v < 3,
      representation: rep(LABS.calciumIonized, 'Calcium.ionized [Moles/volume] in Blood', 'mmol/L', 'mmol/L', 0.3, 3),
    },
    note:
      'Bimodal: ~80 % of values are total calcium in mg/dL (median 8.2), ~20 % are 1.0–1.5 — ionized calcium in mmol/L. ' +
      'Values below 3 are written as ionized calcium 1994-3 (mmol/L); both read back into the Calcium column unchanged, ' +
      'which reproduces the mixture the models were trained on.',
  }),
  obs('Chloride', 'laboratory', 'mmol/L', rep(LABS.chloride, 'Chloride [Moles/volume] in Serum or Plasma', 'mmol/L', 'mmol/L', 60, 150), {
    alsoAcceptCodes: ['2069-3'],
  }),
  obs('Creatinine', 'laboratory', 'mg/dL', rep(LABS.creatinine, 'Creatinine [Mass/volume] in Serum or Plasma', 'mg/dL', 'mg/dL', 0.1, 30), {
    alsoAcceptCodes: ['38483-4'],
    alsoAcceptUnits: { 'umol/L': (v) => round6(v / CREATININE_UMOL_PER_MG_DL) },
  }),
  obs('Bilirubin_direct', 'laboratory', 'mg/dL', rep(LABS.bilirubinDirect, 'Bilirubin.direct [Mass/volume] in Serum or Plasma', 'mg/dL', 'mg/dL', 0, 50)),
  obs('Glucose', 'laboratory', 'mg/dL', rep(LABS.glucose, 'Glucose [Mass/volume] in Serum or Plasma', 'mg/dL', 'mg/dL', 10, 2000), {
    alsoAcceptCodes: [LABS.glucoseBlood],
    alsoAcceptUnits: { 'mmol/L': (v) => round6(v * GLUCOSE_MG_PER_MMOL) },
  }),
  obs('Lactate', 'laboratory', 'mg/dL (documented)', rep(LABS.lactate, 'Lactate [Moles/volume] in Serum or Plasma', 'mmol/L', 'mmol/L', 0.1, 30), {
    alsoAcceptCodes: [LABS.lactateBlood, '2518-9'],
    note:
      'Documented in mg/dL, but values are mmol/L: median 1.98, 1st–99th percentile 0.7–14.5 (in mg/dL a normal lactate is 4.5–19.8). ' +
      'Written unconverted in mmol/L.',
  }),
  obs('Magnesium', 'laboratory', 'mmol/dL (documented)', rep(LABS.magnesium, 'Magnesium [Mass/volume] in Serum or Plasma', 'mg/dL', 'mg/dL', 0.3, 10), {
    note: '"mmol/dL" is not a plausible clinical unit; values (median 2.0, 1st–99th percentile 1.3–3.6) match mg/dL (normal 1.7–2.2). Written as mg/dL.',
  }),
  obs('Phosphate', 'laboratory', 'mg/dL', rep(LABS.phosphate, 'Phosphate [Mass/volume] in Serum or Plasma', 'mg/dL', 'mg/dL', 0.3, 20)),
  obs('Potassium', 'laboratory', 'mmol/L', rep(LABS.potassium, 'Potassium [Moles/volume] in Serum or Plasma', 'mmol/L', 'mmol/L', 1, 12), {
    alsoAcceptCodes: ['6298-4'],
  }),
  obs('Bilirubin_total', 'laboratory', 'mg/dL', rep(LABS.bilirubinTotal, 'Bilirubin.total [Mass/volume] in Serum or Plasma', 'mg/dL', 'mg/dL', 0.05, 60)),
  obs('TroponinI', 'laboratory', 'ng/mL', rep(LABS.troponinI, 'Troponin I.cardiac [Mass/volume] in Serum or Plasma', 'ng/mL', 'ng/mL', 0, 500)),
  obs('Hct', 'laboratory', '%', rep(LABS.hematocrit, 'Hematocrit [Volume Fraction] of Blood by Automated count', '%', '%', 5, 75)),
  obs('Hgb', 'laboratory', 'g/dL', rep(LABS.hemoglobin, 'Hemoglobin [Mass/volume] in Blood', 'g/dL', 'g/dL', 1, 25), {
    alsoAcceptUnits: { 'g/L': (v) => round6(v / 10) },
  }),
  obs('PTT', 'laboratory', 'seconds', rep(LABS.ptt, 'aPTT in Blood by Coagulation assay', 's', 's', 10, 250), {
    note: 'Values are capped at 250 s in the source (assay upper limit).',
  }),
  obs('WBC', 'laboratory', 'count×10³/µL', rep(LABS.wbc, 'Leukocytes [#/volume] in Blood by Automated count', '10*3/uL', '10*3/uL', 0.05, 500), {
    alsoAcceptUnits: { '10*9/L': identity },
  }),
  obs('Fibrinogen', 'laboratory', 'mg/dL', rep(LABS.fibrinogen, 'Fibrinogen [Mass/volume] in Platelet poor plasma by Coagulation assay', 'mg/dL', 'mg/dL', 20, 2000)),
  obs('Platelets', 'laboratory', 'count×10³/µL', rep(LABS.platelets, 'Platelets [#/volume] in Blood by Automated count', '10*3/uL', '10*3/uL', 1, 3000), {
    alsoAcceptUnits: { '10*9/L': identity },
  }),

  // ── Context: not Observations ──────────────────────────────────────────────────────────────
  { column: 'Age', kind: 'demographic', sourceUnit: 'years (100 = ≥ 90)', fhir: 'Patient.birthDate (the Synthea patient matched on closest age)' },
  { column: 'Gender', kind: 'demographic', sourceUnit: '0 female, 1 male', fhir: 'Patient.gender (matched exactly)' },
  { column: 'Unit1', kind: 'administrative', sourceUnit: 'flag: medical ICU', fhir: 'ICU Encounter.location display "Medical ICU"' },
  { column: 'Unit2', kind: 'administrative', sourceUnit: 'flag: surgical ICU', fhir: 'ICU Encounter.location display "Surgical ICU"' },
  { column: 'HospAdmTime', kind: 'administrative', sourceUnit: 'hours from hospital to ICU admission', fhir: 'hospital Encounter.period.start (the ICU Encounter is partOf it)' },
  { column: 'ICULOS', kind: 'administrative', sourceUnit: 'hours since ICU admission', fhir: 'ICU Encounter.period.start and each Observation.effectiveDateTime' },
  { column: 'SepsisLabel', kind: 'label', sourceUnit: '0/1', fhir: 'not written to FHIR; ground truth only in data/sandbox/index.json provenance' },
];

export const PHYSIONET_OBSERVATION_MAPPINGS: readonly PhysioNetObservationMapping[] = PHYSIONET_MAPPINGS.filter(
  (m): m is PhysioNetObservationMapping => m.kind === 'observation',
);

const byColumn = new Map<PhysioNetColumn, PhysioNetMapping>(PHYSIONET_MAPPINGS.map((m) => [m.column, m]));

export function physioNetMapping(column: PhysioNetColumn): PhysioNetMapping {
  const mapping = byColumn.get(column);
  if (!mapping) throw new Error(`No mapping for PhysioNet column ${column}`);
  return mapping;
}

/** The representation a source value is written with (Calcium chooses by value), or undefined if not an Observation column. */
export function representationFor(column: PhysioNetColumn, sourceValue: number): PhysioNetRepresentation | undefined {
  const mapping = byColumn.get(column);
  if (!mapping || mapping.kind !== 'observation') return undefined;
  if (mapping.variant?.appliesTo(sourceValue)) return mapping.variant.representation;
  return mapping.primary;
}

export interface FhirValue {
  representation: PhysioNetRepresentation;
  /** Value in representation.ucum. */
  value: number;
}

/**
 * Converts one source (CSV) value to its FHIR code and canonical value; undefined when the value is
 * missing (NaN) or outside the plausible range.
 */
export function sourceToFhir(column: PhysioNetColumn, sourceValue: number): FhirValue | undefined {
  if (!Number.isFinite(sourceValue)) return undefined;
  const representation = representationFor(column, sourceValue);
  if (!representation) return undefined;
  const value = representation.fromSource(sourceValue);
  if (value < representation.plausible.min || value > representation.plausible.max) return undefined;
  return { representation, value };
}

export interface PhysioNetReading {
  column: PhysioNetColumn;
  /** Value in the representation's canonical UCUM unit. */
  value: number;
  /** The same value in the source unit (the model input scale). */
  sourceValue: number;
}

interface CodeIndexEntry {
  mapping: PhysioNetObservationMapping;
  representation: PhysioNetRepresentation;
}

const codeIndex = new Map<string, CodeIndexEntry>();
for (const mapping of PHYSIONET_OBSERVATION_MAPPINGS) {
  codeIndex.set(mapping.primary.code, { mapping, representation: mapping.primary });
  if (mapping.variant) codeIndex.set(mapping.variant.representation.code, { mapping, representation: mapping.variant.representation });
  for (const code of mapping.alsoAcceptCodes ?? []) {
    if (!codeIndex.has(code)) codeIndex.set(code, { mapping, representation: mapping.primary });
  }
}

function loincCodes(concept: { coding?: { system?: string; code?: string }[] } | undefined): string[] {
  return (concept?.coding ?? []).filter((c) => c.system === LOINC && c.code).map((c) => c.code as string);
}

function readQuantity(entry: CodeIndexEntry, quantity: Quantity | undefined): PhysioNetReading | undefined {
  if (quantity?.value === undefined) return undefined;
  const { mapping, representation } = entry;
  let value = quantity.value;
  const unit = quantity.system === UCUM || quantity.system === undefined ? quantity.code ?? quantity.unit : undefined;
  if (unit !== representation.ucum) {
    const convert = unit === undefined ? undefined : mapping.alsoAcceptUnits?.[unit];
    // FiO2 is often sent as a fraction with unit "1"; fractions ≤ 1 are unambiguous for inhaled O2.
    if (convert) value = convert(value);
    else if (mapping.column === 'FiO2' && (unit === '1' || unit === '{ratio}') && value <= 1) value = round6(value * 100);
    else return undefined;
  }
  if (value < representation.plausible.min || value > representation.plausible.max) return undefined;
  return { column: mapping.column, value, sourceValue: representation.toSource(value) };
}

/**
 * Reads the PhysioNet column values an Observation carries: one for a plain Observation, up to two for
 * a blood-pressure panel (85354-9 or Synthea's 55284-4, read through their components). Values in
 * units we cannot convert, and implausible values, are dropped. Status entered-in-error is ignored.
 */
export function observationToPhysioNet(observation: Observation): PhysioNetReading[] {
  if (observation.status === 'entered-in-error' || observation.status === 'cancelled') return [];
  const readings: PhysioNetReading[] = [];
  for (const code of loincCodes(observation.code)) {
    const entry = codeIndex.get(code);
    if (!entry) continue;
    const reading = readQuantity(entry, observation.valueQuantity);
    if (reading) readings.push(reading);
    break;
  }
  for (const component of observation.component ?? []) {
    for (const code of loincCodes(component.code)) {
      const entry = codeIndex.get(code);
      if (!entry) continue;
      const reading = readQuantity(entry, component.valueQuantity);
      if (reading) readings.push(reading);
      break;
    }
  }
  return readings;
}
