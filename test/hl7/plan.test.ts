import { describe, expect, it } from '@jest/globals';
import type { Encounter, Observation, Patient } from 'fhir/r4';
import { parseHl7 } from '../../src/hl7/message.js';
import { bindPlan, planMessage, type IngestPlan } from '../../src/hl7/plan.js';
import { loadLocalCodes } from '../../src/hl7/local-codes.js';
import { isLoincCode } from '../../src/hl7/coding.js';
import { Hl7ContentError, Hl7UnsupportedError } from '../../src/hl7/errors.js';
import { LOINC, UCUM } from '../../src/fhir/codes.js';
import { fixture } from './helpers.js';

const local = loadLocalCodes();
const plan = (text: string | Buffer): IngestPlan => planMessage(parseHl7(text.toString()), { local });

describe('ADT → Patient + Encounter', () => {
  it('maps PID demographics (identifiers, name, gender, birth date, address) from ADT^A01 v2.8', () => {
    const p = plan(fixture('ms-ADT-A01-01.hl7'));
    expect(p.event).toBe('ADT^A01');
    expect(p.patientMode).toBe('upsert');
    expect(p.identifiers.map((i) => i.value)).toEqual(['PATID1234', '123456789']);
    expect(p.identifiers[0]!.type?.coding?.[0]?.code).toBe('MR');
    expect(p.patient.name?.[0]).toMatchObject({ family: 'EVERYMAN', given: ['ADAM', 'A'] });
    expect(p.patient.gender).toBe('male');
    expect(p.patient.birthDate).toBe('1988-08-18');
    expect(p.patient.address?.[0]).toMatchObject({ city: 'Ann Arbor', state: 'MI', postalCode: '99999' });
  });

  it('maps PV1 to an in-progress inpatient-class encounter with location on A01', () => {
    const p = plan(fixture('ms-ADT-A01-01.hl7'));
    expect(p.encounter).toMatchObject({ status: 'in-progress', class: { code: 'PRENC' } });
    expect(p.encounter?.location?.[0]?.location.display).toBe('HUH AE OMU OMU B Bed 03');
  });

  it('maps an ADT^A04 v2.3 with BOM (emergency, arrived) and identifiers through the local map', () => {
    const p = plan(fixture('ms-ADT04-251.hl7'));
    expect(p.event).toBe('ADT^A04');
    expect(p.encounter).toMatchObject({ status: 'arrived', class: { code: 'EMER' } });
    expect(p.identifiers[0]).toMatchObject({ system: 'http://hospital.smarthealthit.org', value: 'MRN12345' });
    expect(p.encounter?.period?.start).toBe('2019-05-04T18:12:05+07:00');
  });

  it.each([
    ['A01', 'in-progress'],
    ['A04', 'arrived'],
    ['A03', 'finished'],
  ])('status per trigger: %s → %s, and one visit number keeps one encounter id', (event, status) => {
    const msg = (ev: string) =>
      [`MSH|^~\\&|ADT|H|V|H|20240101100000+0000||ADT^${ev}|C-${ev}|P|2.5`, 'EVN|' + ev, 'PID|1||P1^^^H^MR||A^B||19500101|M', 'PV1|1|I|W1^R1^B1||||||||||||||||V77^^^H^VN|||||||||||||||||||||||||20240101090000+0000'].join('\r');
    const p = plan(msg(event));
    expect(p.encounter?.status).toBe(status);
    expect(p.encounter?.id).toBe(plan(msg('A01')).encounter?.id);
    if (event === 'A03') expect(p.encounter?.period?.end).toBe('2024-01-01T10:00:00Z');
  });

  it('A08 keeps the stored encounter status and merges demographics into the stored patient', () => {
    const p = plan(fixture('ms-ADT-A08-02.hl7'));
    expect(p.keepStoredEncounterStatus).toBe(true);
    const stored: Patient = { resourceType: 'Patient', id: 'existing', identifier: [{ system: 'urn:x', value: 'keep' }], telecom: [{ system: 'phone', value: '1' }] };
    const encounter: Encounter = { ...p.encounter!, status: 'finished' };
    const { patientId, resources } = bindPlan(p, { patient: stored, encounter });
    expect(patientId).toBe('existing');
    const patient = resources.find((r) => r.resourceType === 'Patient') as Patient;
    expect(patient.telecom).toEqual(stored.telecom);
    expect(patient.identifier?.map((i) => i.value)).toEqual(['keep', 'PATID1234', '123456789']);
    expect((resources.find((r) => r.resourceType === 'Encounter') as Encounter).status).toBe('finished');
  });
});

describe('ORU → Observations', () => {
  it('maps a CBC with LOINC codes, UCUM units (tera.l-1 → 10*12/L), OBX-14 time and OBX-11 status', () => {
    const p = plan(fixture('ms-LAB-ORU-1.hl7'));
    expect(p.patientMode).toBe('create-if-missing');
    expect(p.observations).toHaveLength(10);
    const rbc = p.observations.find((o) => o.code.coding?.[0]?.code === '11273-0')!;
    expect(rbc).toMatchObject({
      status: 'preliminary',
      effectiveDateTime: '2014-10-06T06:27:00+07:00',
      valueQuantity: { value: 4.06, unit: 'tera.l-1', system: UCUM, code: '10*12/L' },
      interpretation: [{ coding: [{ code: 'N' }] }],
    });
    const pending = p.observations.find((o) => o.code.coding?.[0]?.code === '11156-7')!;
    expect(pending.status).toBe('registered');
    expect(pending.valueQuantity).toBeUndefined();
  });

  it('maps SN values, lower-case units and falls back to OBR-7 time', () => {
    const [glucose] = plan(fixture('ms-ORU-R01-RMGEAD.hl7')).observations;
    expect(glucose).toMatchObject({
      code: { coding: [{ system: LOINC, code: '1554-5' }] },
      valueQuantity: { value: 182, code: 'mg/dL', system: UCUM },
      interpretation: [{ coding: [{ code: 'H' }] }],
      referenceRange: [{ text: '70_105' }],
      effectiveDateTime: '2002-02-15T07:30:00+06:00',
    });
  });

  it('takes LOINC from the alternate triple (AEL local code with LN alternate)', () => {
    const obs = plan(fixture('cdc-004_Oracle_ORU_R01.hl7')).observations;
    expect(obs.map((o) => o.code.coding?.[0])).toEqual([
      expect.objectContaining({ system: LOINC, code: '14957-5' }),
      expect.objectContaining({ system: LOINC, code: '2161-8' }),
      expect.objectContaining({ system: LOINC, code: '14959-1' }),
    ]);
    expect(obs[2]!.valueQuantity).toMatchObject({ value: 36, code: 'mg/g{creat}' });
  });

  it('maps local codes through local-codes.json and CWE values to CodeableConcepts; skips ED/RP', () => {
    const text = [
      'MSH|^~\\&|MON|W|V|H|20240101100000+0000||ORU^R01|L1|P|2.6',
      'PID|1||P1^^^H^MR',
      'OBX|1|NM|HR^Heart rate^L||72|bpm|||||F|||20240101095500+0000',
      'OBX|2|CWE|67775-7^Level of responsiveness^LN||248234008^Mentally alert^SCT||||||F',
      'OBX|3|ED|PDF^Report^L||^AP^PDF^Base64^AAAA||||||F',
      'OBX|4|ST|X^Comment^L||first~second||||||F',
    ].join('\r');
    const p = plan(text);
    expect(p.skippedObx).toBe(1);
    const [hr, avpu, comment] = p.observations as [Observation, Observation, Observation];
    expect(hr.code.coding?.[0]).toMatchObject({ system: LOINC, code: '8867-4' });
    expect(hr.category?.[0]?.coding?.[0]?.code).toBe('vital-signs');
    expect(hr.valueQuantity).toMatchObject({ value: 72, code: '/min' });
    expect(avpu.valueCodeableConcept?.coding?.[0]).toMatchObject({ system: 'http://snomed.info/sct', code: '248234008' });
    expect(comment.valueString).toBe('first\nsecond');
  });

  it('derives the same ids for the same message (replay-safe) and different ids per OBX', () => {
    const a = plan(fixture('ms-LAB-ORU-1.hl7'));
    const b = plan(fixture('ms-LAB-ORU-1.hl7'));
    expect(a.observations.map((o) => o.id)).toEqual(b.observations.map((o) => o.id));
    expect(new Set(a.observations.map((o) => o.id)).size).toBe(10);
  });

  it('binds observations to an existing patient, creating none', () => {
    const p = plan(fixture('ms-ORU-R01-RMGEAD.hl7'));
    const { patientId, resources } = bindPlan(p, { patient: { resourceType: 'Patient', id: 'known' } });
    expect(patientId).toBe('known');
    expect(resources.map((r) => r.resourceType)).toEqual(['Observation']);
    expect((resources[0] as Observation).subject?.reference).toBe('Patient/known');
  });
});

describe('refusals name the field', () => {
  const base = 'MSH|^~\\&|A|B|C|D|20240101||ORU^R01|X1|P|2.5\rPID|1||P1^^^H^MR||N^G||19500101|M';
  it.each([
    ['unsupported type', base.replace('ORU^R01', 'MDM^T02'), Hl7UnsupportedError, 200, 'MSH-1-9-1'],
    ['unsupported event', base.replace('ORU^R01', 'ADT^A40'), Hl7UnsupportedError, 201, 'MSH-1-9-2'],
    ['unsupported version', base.replace('|2.5', '|2.2'), Hl7UnsupportedError, 203, 'MSH-1-12'],
    ['no PID-3', base.replace('P1^^^H^MR', ''), Hl7ContentError, 101, 'PID-1-3'],
    ['bad birth date', base.replace('19500101', '19501301'), Hl7ContentError, 102, 'PID-1-7'],
    ['bad sex', base.replace('|M', '|Q'), Hl7ContentError, 103, 'PID-1-8'],
    ['non-numeric NM', `${base}\rOBX|1|NM|8867-4^HR^LN||fast|/min|||||F`, Hl7ContentError, 102, 'OBX-1-5'],
    ['bad status', `${base}\rOBX|1|NM|8867-4^HR^LN||80|/min|||||Z`, Hl7ContentError, 103, 'OBX-1-11'],
    ['bad OBX-14', `${base}\rOBX|1|NM|8867-4^HR^LN||80|/min|||||F|||2024133`, Hl7ContentError, 102, 'OBX-1-14'],
    ['empty OBX-3', `${base}\rOBX|1|NM|||80|/min|||||F`, Hl7ContentError, 101, 'OBX-1-3'],
    ['ADT without PV1', base.replace('ORU^R01', 'ADT^A01'), Hl7ContentError, 100, 'PV1-1'],
    ['placeholder template (sample)', fixture('cdc-002_Epic_ORU_R01.hl7').toString(), Hl7ContentError, 102, 'PID-1-7'],
  ])('%s', (_name, text, Type, condition, field) => {
    let caught: unknown;
    try {
      plan(text);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(Type);
    expect(caught).toMatchObject({ condition, details: [expect.objectContaining({ field })] });
  });
});

describe('isLoincCode', () => {
  it.each([
    ['8867-4', true],
    ['1554-5', true],
    ['85354-9', true],
    ['1554-4', false],
    ['HR', false],
    ['20260', false],
  ])('%s → %s', (code, ok) => {
    expect(isLoincCode(code)).toBe(ok);
  });
});
