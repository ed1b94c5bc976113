/**
 * UCI Heart Disease (Cleveland, 14-attribute "processed" file) ↔ FHIR R4.
 *
 * Row → resources: the 13 model inputs of one row as Observations for a patient (age and sex live in
 * the Patient resource). Resources → row: the 13 numeric inputs back, `null` where nothing usable
 * is found. Attribute meanings are from the data set's `heart-disease.names`.
 *
 * Codes: LOINC where a code with the right meaning exists (8480-6 resting systolic BP, 2093-3
 * cholesterol, 1558-6 fasting glucose when reading real data); SNOMED CT for chest-pain and ECG
 * answers where we could verify one; the rest use the local code system VIGIL_CARDIOLOGY because we
 * found no LOINC code for "maximum heart rate achieved in the exercise test", "ST depression induced
 * by exercise", peak-exercise ST slope, fluoroscopy vessel count or thallium result. (LOINC 8889-8,
 * sometimes used for thalach, means heart rate by pulse oximetry, not the exercise peak.)
 */
import type { CodeableConcept, Coding, Observation, Patient } from 'fhir/r4';
import { LABS, LOINC, OBSERVATION_CATEGORY, SNOMED, UCUM, VIGIL_CARDIOLOGY, VITALS } from '../codes.js';

/** The 13 inputs in file order (column 14, `num`, is the diagnosis and never written to FHIR). */
export const UCI_HEART_INPUTS = [
  'age', 'sex', 'cp', 'trestbps', 'chol', 'fbs', 'restecg', 'thalach', 'exang', 'oldpeak', 'slope', 'ca', 'thal',
] as const;
export type UciHeartInput = (typeof UCI_HEART_INPUTS)[number];

/** One parsed line: every input as a number, `null` where the file has `?`. */
export type UciHeartInputs = Record<UciHeartInput, number | null>;
export interface UciHeartRow extends UciHeartInputs {
  /** Angiographic disease status 0–4 (> 0 = disease). */
  num: number | null;
}

/** Local codes (system VIGIL_CARDIOLOGY) for the observation kinds and answers without a standard code. */
export const CARDIOLOGY_CODES = {
  chestPainType: 'chest-pain-type',
  restingEcg: 'resting-ecg',
  fastingGlucoseOver120: 'fasting-glucose-over-120',
  maxHeartRateExercise: 'max-heart-rate-exercise',
  exerciseInducedAngina: 'exercise-induced-angina',
  stDepressionExercise: 'st-depression-exercise',
  peakExerciseStSlope: 'peak-exercise-st-slope',
  fluoroscopyVessels: 'fluoroscopy-major-vessels',
  thalliumStressResult: 'thallium-stress-result',
} as const;

interface Answer {
  value: number;
  local: string;
  display: string;
  snomed?: string;
}

const CHEST_PAIN: readonly Answer[] = [
  { value: 1, local: 'typical-angina', display: 'Typical angina', snomed: '429559004' },
  { value: 2, local: 'atypical-angina', display: 'Atypical angina', snomed: '371807002' },
  { value: 3, local: 'non-anginal-pain', display: 'Non-anginal pain' },
  { value: 4, local: 'asymptomatic', display: 'Asymptomatic (chest pain not present)', snomed: '161971004' },
];
const RESTING_ECG: readonly Answer[] = [
  { value: 0, local: 'normal', display: 'Normal electrocardiogram', snomed: '164854000' },
  { value: 1, local: 'st-t-abnormality', display: 'ST-T wave abnormality', snomed: '428750005' },
  { value: 2, local: 'lvh-estes', display: 'Probable or definite left ventricular hypertrophy (Estes criteria)', snomed: '164873001' },
];
const ST_SLOPE: readonly Answer[] = [
  { value: 1, local: 'upsloping', display: 'Upsloping' },
  { value: 2, local: 'flat', display: 'Flat' },
  { value: 3, local: 'downsloping', display: 'Downsloping' },
];
const THAL: readonly Answer[] = [
  { value: 3, local: 'normal', display: 'Normal' },
  { value: 6, local: 'fixed-defect', display: 'Fixed defect' },
  { value: 7, local: 'reversible-defect', display: 'Reversible defect' },
];

/** What each input becomes in FHIR (documentation table, also rendered in docs/data.md). */
export const UCI_HEART_MAPPING: Readonly<Record<UciHeartInput, string>> = {
  age: 'Patient.birthDate (age in years at the work-up date)',
  sex: 'Patient.gender (male = 1, female = 0)',
  cp: `Observation ${VIGIL_CARDIOLOGY}#${CARDIOLOGY_CODES.chestPainType}, valueCodeableConcept (SNOMED CT 429559004 / 371807002 / local / 161971004)`,
  trestbps: `Observation LOINC ${VITALS.systolicBp} (resting systolic BP), mm[Hg]`,
  chol: `Observation LOINC ${LABS.cholesterolTotal} (cholesterol in serum/plasma), mg/dL`,
  fbs: `Observation ${VIGIL_CARDIOLOGY}#${CARDIOLOGY_CODES.fastingGlucoseOver120}, valueBoolean; when reading, LOINC ${LABS.glucoseFasting} (mg/dL) > 120 also counts`,
  restecg: `Observation ${VIGIL_CARDIOLOGY}#${CARDIOLOGY_CODES.restingEcg}, valueCodeableConcept (SNOMED CT 164854000 / 428750005 / 164873001)`,
  thalach: `Observation ${VIGIL_CARDIOLOGY}#${CARDIOLOGY_CODES.maxHeartRateExercise}, /min`,
  exang: `Observation ${VIGIL_CARDIOLOGY}#${CARDIOLOGY_CODES.exerciseInducedAngina}, valueBoolean`,
  oldpeak: `Observation ${VIGIL_CARDIOLOGY}#${CARDIOLOGY_CODES.stDepressionExercise}, mm (ST depression relative to rest)`,
  slope: `Observation ${VIGIL_CARDIOLOGY}#${CARDIOLOGY_CODES.peakExerciseStSlope}, valueCodeableConcept (upsloping / flat / downsloping)`,
  ca: `Observation ${VIGIL_CARDIOLOGY}#${CARDIOLOGY_CODES.fluoroscopyVessels}, valueInteger 0–3`,
  thal: `Observation ${VIGIL_CARDIOLOGY}#${CARDIOLOGY_CODES.thalliumStressResult}, valueCodeableConcept (normal / fixed-defect / reversible-defect)`,
};

function parseCell(cell: string | undefined): number | null {
  const text = cell?.trim();
  if (text === undefined || text === '' || text === '?') return null;
  const value = Number(text);
  return Number.isFinite(value) ? value : null;
}

/** Parses one line of processed.cleveland.data (comma-separated, `?` for missing). */
export function parseClevelandLine(line: string): UciHeartRow {
  const cells = line.split(',');
  if (cells.length !== 14) throw new Error(`Expected 14 comma-separated values, got ${cells.length}`);
  const row = { num: parseCell(cells[13]) } as UciHeartRow;
  UCI_HEART_INPUTS.forEach((name, i) => {
    row[name] = parseCell(cells[i]);
  });
  return row;
}

export interface UciToFhirOptions {
  /** Prefix for the Observation ids (e.g. the sandbox patient key); ids are `${idPrefix}-uci-${input}`. */
  idPrefix: string;
  /** Reference to the Patient, e.g. "Patient/123". */
  subject: string;
  /** Reference to the work-up Encounter, if any. */
  encounter?: string;
  /** effectiveDateTime of every Observation (ISO 8601). */
  effective: string;
}

const category = (code: string): CodeableConcept[] => [{ coding: [{ system: OBSERVATION_CATEGORY, code }] }];
const local = (code: string, display: string): CodeableConcept => ({ coding: [{ system: VIGIL_CARDIOLOGY, code, display }], text: display });

function answerConcept(answer: Answer, answerSystem: string): CodeableConcept {
  const coding: Coding[] = [];
  if (answer.snomed) coding.push({ system: SNOMED, code: answer.snomed, display: answer.display });
  coding.push({ system: answerSystem, code: answer.local, display: answer.display });
  return { coding, text: answer.display };
}

/**
 * The Observations for one row's inputs (age and sex excluded: they belong to the Patient). Inputs
 * that are missing (`null`) or not a documented category produce no Observation.
 */
export function uciRowToFhir(row: UciHeartInputs, options: UciToFhirOptions): Observation[] {
  const out: Observation[] = [];
  const base = (input: UciHeartInput, cat: string, code: CodeableConcept): Observation => ({
    resourceType: 'Observation',
    id: `${options.idPrefix}-uci-${input}`,
    status: 'final',
    category: category(cat),
    code,
    subject: { reference: options.subject },
    ...(options.encounter ? { encounter: { reference: options.encounter } } : {}),
    effectiveDateTime: options.effective,
  });
  const coded = (input: UciHeartInput, cat: string, code: CodeableConcept, answers: readonly Answer[], system: string): void => {
    const answer = answers.find((a) => a.value === row[input]);
    if (answer) out.push({ ...base(input, cat, code), valueCodeableConcept: answerConcept(answer, system) });
  };
  const quantity = (input: UciHeartInput, cat: string, code: CodeableConcept, ucum: string, unit: string): void => {
    const value = row[input];
    if (value !== null) out.push({ ...base(input, cat, code), valueQuantity: { value, unit, system: UCUM, code: ucum } });
  };
  const flag = (input: UciHeartInput, cat: string, code: CodeableConcept): void => {
    const value = row[input];
    if (value === 0 || value === 1) out.push({ ...base(input, cat, code), valueBoolean: value === 1 });
  };

  coded('cp', 'exam', local(CARDIOLOGY_CODES.chestPainType, 'Chest pain type'), CHEST_PAIN, `${VIGIL_CARDIOLOGY}/chest-pain-type`);
  quantity('trestbps', 'vital-signs', loinc(VITALS.systolicBp, 'Systolic blood pressure'), 'mm[Hg]', 'mmHg');
  quantity('chol', 'laboratory', loinc(LABS.cholesterolTotal, 'Cholesterol [Mass/volume] in Serum or Plasma'), 'mg/dL', 'mg/dL');
  flag('fbs', 'laboratory', local(CARDIOLOGY_CODES.fastingGlucoseOver120, 'Fasting blood glucose > 120 mg/dL'));
  coded('restecg', 'procedure', local(CARDIOLOGY_CODES.restingEcg, 'Resting electrocardiogram result'), RESTING_ECG, `${VIGIL_CARDIOLOGY}/resting-ecg`);
  quantity('thalach', 'procedure', local(CARDIOLOGY_CODES.maxHeartRateExercise, 'Maximum heart rate achieved during exercise test'), '/min', 'beats/minute');
  flag('exang', 'procedure', local(CARDIOLOGY_CODES.exerciseInducedAngina, 'Exercise-induced angina'));
  quantity('oldpeak', 'procedure', local(CARDIOLOGY_CODES.stDepressionExercise, 'ST depression induced by exercise relative to rest'), 'mm', 'mm');
  coded('slope', 'procedure', local(CARDIOLOGY_CODES.peakExerciseStSlope, 'Slope of the peak exercise ST segment'), ST_SLOPE, `${VIGIL_CARDIOLOGY}/st-slope`);
  const ca = row.ca;
  if (ca !== null && Number.isInteger(ca) && ca >= 0 && ca <= 3) {
    out.push({ ...base('ca', 'procedure', local(CARDIOLOGY_CODES.fluoroscopyVessels, 'Number of major vessels coloured by fluoroscopy')), valueInteger: ca });
  }
  coded('thal', 'procedure', local(CARDIOLOGY_CODES.thalliumStressResult, 'Thallium stress test result'), THAL, `${VIGIL_CARDIOLOGY}/thal`);
  return out;
}

function loinc(code: string, display: string): CodeableConcept {
  return { coding: [{ system: LOINC, code, display }], text: display };
}

function hasCode(concept: CodeableConcept | undefined, system: string, code: string): boolean {
  return (concept?.coding ?? []).some((c) => c.system === system && c.code === code);
}

function effectiveTime(observation: Observation): number {
  const text = observation.effectiveDateTime ?? observation.effectivePeriod?.end ?? observation.effectivePeriod?.start ?? observation.issued;
  const t = text ? Date.parse(text) : NaN;
  return Number.isNaN(t) ? -Infinity : t;
}

function answerValue(concept: CodeableConcept | undefined, answers: readonly Answer[]): number | null {
  for (const coding of concept?.coding ?? []) {
    const match = answers.find((a) =>
      coding.system === SNOMED ? a.snomed !== undefined && a.snomed === coding.code : coding.system?.startsWith(VIGIL_CARDIOLOGY) && a.local === coding.code,
    );
    if (match) return match.value;
  }
  return null;
}

/** Whole years between birthDate and the given instant. */
export function ageInYears(birthDate: string, at: Date): number {
  const [y, m, d] = birthDate.split('-').map(Number) as [number, number?, number?];
  let age = at.getUTCFullYear() - y;
  const month = at.getUTCMonth() + 1;
  if (month < (m ?? 1) || (month === (m ?? 1) && at.getUTCDate() < (d ?? 1))) age -= 1;
  return age;
}

/**
 * The 13 UCI inputs from a patient and their Observations; for each input the latest usable
 * Observation wins, `null` where none is found. Age is computed at the latest work-up Observation's
 * time (else `asOf`). Resting BP also accepts a systolic component of a BP panel; fasting blood sugar
 * also accepts a fasting glucose quantity (LOINC 1558-6, mg/dL).
 */
export function fhirToUciInputs(patient: Patient | undefined, observations: readonly Observation[], asOf: Date = new Date()): UciHeartInputs {
  const usable = observations
    .filter((o) => o.status !== 'entered-in-error' && o.status !== 'cancelled')
    .slice()
    .sort((a, b) => effectiveTime(b) - effectiveTime(a));
  const latest = <T>(read: (o: Observation) => T | null): { value: T; at: number } | null => {
    for (const o of usable) {
      const value = read(o);
      if (value !== null) return { value, at: effectiveTime(o) };
    }
    return null;
  };
  const localCode = (o: Observation, code: string): boolean => hasCode(o.code, VIGIL_CARDIOLOGY, code);
  const qty = (o: Observation, ucum: string): number | null =>
    o.valueQuantity?.value !== undefined && (o.valueQuantity.code ?? o.valueQuantity.unit) === ucum ? o.valueQuantity.value : null;

  const cp = latest((o) => (localCode(o, CARDIOLOGY_CODES.chestPainType) ? answerValue(o.valueCodeableConcept, CHEST_PAIN) : null));
  const trestbps = latest((o) => {
    if (hasCode(o.code, LOINC, VITALS.systolicBp)) return qty(o, 'mm[Hg]');
    const component = o.component?.find((c) => hasCode(c.code, LOINC, VITALS.systolicBp));
    return component?.valueQuantity?.value !== undefined && (component.valueQuantity.code ?? component.valueQuantity.unit) === 'mm[Hg]'
      ? component.valueQuantity.value
      : null;
  });
  const chol = latest((o) => (hasCode(o.code, LOINC, LABS.cholesterolTotal) ? qty(o, 'mg/dL') : null));
  const fbs = latest((o) => {
    if (localCode(o, CARDIOLOGY_CODES.fastingGlucoseOver120) && typeof o.valueBoolean === 'boolean') return o.valueBoolean ? 1 : 0;
    if (hasCode(o.code, LOINC, LABS.glucoseFasting)) {
      const v = qty(o, 'mg/dL');
      return v === null ? null : v > 120 ? 1 : 0;
    }
    return null;
  });
  const restecg = latest((o) => (localCode(o, CARDIOLOGY_CODES.restingEcg) ? answerValue(o.valueCodeableConcept, RESTING_ECG) : null));
  const thalach = latest((o) => (localCode(o, CARDIOLOGY_CODES.maxHeartRateExercise) ? qty(o, '/min') : null));
  const exang = latest((o) =>
    localCode(o, CARDIOLOGY_CODES.exerciseInducedAngina) && typeof o.valueBoolean === 'boolean' ? (o.valueBoolean ? 1 : 0) : null,
  );
  const oldpeak = latest((o) => (localCode(o, CARDIOLOGY_CODES.stDepressionExercise) ? qty(o, 'mm') : null));
  const slope = latest((o) => (localCode(o, CARDIOLOGY_CODES.peakExerciseStSlope) ? answerValue(o.valueCodeableConcept, ST_SLOPE) : null));
  const ca = latest((o) => (localCode(o, CARDIOLOGY_CODES.fluoroscopyVessels) && o.valueInteger !== undefined ? o.valueInteger : null));
  const thal = latest((o) => (localCode(o, CARDIOLOGY_CODES.thalliumStressResult) ? answerValue(o.valueCodeableConcept, THAL) : null));

  const workupTimes = [cp, restecg, thalach, exang, oldpeak, slope, ca, thal]
    .map((r) => r?.at ?? -Infinity)
    .filter((t) => Number.isFinite(t));
  const ageAt = workupTimes.length > 0 ? new Date(Math.max(...workupTimes)) : asOf;
  const gender = patient?.gender;

  return {
    age: patient?.birthDate ? ageInYears(patient.birthDate, ageAt) : null,
    sex: gender === 'male' ? 1 : gender === 'female' ? 0 : null,
    cp: cp?.value ?? null,
    trestbps: trestbps?.value ?? null,
    chol: chol?.value ?? null,
    fbs: fbs?.value ?? null,
    restecg: restecg?.value ?? null,
    thalach: thalach?.value ?? null,
    exang: exang?.value ?? null,
    oldpeak: oldpeak?.value ?? null,
    slope: slope?.value ?? null,
    ca: ca?.value ?? null,
    thal: thal?.value ?? null,
  };
}
