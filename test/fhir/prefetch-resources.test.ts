/**
 * prefetchResources (src/fhir/prefetch-resources.ts): the resources of one prefetch value, whatever a
 * Bundle from an EHR or FHIR server holds — a junk entry must never reach a service as a resource
 * (a null resource crashed vigil-heart-disease with a 500: test/faults/fhir-faults.test.ts).
 */
import { describe, expect, it } from '@jest/globals';
import type { Bundle, FhirResource, Observation, Patient } from 'fhir/r4';
import { prefetchResources } from '../../src/fhir/prefetch-resources.js';

const patient: Patient = { resourceType: 'Patient', id: 'p1' };
const observation: Observation = { resourceType: 'Observation', id: 'o1', status: 'final', code: { text: 'x' } };

describe('prefetchResources', () => {
  it('a read is one resource; absent and null are none', () => {
    expect(prefetchResources(patient)).toEqual([patient]);
    expect(prefetchResources(undefined)).toEqual([]);
    expect(prefetchResources(null)).toEqual([]);
  });

  it("a search Bundle's entry resources, in order", () => {
    const bundle: Bundle = { resourceType: 'Bundle', type: 'searchset', entry: [{ resource: observation }, { resource: patient }] };
    expect(prefetchResources(bundle)).toEqual([observation, patient]);
  });

  it('drops junk entries: null, strings, numbers, entries without a resource, null or typeless resources', () => {
    const junk = [null, 'x', 42, {}, { resource: null }, { resource: 'Observation' }, { resource: { id: 'no-type' } }, { resource: { resourceType: 7 } }, { resource: observation }];
    const bundle = { resourceType: 'Bundle', type: 'searchset', entry: junk } as unknown as Bundle;
    expect(prefetchResources(bundle)).toEqual([observation]);
    // entry that is not an array
    expect(prefetchResources({ resourceType: 'Bundle', type: 'searchset', entry: 'nope' } as unknown as FhirResource)).toEqual([]);
  });
});
