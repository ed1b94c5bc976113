/**
 * Clinical wording for factor text: a short label, the printed unit, and the adult reference ("normal")
 * range of each model input, in the unit clinicians see (the FHIR unit of src/fhir/mappings/physionet.ts,
 * not the PhysioNet training unit: FiO2 is a percentage here, not a fraction).
 *
 * The ranges are conventional adult intervals as printed in general clinical references (e.g. vital-sign
 * norms, SIRS/qSOFA cut-offs, common laboratory reference intervals); laboratories differ, so they only
 * drive the words "high"/"low"/"normal" next to a value, never a score. They also define the "normal
 * physiology" baseline (the midpoint of each range). Plausible ranges (artefact limits) stay in
 * src/fhir/mappings/physionet.ts.
 */
import type { Direction } from './types.js';

export interface ReferenceEntry {
  label: string;
  /** Unit as printed; absent for unitless or coded inputs. */
  unitText?: string;
  /** Normal range in the printed unit; a bound may be open. */
  normal?: { low?: number; high?: number };
  /** Value used for the "normal physiology" baseline (printed unit); defaults to the range midpoint. */
  typical?: number;
  /** Labels of coded values (category codes or 0/1 flags). */
  values?: Readonly<Record<number, string>>;
  /** Coded value regarded as normal (for the normal baseline and the "normal" direction). */
  normalValue?: number;
}

const YES_NO = { 0: 'no', 1: 'yes' } as const;

/** PhysioNet 2019 columns (deterioration model) and UCI heart inputs, by the model's feature name. */
export const REFERENCE: Readonly<Record<string, ReferenceEntry>> = {
  // Vital signs
  HR: { label: 'Heart rate', unitText: '/min', normal: { low: 60, high: 100 }, typical: 75 },
  O2Sat: { label: 'SpO2', unitText: '%', normal: { low: 95, high: 100 }, typical: 98 },
  Temp: { label: 'Temperature', unitText: '°C', normal: { low: 36, high: 38 }, typical: 37 },
  SBP: { label: 'Systolic BP', unitText: 'mmHg', normal: { low: 100, high: 140 }, typical: 120 },
  MAP: { label: 'Mean arterial pressure', unitText: 'mmHg', normal: { low: 70, high: 105 }, typical: 85 },
  DBP: { label: 'Diastolic BP', unitText: 'mmHg', normal: { low: 60, high: 90 }, typical: 75 },
  Resp: { label: 'Respiratory rate', unitText: '/min', normal: { low: 12, high: 20 }, typical: 16 },
  EtCO2: { label: 'End-tidal CO2', unitText: 'mmHg', normal: { low: 35, high: 45 } },
  // Blood gases and laboratory values
  BaseExcess: { label: 'Base excess', unitText: 'mmol/L', normal: { low: -2, high: 2 } },
  HCO3: { label: 'Bicarbonate', unitText: 'mmol/L', normal: { low: 22, high: 28 } },
  FiO2: { label: 'FiO2', unitText: '%', normal: { high: 21 }, typical: 21 },
  pH: { label: 'pH', normal: { low: 7.35, high: 7.45 } },
  PaCO2: { label: 'PaCO2', unitText: 'mmHg', normal: { low: 35, high: 45 } },
  SaO2: { label: 'SaO2', unitText: '%', normal: { low: 95, high: 100 }, typical: 98 },
  AST: { label: 'AST', unitText: 'U/L', normal: { low: 10, high: 40 } },
  BUN: { label: 'Urea nitrogen', unitText: 'mg/dL', normal: { low: 7, high: 20 } },
  Alkalinephos: { label: 'Alkaline phosphatase', unitText: 'U/L', normal: { low: 44, high: 147 } },
  Calcium: { label: 'Calcium', unitText: 'mg/dL', normal: { low: 8.5, high: 10.5 } },
  Chloride: { label: 'Chloride', unitText: 'mmol/L', normal: { low: 98, high: 106 } },
  Creatinine: { label: 'Creatinine', unitText: 'mg/dL', normal: { low: 0.6, high: 1.2 } },
  Bilirubin_direct: { label: 'Direct bilirubin', unitText: 'mg/dL', normal: { low: 0, high: 0.3 }, typical: 0.1 },
  Glucose: { label: 'Glucose', unitText: 'mg/dL', normal: { low: 70, high: 140 }, typical: 100 },
  Lactate: { label: 'Lactate', unitText: 'mmol/L', normal: { low: 0.5, high: 2 }, typical: 1 },
  Magnesium: { label: 'Magnesium', unitText: 'mg/dL', normal: { low: 1.7, high: 2.2 } },
  Phosphate: { label: 'Phosphate', unitText: 'mg/dL', normal: { low: 2.5, high: 4.5 } },
  Potassium: { label: 'Potassium', unitText: 'mmol/L', normal: { low: 3.5, high: 5 } },
  Bilirubin_total: { label: 'Total bilirubin', unitText: 'mg/dL', normal: { low: 0.1, high: 1.2 }, typical: 0.6 },
  TroponinI: { label: 'Troponin I', unitText: 'ng/mL', normal: { low: 0, high: 0.04 }, typical: 0.01 },
  Hct: { label: 'Haematocrit', unitText: '%', normal: { low: 36, high: 50 } },
  Hgb: { label: 'Haemoglobin', unitText: 'g/dL', normal: { low: 12, high: 17 } },
  PTT: { label: 'aPTT', unitText: 's', normal: { low: 25, high: 35 } },
  WBC: { label: 'White cell count', unitText: '×10³/µL', normal: { low: 4, high: 11 } },
  Fibrinogen: { label: 'Fibrinogen', unitText: 'mg/dL', normal: { low: 200, high: 400 } },
  Platelets: { label: 'Platelets', unitText: '×10³/µL', normal: { low: 150, high: 400 }, typical: 250 },
  Age: { label: 'Age', unitText: 'years' },
  Sex: { label: 'Sex', values: { 0: 'female', 1: 'male' } },

  // UCI heart-disease inputs (heart-disease.names, "Attribute Information")
  age: { label: 'Age', unitText: 'years' },
  sex: { label: 'Sex', values: { 0: 'female', 1: 'male' } },
  cp: {
    label: 'Chest pain',
    values: { 1: 'typical angina', 2: 'atypical angina', 3: 'non-anginal pain', 4: 'asymptomatic' },
    normalValue: 4,
  },
  trestbps: { label: 'Resting systolic BP', unitText: 'mmHg', normal: { low: 90, high: 120 }, typical: 115 },
  chol: { label: 'Cholesterol', unitText: 'mg/dL', normal: { high: 200 }, typical: 180 },
  fbs: { label: 'Fasting glucose > 120 mg/dL', values: YES_NO, normalValue: 0 },
  restecg: { label: 'Resting ECG', values: { 0: 'normal', 1: 'ST-T abnormality', 2: 'left ventricular hypertrophy' }, normalValue: 0 },
  thalach: { label: 'Maximum exercise heart rate', unitText: '/min' },
  exang: { label: 'Exercise-induced angina', values: YES_NO, normalValue: 0 },
  oldpeak: { label: 'Exercise ST depression', unitText: 'mm', normal: { high: 1 }, typical: 0 },
  slope: { label: 'Peak-exercise ST slope', values: { 1: 'upsloping', 2: 'flat', 3: 'downsloping' }, normalValue: 1 },
  ca: { label: 'Vessels coloured on fluoroscopy', normal: { high: 0 }, typical: 0 },
  thal: { label: 'Thallium stress test', values: { 3: 'normal', 6: 'fixed defect', 7: 'reversible defect' }, normalValue: 3 },
};

/** Ionized calcium (the PhysioNet Calcium column's mmol/L half, see physionet.ts) has its own range. */
export const IONIZED_CALCIUM: ReferenceEntry = { label: 'Ionized calcium', unitText: 'mmol/L', normal: { low: 1.1, high: 1.35 } };

/** Where a value lies against a reference entry; undefined when the entry has no range or normal value. */
export function directionOf(entry: ReferenceEntry | undefined, value: number | null): Direction | undefined {
  if (!entry || value === null || !Number.isFinite(value)) return undefined;
  if (entry.normalValue !== undefined) return value === entry.normalValue ? 'normal' : undefined;
  const range = entry.normal;
  if (!range) return undefined;
  if (range.high !== undefined && value > range.high) return 'high';
  if (range.low !== undefined && value < range.low) return 'low';
  return 'normal';
}

/** The "normal physiology" value of an input, in the printed unit; undefined when none is defined. */
export function typicalValue(entry: ReferenceEntry | undefined): number | undefined {
  if (!entry) return undefined;
  if (entry.typical !== undefined) return entry.typical;
  if (entry.normalValue !== undefined) return entry.normalValue;
  const { low, high } = entry.normal ?? {};
  if (low !== undefined && high !== undefined) return (low + high) / 2;
  return undefined;
}
