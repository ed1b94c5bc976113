/**
 * The heart-disease model's inputs from the cardiology work-up only. Pure.
 *
 * Work-up rule (docs/services/heart-disease.md): an Observation counts when it is coded in the local
 * cardiology code system (VIGIL_CARDIOLOGY), or belongs to a work-up Encounter — one whose type is a
 * cardiology test (WORKUP_ENCOUNTER_TYPES) or, in the sandbox data, whose id ends in "-cardio". ICU blood
 * pressures and ward cholesterol are not "resting BP at work-up" and must not override it.
 *
 * Then heartInputFromFhir (src/models) reads the 13 inputs; here each input is traced back to the
 * Observation it came from (the newest one that yields it alone, which is the mapping's own rule), and
 * unknown units and implausible values are reported so the card can refuse to score.
 */
import type { Encounter, Observation, Patient, Quantity } from 'fhir/r4';
import { LOINC, VIGIL_CARDIOLOGY, VITALS, LABS } from '../../../fhir/codes.js';
import { CARDIOLOGY_CODES } from '../../../fhir/mappings/uci-heart.js';
import { HEART_INPUTS, type HeartInput } from '../../../models/data/uci-heart.js';
import { heartInputFromFhir, type HeartDiseaseInput, type ModelManifest } from '../../../models/index.js';
import { WORKUP_ENCOUNTER_TYPES } from './definition.js';

const SANDBOX_WORKUP_SUFFIX = '-cardio';

export function workupEncounterIds(encounters: readonly Encounter[]): Set<string> {
  const ids = new Set<string>();
  for (const e of encounters) {
    const codings = (Array.isArray(e.type) ? e.type : []).flatMap((t) => (Array.isArray(t?.coding) ? t.coding : []));
    if (e.id && codings.some((c) => WORKUP_ENCOUNTER_TYPES.some((w) => w.system === c?.system && w.code === c.code))) ids.add(e.id);
  }
  return ids;
}

export function isWorkupObservation(o: Observation, workupEncounters: ReadonlySet<string>): boolean {
  const codings = Array.isArray(o.code?.coding) ? o.code.coding : [];
  if (codings.some((c) => c?.system?.startsWith(VIGIL_CARDIOLOGY))) return true;
  const ref = o.encounter?.reference;
  const id = typeof ref === 'string' && ref.startsWith('Encounter/') ? ref.slice('Encounter/'.length) : undefined;
  return id !== undefined && (workupEncounters.has(id) || id.endsWith(SANDBOX_WORKUP_SUFFIX));
}

/** Quantity inputs: how to recognise their Observations and the one unit the mapping reads. */
const QUANTITY_INPUTS: ReadonlyArray<{ input: HeartInput; system: string; code: string; unit: string }> = [
  { input: 'trestbps', system: LOINC, code: VITALS.systolicBp, unit: 'mm[Hg]' },
  { input: 'chol', system: LOINC, code: LABS.cholesterolTotal, unit: 'mg/dL' },
  { input: 'thalach', system: VIGIL_CARDIOLOGY, code: CARDIOLOGY_CODES.maxHeartRateExercise, unit: '/min' },
  { input: 'oldpeak', system: VIGIL_CARDIOLOGY, code: CARDIOLOGY_CODES.stDepressionExercise, unit: 'mm' },
];

function timeOf(o: Observation): number {
  const text = o.effectiveDateTime ?? o.effectivePeriod?.end ?? o.effectivePeriod?.start ?? o.issued;
  const t = text ? Date.parse(text) : NaN;
  return Number.isNaN(t) ? -Infinity : t;
}

function quantityFor(o: Observation, system: string, code: string): Quantity | undefined | null {
  const has = (concept: Observation['code'] | undefined) => (Array.isArray(concept?.coding) ? concept.coding : []).some((c) => c?.system === system && c.code === code);
  if (has(o.code)) return o.valueQuantity;
  const component = (Array.isArray(o.component) ? o.component : []).find((c) => has(c?.code));
  return component ? component.valueQuantity : null;
}

export interface HeartInputs {
  input: HeartDiseaseInput;
  /** Per input, the Observation ids (or "Patient/<id>" for age and sex) it came from. */
  evidence: Record<HeartInput, string[]>;
  /** Why scoring would be unsafe (unknown unit, implausible value); empty when it is not. */
  problems: string[];
  notUsed: Array<{ reference?: string; reason: string }>;
  workupObservations: Observation[];
}

export function heartInputs(
  patient: Patient | undefined,
  observations: readonly Observation[],
  encounters: readonly Encounter[],
  manifest: ModelManifest,
  now: Date,
): HeartInputs {
  const workupIds = workupEncounterIds(encounters);
  const workup = observations.filter((o) => isWorkupObservation(o, workupIds));
  const input = heartInputFromFhir(patient, workup, now);
  const evidence = Object.fromEntries(HEART_INPUTS.map((n) => [n, [] as string[]])) as Record<HeartInput, string[]>;
  const newestFirst = workup.slice().sort((a, b) => timeOf(b) - timeOf(a));
  for (const name of HEART_INPUTS) {
    if (name === 'age' || name === 'sex') {
      if (patient?.id && !Number.isNaN(input[name])) evidence[name].push(`Patient/${patient.id}`);
      continue;
    }
    if (Number.isNaN(input[name])) continue;
    const source = newestFirst.find((o) => o.id && !Number.isNaN(heartInputFromFhir(undefined, [o], now)[name]));
    if (source?.id) evidence[name].push(`Observation/${source.id}`);
  }

  const problems: string[] = [];
  const notUsed: HeartInputs['notUsed'] = [];
  for (const q of QUANTITY_INPUTS) {
    const label = manifest.input.fields.find((f) => f.name === q.input)?.display ?? q.input;
    const usedAt = evidence[q.input].length ? timeOf(workup.find((o) => `Observation/${o.id}` === evidence[q.input][0])!) : -Infinity;
    for (const o of newestFirst) {
      const quantity = quantityFor(o, q.system, q.code);
      if (quantity === null || quantity === undefined || typeof quantity.value !== 'number') continue;
      const unit = quantity.code ?? quantity.unit;
      if (unit === q.unit) continue;
      const reference = o.id ? `Observation/${o.id}` : undefined;
      const reason = `${label} ${quantity.value} in unit "${unit ?? '(none)'}" cannot be read (expected ${q.unit})`;
      notUsed.push({ ...(reference ? { reference } : {}), reason });
      if (timeOf(o) > usedAt) problems.push(`${reason}${reference ? ` (${reference})` : ''}, and no later usable value replaces it`);
    }
  }
  for (const field of manifest.input.fields) {
    const name = field.name as HeartInput;
    const value = input[name];
    if (!field.plausible || Number.isNaN(value)) continue;
    if (value < field.plausible.min || value > field.plausible.max) {
      const ref = evidence[name][0];
      problems.push(
        `${field.display ?? name} ${value}${field.unit ? ` ${field.unit}` : ''} is outside the plausible range ${field.plausible.min}–${field.plausible.max}${ref ? ` (${ref})` : ''}`,
      );
    }
  }
  return { input, evidence, problems, notUsed, workupObservations: workup };
}
