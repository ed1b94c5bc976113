/**
 * src/fhir/shape.ts: the JSON-type guard on resources from outside. It must pass every real resource the
 * sandbox ships (no false alarms on good data) and catch the shapes that crashed services under fuzzing.
 */
import { describe, expect, it } from '@jest/globals';
import type { Bundle, FhirResource, Observation } from 'fhir/r4';
import { isWellFormedResource, wellFormedPrefetch, wellFormedPrefetchValue } from '../../src/fhir/shape.js';
import { loadSandboxData } from '../../src/sandbox/patients.js';

const observation: Observation = {
  resourceType: 'Observation',
  id: 'o1',
  status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code: '8867-4', display: 'Heart rate' }] },
  subject: { reference: 'Patient/p1' },
  effectiveDateTime: '2026-01-01T10:00:00Z',
  valueQuantity: { value: 88, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
};

/** The observation with `path` set to `value` (a deep copy). */
function withValue(path: Array<string | number>, value: unknown): unknown {
  const copy = structuredClone(observation) as unknown as Record<string | number, unknown>;
  let node = copy;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
  node[path[path.length - 1]!] = value;
  return copy;
}

describe('isWellFormedResource', () => {
  it('passes every resource the sandbox ships', () => {
    const { bundles } = loadSandboxData(undefined, new Date('2026-01-01T12:00:00Z'));
    let checked = 0;
    for (const bundle of bundles) {
      expect(isWellFormedResource(bundle)).toBe(true);
      for (const entry of bundle.entry ?? []) {
        expect(isWellFormedResource(entry.resource)).toBe(true);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(1000);
  });

  it.each<[string, Array<string | number>, unknown]>([
    ['coding not an array', ['code', 'coding'], false],
    ['a Coding.system that is a number', ['code', 'coding', 0, 'system'], 42],
    ['a Coding that is a string', ['code', 'coding', 0], 'http://loinc.org|8867-4'],
    ['a Quantity.value that is a string', ['valueQuantity', 'value'], 'high'],
    ['a Quantity.value that is not finite', ['valueQuantity', 'value'], Number.NaN],
    ['an effectiveDateTime that is an object', ['effectiveDateTime'], { when: 'yesterday' }],
    ['a component that is not an array', ['component'], { code: { text: 'x' } }],
    ['a Reference.reference that is an array', ['subject', 'reference'], ['Patient/p1']],
  ])('refuses an Observation with %s', (_label, path, value) => {
    expect(isWellFormedResource(observation)).toBe(true);
    expect(isWellFormedResource(withValue(path, value))).toBe(false);
  });

  it('reads a null element as absent (FHIR JSON forbids it, servers send it; dropping the reading would change a score)', () => {
    expect(isWellFormedResource(withValue(['subject'], null))).toBe(true);
    expect(isWellFormedResource(withValue(['code', 'coding', 0, 'display'], null))).toBe(true);
    // Still refused: null where an array item or a resource must be.
    expect(isWellFormedResource(withValue(['code', 'coding', 0], null))).toBe(false);
  });

  it('refuses non-objects and typeless objects; an unknown or prototype-named type is checked as a plain resource', () => {
    for (const value of [null, undefined, 'Observation', 7, [], {}, { resourceType: 7 }]) expect(isWellFormedResource(value)).toBe(false);
    expect(isWellFormedResource({ resourceType: 'constructor', id: 'x' })).toBe(true);
    expect(isWellFormedResource({ resourceType: '__proto__', id: 5 })).toBe(false);
    expect(isWellFormedResource({ resourceType: 'Basic', id: 'b', whatever: { any: 'thing' } })).toBe(true);
  });
});

describe('wellFormedPrefetch', () => {
  it('keeps good values untouched (same objects), drops junk Bundle entries and links, and nulls a malformed resource', () => {
    const good: Bundle = { resourceType: 'Bundle', type: 'searchset', entry: [{ resource: observation }] };
    expect(wellFormedPrefetchValue(good)).toEqual({ value: good, dropped: 0 });
    expect(wellFormedPrefetchValue(good).value).toBe(good);

    const junk = {
      resourceType: 'Bundle',
      type: 'searchset',
      entry: [null, 'x', { resource: null }, { resource: withValue(['code', 'coding'], false) }, { resource: observation }],
      link: [{ relation: 'next', url: 'Observation?page=2' }, { relation: 'next', url: 5 }, null],
    } as unknown as Bundle;
    const cleaned = wellFormedPrefetchValue(junk);
    expect(cleaned.dropped).toBe(4);
    expect((cleaned.value as Bundle).entry).toEqual([{ resource: observation }]);
    expect((cleaned.value as Bundle).link).toEqual([{ relation: 'next', url: 'Observation?page=2' }]);

    const all = wellFormedPrefetch({ patient: { resourceType: 'Patient', id: 'p1', birthDate: 1950 } as unknown as FhirResource, vitals: junk, none: null });
    // (birthDate must be a string.)
    expect(all.prefetch.patient).toBeNull();
    expect(all.prefetch.none).toBeNull();
    expect(all.dropped).toBe(5);
  });
});
