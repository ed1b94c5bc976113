import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Bundle, Observation } from 'fhir/r4';
import { normalizeQuantity, observationValues, readObservationValues } from '../../src/fhir/observations.js';
import { convertUcum, toUcumCode } from '../../src/fhir/ucum.js';
import { createFhirClient } from '../../src/fhir/fhir-client.js';
import { LOINC, UCUM } from '../../src/fhir/codes.js';
import { startFakeServer, type FakeServer } from './fake-fhir-server.js';

const bp: Observation = {
  resourceType: 'Observation',
  id: 'bp1',
  status: 'final',
  code: { coding: [{ system: LOINC, code: '85354-9' }] },
  effectiveDateTime: '2024-01-01T10:00:00Z',
  component: [
    { code: { coding: [{ system: LOINC, code: '8480-6' }] }, valueQuantity: { value: 16, unit: 'kPa', system: UCUM, code: 'kPa' } },
    { code: { coding: [{ system: LOINC, code: '8462-4' }] }, valueQuantity: { value: 80, unit: 'mmHg', system: UCUM, code: 'mm[Hg]' } },
  ],
};
const temp: Observation = {
  resourceType: 'Observation',
  id: 't1',
  status: 'final',
  code: { coding: [{ system: LOINC, code: '8310-5' }] },
  effectiveDateTime: '2024-01-01T11:00:00+01:00',
  valueQuantity: { value: 98.6, unit: 'degF' },
};
const avpu: Observation = {
  resourceType: 'Observation',
  id: 'a1',
  status: 'final',
  code: { coding: [{ system: LOINC, code: '67775-7' }] },
  effectiveDateTime: '2024-01-01T09:00:00Z',
  valueCodeableConcept: { coding: [{ system: 'http://snomed.info/sct', code: '248234008' }], text: 'Alert' },
};

describe('UCUM', () => {
  it.each([
    ['mg/dl', 'mg/dL'],
    ['mmHg', 'mm[Hg]'],
    ['tera.l-1', '10*12/L'],
    ['bpm', '/min'],
    ['10*9/L', '10*9/L'],
    ['not a unit', undefined],
  ])('%s → %s', (unit, code) => {
    expect(toUcumCode(unit)).toBe(code);
  });

  it('converts commensurable units and refuses others', () => {
    expect(convertUcum(98.6, '[degF]', 'Cel')).toBeCloseTo(37, 5);
    expect(convertUcum(16, 'kPa', 'mm[Hg]')).toBeCloseTo(120.0, 0);
    expect(convertUcum(90, 'mg/dL', 'mmol/L', { molecularWeight: 180.16 })).toBeCloseTo(4.995, 2);
    expect(convertUcum(1, 'mg/dL', '/min')).toBeUndefined();
  });

  it('reports a unit that is not UCUM instead of guessing', () => {
    expect(normalizeQuantity({ value: 5, unit: 'furlongs' }, 'm').problem).toMatch(/not UCUM/);
  });
});

describe('observationValues', () => {
  it('expands blood-pressure components into values under their own codes, converted', () => {
    const values = observationValues(bp, { '8480-6': 'mm[Hg]' });
    expect(values.map((v) => [v.code, Math.round(v.value!), v.unit])).toEqual([
      ['8480-6', 120, 'mm[Hg]'],
      ['8462-4', 80, 'mm[Hg]'],
    ]);
  });

  it('converts valueQuantity printed units and keeps coded answers', () => {
    expect(observationValues(temp, { '8310-5': 'Cel' })[0]).toMatchObject({ code: '8310-5', unit: 'Cel', time: '2024-01-01T11:00:00+01:00' });
    expect(observationValues(temp, { '8310-5': 'Cel' })[0]!.value).toBeCloseTo(37, 5);
    expect(observationValues(avpu)[0]).toMatchObject({ code: '67775-7', text: 'Alert', coding: [{ code: '248234008' }] });
  });
});

describe('readObservationValues over the resilient client', () => {
  let server: FakeServer;
  beforeAll(async () => {
    server = await startFakeServer(() => {
      const bundle: Bundle = { resourceType: 'Bundle', type: 'searchset', entry: [bp, temp, avpu].map((resource) => ({ resource, search: { mode: 'match' as const } })) };
      return { body: bundle };
    });
  });
  afterAll(() => server.close());

  it('queries by patient, LOINC code set and window; returns asked-for codes newest first in target units', async () => {
    const client = createFhirClient({ baseUrl: server.baseUrl });
    const { values } = await readObservationValues(
      client,
      { patientId: 'p1', codes: ['8480-6', '85354-9', '8310-5', '67775-7'], from: new Date('2024-01-01T00:00:00Z'), to: new Date('2024-01-02T00:00:00Z') },
      { '8480-6': 'mm[Hg]', '8310-5': 'Cel' },
    );
    const url = server.requests.find((r) => r.url.startsWith('Observation'))!.url;
    expect(url).toContain('patient=Patient/p1');
    expect(url).toContain(`code=${LOINC}|8480-6,${LOINC}|85354-9`);
    expect(url).toContain('date=ge2024-01-01T00:00:00.000Z&date=le2024-01-02T00:00:00.000Z');
    expect(url).toContain('_count=200');
    expect(values.map((v) => v.code)).toEqual(['8480-6', '8310-5', '67775-7']);
  });
});
