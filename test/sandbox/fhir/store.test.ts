import { beforeEach, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import type { Bundle, Observation, Patient, Resource } from 'fhir/r4';
import { BadRequestError, NotFoundError, PreconditionFailedError } from '../../../src/errors.js';
import { FhirStore } from '../../../src/sandbox/fhir/store.js';
import { matchesDate, parseDateSearchValue, parseFhirDate } from '../../../src/sandbox/fhir/fhir-date.js';
import { escapeSearchValue } from '../../../src/sandbox/fhir/search-query.js';

const BASE = 'http://ehr.example/sandbox/fhir';
const LOINC = 'http://loinc.org';
const HR = '8867-4';
const RR = '9279-1';
const NOW = new Date('2025-01-01T00:00:00Z');

function counterIds(): () => string {
  let n = 0;
  return () => `gen-${++n}`;
}

function obs(id: string, patient: string, code: string, when: string, extra: Partial<Observation> = {}): Observation {
  return {
    resourceType: 'Observation',
    id,
    status: 'final',
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }],
    code: { coding: [{ system: LOINC, code }] },
    subject: { reference: `Patient/${patient}` },
    effectiveDateTime: when,
    valueQuantity: { value: 80, unit: '/min' },
    ...extra,
  };
}

const ids = (b: Bundle): string[] => (b.entry ?? []).map((e) => e.resource!.id!);
const search = (store: FhirStore, type: string, qs: string, strict = false): Bundle =>
  store.search(type, new URLSearchParams(qs), { baseUrl: BASE, strict });

describe('FhirStore writes and reads', () => {
  let store: FhirStore;
  beforeEach(() => {
    store = new FhirStore({ now: () => NOW, newId: counterIds() });
  });

  it('create assigns an id, versionId 1 and lastUpdated; read returns it', () => {
    const created = store.create<Patient>({ resourceType: 'Patient', gender: 'female' });
    expect(created).toMatchObject({ resourceType: 'Patient', id: 'gen-1', meta: { versionId: '1', lastUpdated: NOW.toISOString() }, gender: 'female' });
    expect(store.read('Patient', 'gen-1')).toEqual(created);
    expect(store.count('Patient')).toBe(1);
    expect(store.count()).toBe(1);
  });

  it('create keeps a given id (fixture loading) and refuses duplicates', () => {
    store.create({ resourceType: 'Patient', id: 'p1' } as Patient);
    expect(store.read('Patient', 'p1').id).toBe('p1');
    expect(() => store.create({ resourceType: 'Patient', id: 'p1' } as Patient)).toThrow(BadRequestError);
    expect(() => store.create({ resourceType: 'Patient', id: 'bad id' } as Patient)).toThrow(BadRequestError);
  });

  it('stored resources are frozen copies: later changes to the input do not leak in', () => {
    const input: Patient = { resourceType: 'Patient', id: 'p1', name: [{ family: 'Doe' }] };
    const stored = store.create(input);
    input.name![0]!.family = 'Changed';
    expect((store.read('Patient', 'p1') as Patient).name![0]!.family).toBe('Doe');
    expect(Object.isFrozen(stored.name![0])).toBe(true);
  });

  it('update upserts and bumps versionId; search values follow the new version', () => {
    store.update(obs('o1', 'p1', HR, '2024-01-01T00:00:00Z'));
    const v2 = store.update(obs('o1', 'p1', RR, '2024-06-01T00:00:00Z'));
    expect(v2.meta?.versionId).toBe('2');
    expect(store.count('Observation')).toBe(1);
    expect(ids(search(store, 'Observation', `code=${HR}`))).toEqual([]);
    expect(ids(search(store, 'Observation', `code=${RR}`))).toEqual(['o1']);
    expect(ids(search(store, 'Observation', 'date=lt2024-02'))).toEqual([]);
    expect(ids(search(store, 'Observation', 'date=2024-06'))).toEqual(['o1']);
    expect(() => store.update({ resourceType: 'Patient' })).toThrow(BadRequestError);
  });

  it('read throws NotFoundError for unknown ids and types', () => {
    expect(() => store.read('Patient', 'nope')).toThrow(NotFoundError);
    expect(() => store.read('Spaceship', '1')).toThrow(NotFoundError);
    expect(() => search(store, 'Spaceship', '')).toThrow(NotFoundError);
  });

  it('loadBundle resolves urn:uuid references and keeps given ids', () => {
    const bundle: Bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { fullUrl: 'urn:uuid:aaa', resource: { resourceType: 'Patient' }, request: { method: 'POST', url: 'Patient' } },
        { fullUrl: 'urn:uuid:bbb', resource: { resourceType: 'Encounter', status: 'in-progress', class: { code: 'IMP' }, subject: { reference: 'urn:uuid:aaa' } } as Resource as never },
        { fullUrl: 'urn:uuid:ccc', resource: { ...obs('kept', 'x', HR, '2024-01-01'), subject: { reference: 'urn:uuid:aaa' }, encounter: { reference: 'urn:uuid:bbb' } } },
        { resource: { resourceType: 'Patient', id: 'p9' }, request: { method: 'PUT', url: 'Patient/p9' } },
      ],
    };
    expect(store.loadBundle(bundle)).toEqual({ loaded: 4 });
    const o = store.read('Observation', 'kept') as Observation;
    expect(o.subject?.reference).toBe('Patient/gen-1');
    expect(o.encounter?.reference).toBe('Encounter/gen-2');
    expect(ids(search(store, 'Observation', 'patient=gen-1'))).toEqual(['kept']);
    expect(store.read('Patient', 'p9').id).toBe('p9');
  });

  it('loadBundle is all or nothing', () => {
    const bundle: Bundle = {
      resourceType: 'Bundle',
      type: 'collection',
      entry: [{ resource: { resourceType: 'Patient', id: 'ok' } }, { resource: { resourceType: 'Spaceship' } as unknown as Patient }],
    };
    expect(() => store.loadBundle(bundle)).toThrow(BadRequestError);
    expect(store.count()).toBe(0);
    expect(() => store.loadBundle({ resourceType: 'Bundle', type: 'document' })).toThrow(BadRequestError);
  });

  it('conditional create and update by identifier (R4 §3.1.0.8)', () => {
    const mrn = (value: string): Patient => ({ resourceType: 'Patient', identifier: [{ system: 'urn:mrn', value }] });
    const criteria = (value: string) => new URLSearchParams(`identifier=urn:mrn|${value}`);
    const first = store.createIfNoneExist(mrn('M1'), criteria('M1'));
    expect(first.created).toBe(true);
    const again = store.createIfNoneExist(mrn('M1'), criteria('M1'));
    expect(again).toEqual({ resource: first.resource, created: false });
    expect(store.count('Patient')).toBe(1);

    const updated = store.updateWhere({ ...mrn('M1'), gender: 'female' }, criteria('M1'));
    expect(updated.created).toBe(false);
    expect(updated.resource).toMatchObject({ id: first.resource.id, gender: 'female', meta: { versionId: '2' } });
    const fresh = store.updateWhere(mrn('M2'), criteria('M2'));
    expect(fresh.created).toBe(true);
    expect(store.count('Patient')).toBe(2);

    store.create(mrn('M2'));
    expect(() => store.createIfNoneExist(mrn('M2'), criteria('M2'))).toThrow(PreconditionFailedError);
    expect(() => store.updateWhere(mrn('M2'), criteria('M2'))).toThrow(PreconditionFailedError);
    // A body id naming another resource, empty or unknown criteria: refused rather than guessed.
    expect(() => store.updateWhere({ ...mrn('M1'), id: 'other' }, criteria('M1'))).toThrow(BadRequestError);
    expect(() => store.createIfNoneExist(mrn('M3'), new URLSearchParams(''))).toThrow(BadRequestError);
    expect(() => store.createIfNoneExist(mrn('M3'), new URLSearchParams('mrn=M3'))).toThrow(BadRequestError);
  });

  it('get runs relative read, vread and search URLs', () => {
    store.create(obs('o1', 'p1', HR, '2024-01-01T00:00:00Z'));
    expect(store.get('Observation/o1', { baseUrl: BASE }).id).toBe('o1');
    expect(store.get('/Observation/o1/_history/1', { baseUrl: BASE }).id).toBe('o1');
    expect(() => store.get('Observation/o1/_history/2', { baseUrl: BASE })).toThrow(NotFoundError);
    const b = store.get(`Observation?patient=Patient/p1&code=${LOINC}|${HR}`, { baseUrl: BASE }) as Bundle;
    expect(b.type).toBe('searchset');
    expect(ids(b)).toEqual(['o1']);
    expect(() => store.get('a/b/c', { baseUrl: BASE })).toThrow(BadRequestError);
  });
});

describe('FhirStore search', () => {
  let store: FhirStore;
  beforeEach(() => {
    store = new FhirStore({ now: () => NOW, newId: counterIds() });
    store.create<Patient>({ resourceType: 'Patient', id: 'p1', name: [{ family: 'Ångström', given: ['Zoë'] }], gender: 'female', birthDate: '1970-05-02', identifier: [{ system: 'urn:mrn', value: 'M1' }] });
    store.create<Patient>({ resourceType: 'Patient', id: 'p2', name: [{ family: 'Andrews', given: ['Bob'] }], gender: 'male', birthDate: '1985' });
    store.create<Patient>({ resourceType: 'Patient', id: 'p3', name: [{ family: 'Smith' }], gender: 'male' });
    store.create(obs('a', 'p1', HR, '2024-01-01T10:00:00Z'));
    store.create(obs('b', 'p1', RR, '2024-01-01T11:00:00Z'));
    store.create(obs('c', 'p1', HR, '2024-01-02T10:00:00Z'));
    store.create(obs('d', 'p2', HR, '2024-01-03T10:00:00Z'));
    store.create(obs('e', 'p1', HR, '2024-01-01T12:00:00Z', { status: 'amended' }));
    store.create(obs('f', 'p1', HR, '2024-01-05', { effectiveDateTime: undefined, effectivePeriod: { start: '2024-01-04T00:00:00Z' } }));
  });

  it('the issue query: patient + code + newest first', () => {
    const b = search(store, 'Observation', `patient=Patient/p1&code=${LOINC}|${HR}&_sort=-date`);
    expect(b).toMatchObject({ resourceType: 'Bundle', type: 'searchset', total: 4 });
    // f is open-ended (still running) so it sorts newest.
    expect(ids(b)).toEqual(['f', 'c', 'e', 'a']);
    expect(b.entry![0]).toMatchObject({ fullUrl: `${BASE}/Observation/f`, search: { mode: 'match' } });
  });

  it.each([
    ['patient=p1', 5],
    ['patient=Patient/p1', 5],
    [`patient=${BASE}/Patient/p1`, 5],
    ['subject=p1', 5],
    ['subject:Patient=p1', 5],
    ['subject:Group=p1', 0],
    ['patient=p1,p2', 6],
    [`code=${HR}`, 5],
    [`code=|${HR}`, 0],
    [`code=${LOINC}|`, 6],
    [`code=${HR},${RR}`, 6],
    [`code:not=${HR}`, 1],
    ['category=vital-signs', 6],
    ['status=final', 5],
    ['status=final,amended', 6],
    ['status:missing=false', 6],
    ['encounter:missing=true', 6],
    ['date=2024-01-01', 3],
    ['date=ge2024-01-02', 3],
    ['date=gt2024-01-02', 2],
    ['date=lt2024-01-02', 3],
    ['date=le2024-01-02', 4],
    ['date=sa2024-01-02', 2],
    ['date=eb2024-01-02', 3],
    ['date=ne2024-01-01', 3],
    ['date=ge2024-01-01T10:30:00Z&date=le2024-01-02', 3],
    // Overlapping ORed values must not return an entry twice.
    ['date=eb2024-01-02,lt2024-01-02', 3],
    ['_id=a,d,zzz', 2],
    ['_id=a,a', 1],
    ['patient=p1&date=ge2024-01-02&code=8867-4', 2],
  ])('Observation?%s → %i', (qs, n) => {
    expect(search(store, 'Observation', qs).total).toBe(n);
  });

  it.each([
    ['name=zoe', ['p1']],
    ['name=ANG', ['p1']],
    ['family=an', ['p1', 'p2']],
    ['given=bo', ['p2']],
    ['name:exact=Ångström', ['p1']],
    ['name:exact=angstrom', []],
    ['name:contains=DRE', ['p2']],
    ['gender=male', ['p2', 'p3']],
    ['gender=http://hl7.org/fhir/administrative-gender|female', ['p1']],
    ['birthdate=1985', ['p2']],
    ['birthdate=lt1980', ['p1']],
    ['birthdate:missing=true', ['p3']],
    ['identifier=urn:mrn|M1', ['p1']],
    ['_id=p3', ['p3']],
  ])('Patient?%s → %j', (qs, expected) => {
    expect(ids(search(store, 'Patient', qs))).toEqual(expected);
  });

  it('escaped separators in values are literals', () => {
    store.create<Patient>({ resourceType: 'Patient', id: 'odd', identifier: [{ system: 'urn:mrn', value: 'A,B|C' }] });
    const qs = new URLSearchParams({ identifier: `urn:mrn|${escapeSearchValue('A,B|C')}` });
    expect(ids(store.search('Patient', qs, { baseUrl: BASE }))).toEqual(['odd']);
  });

  it('_sort with several keys, ascending and descending; missing values last', () => {
    expect(ids(search(store, 'Patient', '_sort=birthdate'))).toEqual(['p1', 'p2', 'p3']);
    expect(ids(search(store, 'Patient', '_sort=-birthdate'))).toEqual(['p2', 'p1', 'p3']);
    expect(ids(search(store, 'Patient', '_sort=gender,-_id'))).toEqual(['p1', 'p3', 'p2']);
    expect(ids(search(store, 'Observation', '_sort=code,date'))).toEqual(['a', 'e', 'c', 'd', 'f', 'b']);
    expect(ids(search(store, 'Observation', '_sort=-_lastUpdated,_id')).length).toBe(6);
  });

  it('default order is creation order', () => {
    expect(ids(search(store, 'Observation', ''))).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
  });

  it('pages with _count and _offset; links carry absolute URLs', () => {
    const first = search(store, 'Observation', 'patient=p1&_sort=date&_count=2');
    expect(first.total).toBe(5);
    expect(ids(first)).toEqual(['a', 'b']);
    const rel = (b: Bundle) => Object.fromEntries((b.link ?? []).map((l) => [l.relation, l.url]));
    expect(rel(first).self).toBe(`${BASE}/Observation?patient=p1&_sort=date&_count=2`);
    expect(rel(first).previous).toBeUndefined();
    const next = new URL(rel(first).next!);
    expect(next.origin + next.pathname).toBe(`${BASE}/Observation`);
    const second = search(store, 'Observation', next.search.slice(1));
    expect(ids(second)).toEqual(['e', 'c']);
    expect(new URL(rel(second).previous!).searchParams.get('_offset')).toBeNull();
    const third = search(store, 'Observation', new URL(rel(second).next!).search.slice(1));
    expect(ids(third)).toEqual(['f']);
    expect(rel(third).next).toBeUndefined();
    expect(new URL(rel(third).previous!).searchParams.get('_offset')).toBe('2');
  });

  it('an offset past the end gives an empty page with the total', () => {
    const b = search(store, 'Observation', '_offset=100');
    expect(b.total).toBe(6);
    expect(b.entry).toEqual([]);
  });

  it('_summary=count and _count=0 return only the total', () => {
    for (const qs of ['patient=p1&_summary=count', 'patient=p1&_count=0']) {
      const b = search(store, 'Observation', qs);
      expect(b.total).toBe(5);
      expect(b.entry).toBeUndefined();
    }
  });

  it('_elements keeps the named elements plus id and meta, tagged SUBSETTED', () => {
    const b = search(store, 'Patient', '_id=p1&_elements=gender,birthDate');
    const p = b.entry![0]!.resource as Patient;
    expect(Object.keys(p).sort()).toEqual(['birthDate', 'gender', 'id', 'meta', 'resourceType']);
    expect(p.meta?.tag).toEqual([{ system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'SUBSETTED' }]);
  });

  it('_include adds the referenced resources once each, as mode "include"', () => {
    const b = search(store, 'Observation', 'code=8867-4&_include=Observation:patient');
    expect(b.total).toBe(5);
    const included = (b.entry ?? []).filter((e) => e.search?.mode === 'include').map((e) => e.fullUrl);
    expect(included).toEqual([`${BASE}/Patient/p1`, `${BASE}/Patient/p2`]);
    expect(search(store, 'Observation', 'code=8867-4&_include=Observation:subject:Group').entry!.filter((e) => e.search?.mode === 'include')).toEqual([]);
    // Only the page's references are followed.
    const page = search(store, 'Observation', '_id=d&_include=Observation:subject');
    expect(page.entry!.map((e) => `${e.search!.mode} ${e.resource!.resourceType}/${e.resource!.id}`)).toEqual(['match Observation/d', 'include Patient/p2']);
  });

  it('_revinclude adds the resources that refer to the matches', () => {
    const b = search(store, 'Patient', '_id=p2&_revinclude=Observation:patient');
    expect(b.total).toBe(1);
    expect(b.entry!.map((e) => `${e.search!.mode} ${e.resource!.resourceType}/${e.resource!.id}`)).toEqual(['match Patient/p2', 'include Observation/d']);
  });

  it('malformed _include / _revinclude are 400', () => {
    for (const qs of ['_include=Observation', '_include=Observation:code', '_include=Patient:organization', '_revinclude=Spaceship:patient', '_include=Observation:nope']) {
      expect(() => search(store, 'Observation', qs)).toThrow(BadRequestError);
    }
  });

  it('unknown parameters are ignored (and dropped from the self link) unless strict', () => {
    const b = search(store, 'Observation', 'patient=p1&foo=bar');
    expect(b.total).toBe(5);
    expect(b.link![0]!.url).not.toContain('foo');
    expect(() => search(store, 'Observation', 'patient=p1&foo=bar', true)).toThrow(BadRequestError);
  });

  it('malformed values are 400 errors', () => {
    for (const qs of ['date=2024-02-30', 'date=xx2024', 'patient=Patient/', '_count=abc', 'code:fuzzy=1']) {
      expect(() => search(store, 'Observation', qs)).toThrow(BadRequestError);
    }
  });
});

describe('indexed search agrees with a brute-force scan', () => {
  const codes = [HR, RR, '59408-5', '8310-5'];
  const patients = ['p0', 'p1', 'p2'];
  const arbObs = fc.record({
    patient: fc.constantFrom(...patients),
    code: fc.constantFrom(...codes),
    // Mixed precisions, including periods, around January 2024.
    day: fc.integer({ min: 1, max: 28 }),
    hour: fc.integer({ min: 0, max: 23 }),
    form: fc.constantFrom('dateTime', 'date', 'period', 'openPeriod'),
  });
  const arbDate = fc.tuple(
    fc.constantFrom('eq', 'ne', 'lt', 'gt', 'le', 'ge', 'sa', 'eb', 'ap'),
    fc.integer({ min: 1, max: 28 }),
    fc.constantFrom('day', 'hour', 'month'),
  );
  const arbQuery = fc.record({
    patient: fc.option(fc.constantFrom(...patients), { nil: undefined }),
    code: fc.option(fc.constantFrom(...codes), { nil: undefined }),
    // Zero, one or two ANDed date criteria (two exercise the window intersection).
    dates: fc.array(fc.array(arbDate, { minLength: 1, maxLength: 2 }), { maxLength: 2 }),
  });

  it('for random data and queries', () => {
    fc.assert(
      fc.property(fc.array(arbObs, { maxLength: 60 }), fc.array(arbQuery, { minLength: 1, maxLength: 10 }), (data, queries) => {
        const store = new FhirStore({ now: () => NOW, newId: counterIds() });
        const dd = (d: number) => String(d).padStart(2, '0');
        const stored = data.map((o, i) => {
          const stamp = `2024-01-${dd(o.day)}T${dd(o.hour)}:00:00Z`;
          const timing: Partial<Observation> =
            o.form === 'dateTime'
              ? { effectiveDateTime: stamp }
              : o.form === 'date'
                ? { effectiveDateTime: `2024-01-${dd(o.day)}` }
                : o.form === 'period'
                  ? { effectiveDateTime: undefined, effectivePeriod: { start: stamp, end: `2024-01-${dd(Math.min(28, o.day + 2))}` } }
                  : { effectiveDateTime: undefined, effectivePeriod: { start: stamp } };
          return store.create(obs(`o${i}`, o.patient, o.code, stamp, timing));
        });
        for (const q of queries) {
          const params = new URLSearchParams();
          if (q.patient) params.set('patient', q.patient);
          if (q.code) params.set('code', `${LOINC}|${q.code}`);
          const dateText = ([prefix, d, precision]: [string, number, string]) =>
            `${prefix}${precision === 'month' ? '2024-01' : precision === 'day' ? `2024-01-${dd(d)}` : `2024-01-${dd(d)}T${dd(d % 24)}:00Z`}`;
          for (const criterion of q.dates) params.append('date', criterion.map(dateText).join(','));
          params.set('_count', '1000');
          const got = ids(store.search('Observation', params, { baseUrl: BASE })).sort();
          const criteria = q.dates.map((criterion) => criterion.map((v) => parseDateSearchValue(dateText(v))!));
          const want = stored
            .filter((o) => !q.patient || o.subject?.reference === `Patient/${q.patient}`)
            .filter((o) => !q.code || o.code.coding?.[0]?.code === q.code)
            .filter((o) => {
              const target = o.effectiveDateTime
                ? parseFhirDate(o.effectiveDateTime)!
                : { start: Date.parse(o.effectivePeriod!.start!), end: o.effectivePeriod!.end ? parseFhirDate(o.effectivePeriod!.end)!.end : Infinity };
              return criteria.every((ors) => ors.some((dq) => matchesDate(dq.prefix, dq.range, target, NOW.getTime())));
            })
            .map((o) => o.id!)
            .sort();
          expect(got).toEqual(want);
        }
      }),
      { numRuns: 200 },
    );
  });
});
