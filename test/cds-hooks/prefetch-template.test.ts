import { describe, expect, it } from '@jest/globals';
import { fillPrefetchTemplate, fillPrefetchTemplates, prefetchTokenValue } from '../../src/cds-hooks/prefetch-template.js';
import { draftOrders } from './helpers.js';

const context = {
  userId: 'Practitioner/u1',
  patientId: 'p1',
  encounterId: 'e-9',
  count: 3,
  flag: true,
  draftOrders: draftOrders('MedicationRequest/m1', 'ServiceRequest/s1', 'MedicationRequest/m2'),
  nested: { id: 'x' },
};

describe('fillPrefetchTemplate', () => {
  it.each([
    ['Patient/{{context.patientId}}', 'Patient/p1'],
    ['Encounter/{{context.encounterId}}', 'Encounter/e-9'],
    ['Observation?patient={{context.patientId}}&code=8867-4&_count={{context.count}}', 'Observation?patient=p1&code=8867-4&_count=3'],
    ['X?flag={{context.flag}}', 'X?flag=true'],
    ['{{context.userId}}', 'Practitioner/u1'],
    ['Practitioner/{{userPractitionerId}}', 'Practitioner/u1'],
    ['Patient/{{ context.patientId }}', 'Patient/p1'],
    ['Patient?_id={{context.patientId}},{{context.patientId}}', 'Patient?_id=p1,p1'],
    ['Patient', 'Patient'],
    // Extension beyond 2.0.1: ids of one type in a Bundle-valued context field, comma-joined.
    ['MedicationRequest?_id={{context.draftOrders.MedicationRequest.id}}', 'MedicationRequest?_id=m1,m2'],
    ['ServiceRequest?_id={{context.draftOrders.ServiceRequest.id}}', 'ServiceRequest?_id=s1'],
  ])('%s → %s', (template, expected) => {
    expect(fillPrefetchTemplate(template, context)).toBe(expected);
  });

  it.each([
    ['unknown context field', 'Patient/{{context.missing}}'],
    ['object-valued field (2.0.1: root-level primitives only)', 'X?id={{context.nested.id}}'],
    ['Bundle field without a type', 'X?id={{context.draftOrders}}'],
    ['Bundle field with no resource of that type', 'X?_id={{context.draftOrders.DeviceRequest.id}}'],
    ['unknown token', 'Patient/{{patient.id}}'],
    ['empty token', 'Patient/{{}}'],
    ['user token of another type', 'PractitionerRole/{{userPractitionerRoleId}}'],
    ['patient user token for a practitioner', 'Patient/{{userPatientId}}'],
    ['unclosed token', 'Patient/{{context.patientId'],
    ['prototype lookup', 'X?{{context.__proto__}}'],
    ['constructor lookup', 'X?{{context.constructor}}'],
  ])('returns null for %s', (_why, template) => {
    expect(fillPrefetchTemplate(template, context)).toBeNull();
  });

  it('fills each user token from the matching userId type only', () => {
    const cases = {
      userPractitionerId: 'Practitioner/a',
      userPractitionerRoleId: 'PractitionerRole/b',
      userPatientId: 'Patient/c',
      userRelatedPersonId: 'RelatedPerson/d',
    } as const;
    for (const [token, userId] of Object.entries(cases)) {
      expect(prefetchTokenValue(token, { userId })).toBe(userId.split('/')[1]);
      for (const [other, otherUserId] of Object.entries(cases)) {
        if (other !== token) expect(prefetchTokenValue(token, { userId: otherUserId })).toBeNull();
      }
    }
    expect(prefetchTokenValue('userPractitionerId', {})).toBeNull();
    expect(prefetchTokenValue('userPractitionerId', { userId: 'Practitioner' })).toBeNull();
    expect(prefetchTokenValue('userPractitionerId', { userId: 'Practitioner/a/b' })).toBeNull();
  });

  it('percent-encodes values so a context value cannot add query parameters', () => {
    expect(fillPrefetchTemplate('Observation?patient={{context.patientId}}', { patientId: 'p1&_include=*' })).toBe(
      'Observation?patient=p1%26_include%3D*',
    );
  });

  it('refuses values that would climb the path', () => {
    expect(fillPrefetchTemplate('Patient/{{context.patientId}}', { patientId: '../Observation' })).toBeNull();
    expect(fillPrefetchTemplate('Patient/{{context.patientId}}', { patientId: '' })).toBeNull();
  });

  it('fills a whole prefetch map, null per unfillable key', () => {
    expect(
      fillPrefetchTemplates({ patient: 'Patient/{{context.patientId}}', enc: 'Encounter/{{context.encounterId}}' }, { patientId: 'p1' }),
    ).toEqual({ patient: 'Patient/p1', enc: null });
  });
});
