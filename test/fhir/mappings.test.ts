import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import type { Observation, Patient } from 'fhir/r4';
import { LABS, LOINC, UCUM, VITALS } from '../../src/fhir/codes.js';
import {
  PHYSIONET_COLUMNS,
  PHYSIONET_MAPPINGS,
  PHYSIONET_OBSERVATION_MAPPINGS,
  observationToPhysioNet,
  sourceToFhir,
} from '../../src/fhir/mappings/physionet.js';
import {
  UCI_HEART_INPUTS,
  fhirToUciInputs,
  parseClevelandLine,
  uciRowToFhir,
  type UciHeartRow,
} from '../../src/fhir/mappings/uci-heart.js';
import { findRepoRoot } from '../../src/sandbox/patients.js';

function quantityObservation(code: string, value: number, ucum: string, extra: Partial<Observation> = {}): Observation {
  return {
    resourceType: 'Observation',
    status: 'final',
    code: { coding: [{ system: LOINC, code }] },
    valueQuantity: { value, system: UCUM, code: ucum },
    ...extra,
  };
}

describe('PhysioNet mapping table', () => {
  it('has exactly one entry per PhysioNet column', () => {
    expect(PHYSIONET_MAPPINGS.map((m) => m.column).sort()).toEqual([...PHYSIONET_COLUMNS].sort());
  });

  it('gives every observation column a LOINC code, a UCUM unit, a category and a sane plausible range', () => {
    const codes = new Set<string>();
    for (const m of PHYSIONET_OBSERVATION_MAPPINGS) {
      expect(m.primary.code).toMatch(/^\d{1,6}-\d$/);
      expect(m.primary.ucum.length).toBeGreaterThan(0);
      expect(['vital-signs', 'laboratory']).toContain(m.category);
      expect(m.primary.plausible.min).toBeLessThan(m.primary.plausible.max);
      expect(codes.has(m.primary.code)).toBe(false);
      codes.add(m.primary.code);
    }
    expect(PHYSIONET_OBSERVATION_MAPPINGS).toHaveLength(34);
  });

  it('converts FiO2 fractions to percent and rejects sub-room-air values', () => {
    expect(sourceToFhir('FiO2', 0.35)).toMatchObject({ value: 35, representation: { code: VITALS.inhaledO2Concentration, ucum: '%' } });
    expect(sourceToFhir('FiO2', 1)?.value).toBe(100);
    expect(sourceToFhir('FiO2', 0.06)).toBeUndefined();
  });

  it('keeps lactate in mmol/L and magnesium in mg/dL (the units the values are really in)', () => {
    expect(sourceToFhir('Lactate', 1.98)).toMatchObject({ value: 1.98, representation: { code: LABS.lactate, ucum: 'mmol/L' } });
    expect(sourceToFhir('Magnesium', 2.1)).toMatchObject({ value: 2.1, representation: { code: LABS.magnesium, ucum: 'mg/dL' } });
  });

  it('writes calcium below 3 as ionized calcium (mmol/L) and the rest as total calcium (mg/dL)', () => {
    expect(sourceToFhir('Calcium', 1.15)?.representation).toMatchObject({ code: LABS.calciumIonized, ucum: 'mmol/L' });
    expect(sourceToFhir('Calcium', 8.4)?.representation).toMatchObject({ code: LABS.calciumTotal, ucum: 'mg/dL' });
  });

  it('rejects missing and implausible values', () => {
    expect(sourceToFhir('HR', Number.NaN)).toBeUndefined();
    expect(sourceToFhir('Resp', 99)).toBeUndefined();
    expect(sourceToFhir('DBP', 276)).toBeUndefined();
    expect(sourceToFhir('Age', 60)).toBeUndefined();
    expect(sourceToFhir('SepsisLabel', 1)).toBeUndefined();
  });

  it('round-trips every plausible source value through FHIR back to the same source value', () => {
    for (const mapping of PHYSIONET_OBSERVATION_MAPPINGS) {
      const { min, max } = mapping.primary.plausible;
      const lo = mapping.primary.toSource(min);
      const hi = mapping.primary.toSource(max);
      fc.assert(
        fc.property(fc.double({ min: lo, max: hi, noNaN: true }), (source) => {
          const fhir = sourceToFhir(mapping.column, source);
          if (!fhir) return mapping.variant !== undefined; // Calcium's ionized band may reject some values
          const obs = quantityObservation(fhir.representation.code, fhir.value, fhir.representation.ucum);
          const readings = observationToPhysioNet(obs);
          expect(readings).toHaveLength(1);
          expect(readings[0]?.column).toBe(mapping.column);
          expect(readings[0]?.sourceValue).toBeCloseTo(source, 5);
          return true;
        }),
        { numRuns: 50 },
      );
    }
  });
});

describe('observationToPhysioNet', () => {
  it('reads both components of a blood-pressure panel (ours and Synthea’s 55284-4)', () => {
    for (const panel of [VITALS.bloodPressurePanel, '55284-4']) {
      const obs: Observation = {
        resourceType: 'Observation',
        status: 'final',
        code: { coding: [{ system: LOINC, code: panel }] },
        component: [
          { code: { coding: [{ system: LOINC, code: VITALS.systolicBp }] }, valueQuantity: { value: 121, system: UCUM, code: 'mm[Hg]' } },
          { code: { coding: [{ system: LOINC, code: VITALS.diastolicBp }] }, valueQuantity: { value: 70, system: UCUM, code: 'mm[Hg]' } },
        ],
      };
      expect(observationToPhysioNet(obs)).toEqual([
        { column: 'SBP', value: 121, sourceValue: 121 },
        { column: 'DBP', value: 70, sourceValue: 70 },
      ]);
    }
  });

  it('converts accepted alternative units and codes', () => {
    const first = (o: Observation) => observationToPhysioNet(o)[0];
    expect(first(quantityObservation(VITALS.bodyTemperature, 98.6, '[degF]'))).toMatchObject({ column: 'Temp', value: 37 });
    expect(first(quantityObservation('8331-1', 37.2, 'Cel'))).toMatchObject({ column: 'Temp', value: 37.2 });
    expect(first(quantityObservation(LABS.glucoseBlood, 5.5, 'mmol/L'))?.value).toBeCloseTo(99.088, 3);
    expect(first(quantityObservation(LABS.creatinine, 88.42, 'umol/L'))).toMatchObject({ column: 'Creatinine', value: 1 });
    expect(first(quantityObservation(VITALS.oxygenSaturation, 94, '%'))).toMatchObject({ column: 'SaO2', value: 94 });
    expect(first(quantityObservation(VITALS.inhaledO2Concentration, 0.5, '1'))).toMatchObject({ column: 'FiO2', value: 50, sourceValue: 0.5 });
    expect(first(quantityObservation(LABS.lactateBlood, 4.1, 'mmol/L'))).toMatchObject({ column: 'Lactate', value: 4.1 });
  });

  it('ignores unknown units, unknown codes, implausible values and entered-in-error results', () => {
    expect(observationToPhysioNet(quantityObservation(VITALS.heartRate, 80, 'Hz'))).toEqual([]);
    expect(observationToPhysioNet(quantityObservation('0000-0', 80, '/min'))).toEqual([]);
    expect(observationToPhysioNet(quantityObservation(VITALS.heartRate, 900, '/min'))).toEqual([]);
    expect(observationToPhysioNet(quantityObservation(VITALS.heartRate, 80, '/min', { status: 'entered-in-error' }))).toEqual([]);
  });
});

const clevelandLines = (): string[] =>
  readFileSync(path.join(findRepoRoot(), 'data', 'raw', 'uci-heart-disease', 'processed.cleveland.data'), 'utf8')
    .split('\n')
    .filter((l) => l.trim().length > 0);

function patientAged(age: number, sex: number | null, at: string): Patient {
  const year = new Date(at).getUTCFullYear() - age;
  return { resourceType: 'Patient', gender: sex === 1 ? 'male' : 'female', birthDate: `${year}-01-01` };
}

describe('UCI heart mapping', () => {
  it('parses a line, with ? as null', () => {
    const row = parseClevelandLine('53.0,0.0,3.0,128.0,216.0,0.0,2.0,115.0,0.0,0.0,1.0,0.0,?,0');
    expect(row).toMatchObject({ age: 53, sex: 0, cp: 3, trestbps: 128, thal: null, ca: 0, num: 0 });
    expect(() => parseClevelandLine('1,2,3')).toThrow(/14/);
  });

  it('round-trips all 303 Cleveland rows through FHIR to the same 13 inputs', () => {
    const effective = '2025-11-17T12:00:00Z';
    const lines = clevelandLines();
    expect(lines).toHaveLength(303);
    for (const [i, line] of lines.entries()) {
      const row: UciHeartRow = parseClevelandLine(line);
      const observations = uciRowToFhir(row, { idPrefix: `r${i}`, subject: 'Patient/p', effective });
      for (const o of observations) {
        if (o.valueQuantity) expect(o.valueQuantity.system).toBe(UCUM);
      }
      const back = fhirToUciInputs(patientAged(row.age as number, row.sex, effective), observations);
      const expected = Object.fromEntries(UCI_HEART_INPUTS.map((k) => [k, row[k]]));
      expect(back).toEqual(expected);
    }
  });

  it('writes resting BP and cholesterol with LOINC and UCUM', () => {
    const row = parseClevelandLine(clevelandLines()[0] as string);
    const observations = uciRowToFhir(row, { idPrefix: 'x', subject: 'Patient/p', effective: '2025-01-01T00:00:00Z' });
    const bp = observations.find((o) => o.code.coding?.[0]?.code === VITALS.systolicBp);
    const chol = observations.find((o) => o.code.coding?.[0]?.code === LABS.cholesterolTotal);
    expect(bp?.valueQuantity).toEqual({ value: 145, unit: 'mmHg', system: UCUM, code: 'mm[Hg]' });
    expect(chol?.valueQuantity).toMatchObject({ value: 233, code: 'mg/dL' });
    expect(observations).toHaveLength(11);
  });

  it('returns null for missing inputs and reads real-world equivalents', () => {
    expect(fhirToUciInputs(undefined, [])).toEqual(Object.fromEntries(UCI_HEART_INPUTS.map((k) => [k, null])));
    const fasting = quantityObservation(LABS.glucoseFasting, 131, 'mg/dL', { effectiveDateTime: '2025-01-01' });
    const panel: Observation = {
      resourceType: 'Observation',
      status: 'final',
      code: { coding: [{ system: LOINC, code: VITALS.bloodPressurePanel }] },
      effectiveDateTime: '2025-01-02',
      component: [{ code: { coding: [{ system: LOINC, code: VITALS.systolicBp }] }, valueQuantity: { value: 150, system: UCUM, code: 'mm[Hg]' } }],
    };
    const inputs = fhirToUciInputs({ resourceType: 'Patient', gender: 'other' }, [fasting, panel], new Date('2025-06-01'));
    expect(inputs).toMatchObject({ fbs: 1, trestbps: 150, sex: null, age: null, ca: null });
  });

  it('prefers the latest observation of each input', () => {
    const older = uciRowToFhir(parseClevelandLine('60,1,4,130,206,0,2,132,1,2.4,2,2,7,4'), { idPrefix: 'a', subject: 'Patient/p', effective: '2024-01-01T00:00:00Z' });
    const newer = uciRowToFhir(parseClevelandLine('60,1,4,140,250,0,2,150,0,1.0,1,0,3,0'), { idPrefix: 'b', subject: 'Patient/p', effective: '2025-01-01T00:00:00Z' });
    expect(fhirToUciInputs(undefined, [...older, ...newer])).toMatchObject({ trestbps: 140, chol: 250, thalach: 150, thal: 3, ca: 0 });
  });
});
