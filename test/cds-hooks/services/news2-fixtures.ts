/** Small FHIR builders shared by the NEWS2 tests. Not a test file itself. */
import type { Bundle, Condition, FhirResource, Observation, Quantity } from 'fhir/r4';

export const LOINC = 'http://loinc.org';
export const SNOMED = 'http://snomed.info/sct';
export const UCUM = 'http://unitsofmeasure.org';

export const NOW = new Date('2025-03-10T12:00:00Z');

/** ISO time `minutes` before NOW. */
export function ago(minutes: number): string {
  return new Date(NOW.getTime() - minutes * 60_000).toISOString();
}

export function qty(value: number, code: string, unit = code): Quantity {
  return { value, unit, system: UCUM, code };
}

let counter = 0;

export function obs(code: string, value: Quantity | undefined, overrides: Partial<Observation> = {}): Observation {
  counter += 1;
  return {
    resourceType: 'Observation',
    id: `obs-${counter}`,
    status: 'final',
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }],
    code: { coding: [{ system: LOINC, code }] },
    subject: { reference: 'Patient/p1' },
    effectiveDateTime: ago(30),
    ...(value ? { valueQuantity: value } : {}),
    ...overrides,
  };
}

export function bpPanel(systolic: number, diastolic: number, overrides: Partial<Observation> = {}, panelCode = '85354-9'): Observation {
  return obs(panelCode, undefined, {
    component: [
      { code: { coding: [{ system: LOINC, code: '8480-6' }] }, valueQuantity: qty(systolic, 'mm[Hg]', 'mmHg') },
      { code: { coding: [{ system: LOINC, code: '8462-4' }] }, valueQuantity: qty(diastolic, 'mm[Hg]', 'mmHg') },
    ],
    ...overrides,
  });
}

export function acvpu(system: string, code: string, overrides: Partial<Observation> = {}): Observation {
  return obs('67775-7', undefined, { valueCodeableConcept: { coding: [{ system, code }] }, ...overrides });
}

/** One full set of vitals; each entry can be overridden or dropped (undefined). */
export function vitalsSet(
  values: Partial<{
    rr: number;
    spo2: number;
    fio2: number;
    sbp: number;
    hr: number;
    acvpu: string;
    temp: number;
  }> = {},
  minutesAgo = 30,
): Observation[] {
  const v = { rr: 16, spo2: 97, fio2: 21, sbp: 125, hr: 72, acvpu: '248234008', temp: 36.8, ...values };
  const t = { effectiveDateTime: ago(minutesAgo) };
  const out: Observation[] = [];
  // A key given as undefined drops that reading; an absent key uses the normal value.
  const has = (key: keyof typeof v): boolean => !(key in values) || values[key] !== undefined;
  if (has('rr')) out.push(obs('9279-1', qty(v.rr, '/min'), t));
  if (has('spo2')) out.push(obs('59408-5', qty(v.spo2, '%'), t));
  if (has('fio2')) out.push(obs('3150-0', qty(v.fio2, '%'), t));
  if (has('sbp')) out.push(bpPanel(v.sbp, 80, t));
  if (has('hr')) out.push(obs('8867-4', qty(v.hr, '/min'), t));
  if (has('acvpu')) out.push(acvpu(SNOMED, v.acvpu, t));
  if (has('temp')) out.push(obs('8310-5', qty(v.temp, 'Cel', '°C'), t));
  return out;
}

export function searchset(resources: FhirResource[]): Bundle {
  return { resourceType: 'Bundle', type: 'searchset', total: resources.length, entry: resources.map((resource) => ({ resource })) };
}

export function condition(system: string, code: string, overrides: Partial<Condition> = {}): Condition {
  counter += 1;
  return {
    resourceType: 'Condition',
    id: `cond-${counter}`,
    clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }] },
    verificationStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-ver-status', code: 'confirmed' }] },
    code: { coding: [{ system, code }] },
    subject: { reference: 'Patient/p1' },
    ...overrides,
  };
}
