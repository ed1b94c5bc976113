import { describe, expect, it } from '@jest/globals';
import type { Observation, Quantity } from 'fhir/r4';
import {
  extractFromObservation,
  findScale2Condition,
  findUnconfirmedScale2Condition,
  inputsFrom,
  selectReadings,
} from '../../../src/cds-hooks/services/news2/observations.js';
import { normalizeQuantity } from '../../../src/cds-hooks/services/news2/units.js';
import { HYPERCAPNIC_RESPIRATORY_FAILURE, ICD10CM } from '../../../src/fhir/codes.js';
import { acvpu, ago, bpPanel, condition, LOINC, NOW, obs, qty, SNOMED, vitalsSet } from './news2-fixtures.js';

const TWELVE_HOURS = 12 * 3_600_000;
const select = (observations: Observation[]) => selectReadings(observations, { now: NOW, staleAfterMs: TWELVE_HOURS });

describe('unit conversion', () => {
  it.each([
    ['temperature', 100.4, '[degF]', 38],
    ['temperature', 98.6, '°F', 37],
    ['temperature', 310.15, 'K', 37],
    ['temperature', 37.2, 'Cel', 37.2],
    ['spo2', 0.95, '%', 95],
    ['spo2', 0.88, '1', 88],
    ['spo2', 97, '%', 97],
    ['inspiredOxygenFraction', 0.4, '1', 40],
    ['inspiredOxygenFraction', 28, '%', 28],
    ['systolicBp', 16, 'kPa', 120.0099],
    ['systolicBp', 120, 'mm[Hg]', 120],
    ['oxygenFlow', 2000, 'mL/min', 2],
    ['respiratoryRate', 18, '{breaths}/min', 18],
    ['pulse', 80, '{beats}/min', 80],
  ] as const)('%s %p %s → %p in the chart unit', (kind, value, unit, expected) => {
    const n = normalizeQuantity(kind, qty(value, unit));
    expect(n.ok).toBe(true);
    if (n.ok) expect(n.value).toBeCloseTo(expected, 3);
  });

  it('falls back to the human-readable unit when the UCUM code is unknown', () => {
    expect(normalizeQuantity('pulse', { value: 80, unit: 'bpm', code: 'beats-per-minute-local' })).toMatchObject({ ok: true, value: 80 });
  });

  it('takes unitless counts and percentages as canonical, but not temperatures or flows', () => {
    expect(normalizeQuantity('respiratoryRate', { value: 18 })).toMatchObject({ ok: true, value: 18 });
    expect(normalizeQuantity('spo2', { value: 0.93 })).toMatchObject({ ok: true, value: 93 });
    expect(normalizeQuantity('temperature', { value: 37 })).toEqual({ ok: false, reason: 'temperature 37 has no unit' });
    expect(normalizeQuantity('oxygenFlow', { value: 2 })).toMatchObject({ ok: false });
  });

  it.each([
    ['temperature', 37, 'mg', 'temperature unit "mg" is not supported'],
    ['spo2', 97, 'mm[Hg]', 'SpO2 unit "mm[Hg]" is not supported'],
    ['respiratoryRate', 120, '/min', 'respiration rate 120 /min is outside the plausible range 1–80 /min'],
    ['pulse', 0, '/min', 'pulse 0 /min is outside the plausible range 20–300 /min'],
    ['spo2', 101, '%', 'SpO2 101 % is outside the plausible range 40–100 %'],
    ['systolicBp', 400, 'mm[Hg]', 'systolic blood pressure 400 mmHg is outside the plausible range 40–300 mmHg'],
    ['temperature', 50, 'Cel', 'temperature 50 °C is outside the plausible range 25–45 °C'],
    ['inspiredOxygenFraction', 15, '%', 'inhaled oxygen concentration 15 % is outside the plausible range 21–100 %'],
  ] as const)('rejects %s %p %s with a reason', (kind, value, unit, reason) => {
    expect(normalizeQuantity(kind, qty(value, unit))).toEqual({ ok: false, reason });
  });

  it('rejects bounds and non-numbers', () => {
    expect(normalizeQuantity('spo2', { ...qty(90, '%'), comparator: '<' })).toMatchObject({ ok: false });
    expect(normalizeQuantity('spo2', undefined)).toMatchObject({ ok: false, reason: 'SpO2 has no numeric value' });
    expect(normalizeQuantity('spo2', { value: Number.NaN, code: '%' })).toMatchObject({ ok: false });
    expect(normalizeQuantity('gcs', { value: 13.5 })).toMatchObject({ ok: false });
  });
});

describe('extractFromObservation', () => {
  it('reads systolic from a BP panel component (both panel codes) and from a standalone 8480-6', () => {
    expect(extractFromObservation(bpPanel(132, 80))).toEqual([expect.objectContaining({ ok: true, parameter: 'systolicBp', value: 132 })]);
    expect(extractFromObservation(bpPanel(101, 60, {}, '55284-4'))).toEqual([expect.objectContaining({ ok: true, value: 101 })]);
    expect(extractFromObservation(obs('8480-6', qty(95, 'mm[Hg]')))).toEqual([expect.objectContaining({ ok: true, value: 95, display: '95 mmHg' })]);
  });

  it('reports a panel without a systolic component', () => {
    const panel = obs('85354-9', undefined, { component: [{ code: { coding: [{ system: LOINC, code: '8462-4' }] }, valueQuantity: qty(80, 'mm[Hg]') }] });
    expect(extractFromObservation(panel)).toEqual([expect.objectContaining({ ok: false, reason: 'blood pressure panel has no systolic component' })]);
  });

  it('maps ACVPU answers from SNOMED CT and LOINC', () => {
    const level = (o: Observation) => (extractFromObservation(o)[0] as { value: unknown }).value;
    expect(level(acvpu(SNOMED, '248234008'))).toBe('A');
    expect(level(acvpu(SNOMED, '130987000'))).toBe('C');
    expect(level(acvpu(SNOMED, '300202002'))).toBe('V');
    expect(level(acvpu(SNOMED, '450847001'))).toBe('P');
    expect(level(acvpu(SNOMED, '422768004'))).toBe('U');
    expect(level(acvpu(LOINC, 'LA9340-6'))).toBe('A');
    expect(level(acvpu(LOINC, 'LA17107-6'))).toBe('P');
    // The UK Core observable code works as well as LOINC 67775-7.
    const uk = acvpu(SNOMED, '422768004', { code: { coding: [{ system: SNOMED, code: '1104441000000107' }] } });
    expect(level(uk)).toBe('U');
  });

  it('rejects an ACVPU answer it does not know', () => {
    expect(extractFromObservation(acvpu(SNOMED, '999999'))).toEqual([
      expect.objectContaining({ ok: false, parameter: 'consciousness', reason: expect.stringContaining('999999') }),
    ]);
  });

  it('reads oxygen from FiO2 (> 21 % is oxygen) and from flow (> 0 L/min is oxygen)', () => {
    const value = (o: Observation) => extractFromObservation(o)[0];
    expect(value(obs('3150-0', qty(21, '%')))).toMatchObject({ value: false, display: 'Air (FiO2 21 %)' });
    expect(value(obs('3150-0', qty(0.28, '1')))).toMatchObject({ value: true, display: 'Oxygen (FiO2 28 %)' });
    expect(value(obs('3151-8', qty(2, 'L/min')))).toMatchObject({ value: true, display: 'Oxygen (2 L/min)' });
    expect(value(obs('3151-8', qty(0, 'L/min')))).toMatchObject({ value: false });
  });

  it('reads GCS as consciousness', () => {
    expect(extractFromObservation(obs('9269-2', qty(13, '{score}')))).toEqual([
      expect.objectContaining({ ok: true, parameter: 'consciousness', value: { gcs: 13 }, display: 'GCS 13' }),
    ]);
  });

  it('accepts SpO2 under 2708-6 and temperature under oral 8331-1', () => {
    expect(extractFromObservation(obs('2708-6', qty(93, '%')))[0]).toMatchObject({ parameter: 'spo2', value: 93 });
    expect(extractFromObservation(obs('8331-1', qty(38.2, 'Cel')))[0]).toMatchObject({ parameter: 'temperature', value: 38.2 });
  });

  it('reads wrongly shaped JSON as absent instead of throwing', () => {
    const componentObject = { ...bpPanel(120, 80), component: { code: '8480-6' } } as unknown as Observation;
    expect(extractFromObservation(componentObject)).toEqual([expect.objectContaining({ ok: false, reason: 'blood pressure panel has no systolic component' })]);
    const numericUnit = obs('8867-4', { value: 80, code: 42 } as unknown as Quantity);
    expect(extractFromObservation(numericUnit)).toEqual([expect.objectContaining({ ok: true, value: 80 })]);
    const codingObject = { ...obs('8867-4', qty(80, '/min')), code: { coding: { system: LOINC, code: '8867-4' } } } as unknown as Observation;
    expect(extractFromObservation(codingObject)).toEqual([]);
    const timeNumber = obs('8867-4', qty(80, '/min'), { effectiveDateTime: 1741600000000 as unknown as string });
    expect(select([timeNumber]).rejected).toEqual([expect.objectContaining({ reason: 'no usable time recorded' })]);
  });

  it('ignores codes NEWS2 does not read and non-LOINC codings of the same number', () => {
    expect(extractFromObservation(obs('29463-7', qty(70, 'kg')))).toEqual([]);
    const wrongSystem = obs('8867-4', qty(80, '/min'), { code: { coding: [{ system: 'http://example.org/local', code: '8867-4' }] } });
    expect(extractFromObservation(wrongSystem)).toEqual([]);
  });
});

describe('selectReadings', () => {
  it('picks a full set, with references, times and freshness', () => {
    const { readings, rejected } = select(vitalsSet());
    expect(Object.keys(readings).sort()).toEqual(['airOrOxygen', 'consciousness', 'pulse', 'respiratoryRate', 'spo2', 'systolicBp', 'temperature']);
    expect(rejected).toEqual([]);
    expect(readings.pulse).toMatchObject({ value: 72, display: '72 /min', reference: expect.stringMatching(/^Observation\/obs-\d+$/), stale: false, ageMs: 30 * 60_000 });
    expect(inputsFrom({ readings, rejected })).toEqual({
      respiratoryRate: 16, spo2: 97, onOxygen: false, systolicBp: 125, pulse: 72, consciousness: 'A', temperature: 36.8,
    });
  });

  it('latest wins, whatever the input order', () => {
    const older = obs('8867-4', qty(70, '/min'), { effectiveDateTime: ago(120) });
    const newer = obs('8867-4', qty(130, '/min'), { effectiveDateTime: ago(10) });
    expect(select([newer, older]).readings.pulse?.value).toBe(130);
    expect(select([older, newer]).readings.pulse?.value).toBe(130);
  });

  it('ignores entered-in-error, cancelled and registered readings without reporting them', () => {
    const good = obs('9279-1', qty(18, '/min'), { effectiveDateTime: ago(60) });
    const eie = obs('9279-1', qty(40, '/min'), { effectiveDateTime: ago(5), status: 'entered-in-error' });
    const cancelled = obs('9279-1', qty(40, '/min'), { effectiveDateTime: ago(4), status: 'cancelled' });
    const registered = obs('9279-1', qty(40, '/min'), { effectiveDateTime: ago(3), status: 'registered' });
    const { readings, rejected } = select([good, eie, cancelled, registered]);
    expect(readings.respiratoryRate?.reference).toBe(`Observation/${good.id}`);
    expect(rejected).toEqual([]);
  });

  it('accepts amended, corrected and preliminary readings', () => {
    for (const status of ['amended', 'corrected', 'preliminary'] as const) {
      expect(select([obs('8867-4', qty(88, '/min'), { status })]).readings.pulse?.value).toBe(88);
    }
  });

  it('falls back to an older valid reading and reports the newer unusable one', () => {
    const valid = obs('8310-5', qty(37.9, 'Cel'), { effectiveDateTime: ago(90) });
    const badUnit = obs('8310-5', qty(37.9, 'mg'), { effectiveDateTime: ago(10) });
    const olderBad = obs('8310-5', qty(99, 'Cel'), { effectiveDateTime: ago(300) });
    const { readings, rejected } = select([valid, badUnit, olderBad]);
    expect(readings.temperature?.value).toBe(37.9);
    // Only the rejection newer than the chosen reading matters to the clinician.
    expect(rejected).toEqual([
      { parameter: 'temperature', reference: `Observation/${badUnit.id}`, effective: badUnit.effectiveDateTime, reason: 'temperature unit "mg" is not supported' },
    ]);
  });

  it('flags readings older than the staleness limit, and honours a configured limit', () => {
    const old = obs('8867-4', qty(75, '/min'), { effectiveDateTime: ago(13 * 60) });
    expect(select([old]).readings.pulse).toMatchObject({ stale: true, value: 75 });
    expect(selectReadings([old], { now: NOW, staleAfterMs: 24 * 3_600_000 }).readings.pulse?.stale).toBe(false);
    const edge = obs('8867-4', qty(75, '/min'), { effectiveDateTime: ago(12 * 60) });
    expect(select([edge]).readings.pulse?.stale).toBe(false);
  });

  it('rejects readings with no time or a time in the future', () => {
    const noTime = obs('8867-4', qty(75, '/min'), { effectiveDateTime: undefined });
    const future = obs('9279-1', qty(18, '/min'), { effectiveDateTime: ago(-60) });
    const { readings, rejected } = select([noTime, future]);
    expect(readings).toEqual({});
    expect(rejected.map((r) => r.reason).sort()).toEqual(['no usable time recorded', `recorded in the future (${future.effectiveDateTime})`]);
  });

  it('uses effectivePeriod end, effectiveInstant, then issued for the time', () => {
    const period = obs('8867-4', qty(75, '/min'), { effectiveDateTime: undefined, effectivePeriod: { start: ago(100), end: ago(40) } });
    expect(select([period]).readings.pulse?.effective).toBe(ago(40));
    const issued = obs('8867-4', qty(75, '/min'), { effectiveDateTime: undefined, issued: ago(20) });
    expect(select([issued]).readings.pulse?.effective).toBe(ago(20));
  });

  it('reads systolic from the newest of a panel and a standalone reading', () => {
    const panel = bpPanel(150, 90, { effectiveDateTime: ago(20) });
    const standalone = obs('8480-6', qty(88, 'mm[Hg]'), { effectiveDateTime: ago(200) });
    expect(select([standalone, panel]).readings.systolicBp).toMatchObject({ value: 150, reference: `Observation/${panel.id}` });
  });

  it('consciousness: the most recent of ACVPU and GCS; ACVPU wins a tie', () => {
    const alert = acvpu(SNOMED, '248234008', { effectiveDateTime: ago(300) });
    const gcs = obs('9269-2', qty(12, '{score}'), { effectiveDateTime: ago(30) });
    expect(select([alert, gcs]).readings.consciousness?.value).toEqual({ gcs: 12 });
    const sameTime = obs('9269-2', qty(12, '{score}'), { effectiveDateTime: ago(300) });
    expect(select([sameTime, alert]).readings.consciousness?.value).toBe('A');
  });

  it('oxygen: the most recent of FiO2 and flow', () => {
    const air = obs('3150-0', qty(21, '%'), { effectiveDateTime: ago(300) });
    const flow = obs('3151-8', qty(4, 'L/min'), { effectiveDateTime: ago(30) });
    expect(select([air, flow]).readings.airOrOxygen?.value).toBe(true);
  });

  it('counts an Observation once when it arrives in two prefetch bundles', () => {
    const panel = bpPanel(150, 90);
    expect(select([panel, structuredClone(panel)]).readings.systolicBp?.value).toBe(150);
  });

  it('skips Observations with a dataAbsentReason and no value', () => {
    const absent = obs('8867-4', undefined, { dataAbsentReason: { coding: [{ code: 'not-performed' }] }, effectiveDateTime: ago(5) });
    const { readings, rejected } = select([absent]);
    expect(readings).toEqual({});
    expect(rejected).toEqual([]);
  });
});

describe('findScale2Condition', () => {
  const eligible = HYPERCAPNIC_RESPIRATORY_FAILURE;

  it('finds an active hypercapnic respiratory failure (SNOMED CT or ICD-10-CM)', () => {
    const c = condition(SNOMED, '101301000119106');
    expect(findScale2Condition([c], eligible)).toBe(c);
    expect(findScale2Condition([condition(ICD10CM, 'J96.12')], eligible)).toBeDefined();
  });

  it('ignores COPD without hypercapnia, resolved and refuted diagnoses', () => {
    expect(findScale2Condition([condition(SNOMED, '13645005')], eligible)).toBeUndefined();
    const resolved = condition(ICD10CM, 'J96.02', { clinicalStatus: { coding: [{ code: 'resolved' }] } });
    const refuted = condition(ICD10CM, 'J96.02', { verificationStatus: { coding: [{ code: 'refuted' }] } });
    expect(findScale2Condition([resolved, refuted], eligible)).toBeUndefined();
  });

  it('counts a Condition without clinicalStatus as current', () => {
    expect(findScale2Condition([condition(ICD10CM, 'J96.22', { clinicalStatus: undefined })], eligible)).toBeDefined();
  });

  it.each(['unconfirmed', 'provisional', 'differential'])('a %s diagnosis does not select scale 2 (RCP: confirmed only), but is reported', (code) => {
    const c = condition(ICD10CM, 'J96.02', { verificationStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-ver-status', code }] } });
    expect(findScale2Condition([c], eligible)).toBeUndefined();
    expect(findUnconfirmedScale2Condition([c], eligible)).toBe(c);
    const confirmed = condition(ICD10CM, 'J96.12');
    expect(findScale2Condition([c, confirmed], eligible)).toBe(confirmed);
  });

  it('counts a Condition without verificationStatus as confirmed', () => {
    const c = condition(ICD10CM, 'J96.92', { verificationStatus: undefined });
    expect(findScale2Condition([c], eligible)).toBe(c);
    expect(findUnconfirmedScale2Condition([c], eligible)).toBeUndefined();
  });

  it('does not report a resolved or refuted diagnosis as unconfirmed', () => {
    const resolved = condition(ICD10CM, 'J96.02', { clinicalStatus: { coding: [{ code: 'resolved' }] }, verificationStatus: { coding: [{ code: 'provisional' }] } });
    const refuted = condition(ICD10CM, 'J96.02', { verificationStatus: { coding: [{ code: 'refuted' }] } });
    expect(findUnconfirmedScale2Condition([resolved, refuted], eligible)).toBeUndefined();
  });

  it('uses the list it is given', () => {
    const copd = condition(SNOMED, '13645005');
    expect(findScale2Condition([copd], [{ system: SNOMED, code: '13645005' }])).toBe(copd);
  });
});
