import { describe, expect, it } from '@jest/globals';
import {
  matchesAnyReference,
  matchesAnyString,
  matchesAnyToken,
  matchesReference,
  matchesString,
  matchesToken,
  stringSearchText,
} from '../../../src/sandbox/fhir/matchers.js';
import { escapeSearchValue, parseReferenceValue, parseSearchQuery, parseTokenValue } from '../../../src/sandbox/fhir/search-query.js';
import { SEARCH_DEFS } from '../../../src/sandbox/fhir/search-params.js';
import { foldString, parseReference, stringValues } from '../../../src/sandbox/fhir/search-values.js';
import { BadRequestError } from '../../../src/errors.js';

const LOINC = 'http://loinc.org';

describe('token values and matching', () => {
  it.each([
    ['8867-4', { system: undefined, code: '8867-4' }],
    [`${LOINC}|8867-4`, { system: LOINC, code: '8867-4' }],
    ['|8867-4', { system: null, code: '8867-4' }],
    [`${LOINC}|`, { system: LOINC, code: undefined }],
    ['a\\|b', { system: undefined, code: 'a|b' }],
    ['sys|a\\,b', { system: 'sys', code: 'a,b' }],
  ])('parses %j', (text, query) => {
    expect(parseTokenValue(text)).toEqual(query);
  });

  it('escapeSearchValue round-trips literals holding the separators', () => {
    const value = 'A|B,C$D\\E';
    expect(parseTokenValue(`urn:sys|${escapeSearchValue(value)}`)).toEqual({ system: 'urn:sys', code: value });
  });

  it.each(['|', 'a|b|c', ''])('rejects %j', (text) => {
    expect(parseTokenValue(text)).toBeUndefined();
  });

  const loinc = { system: LOINC, code: '8867-4' };
  const bare = { system: undefined, code: '8867-4' };

  it('code alone matches any system; system|code only that system', () => {
    expect(matchesToken({ system: undefined, code: '8867-4' }, loinc)).toBe(true);
    expect(matchesToken({ system: undefined, code: '8867-4' }, bare)).toBe(true);
    expect(matchesToken({ system: LOINC, code: '8867-4' }, loinc)).toBe(true);
    expect(matchesToken({ system: 'http://snomed.info/sct', code: '8867-4' }, loinc)).toBe(false);
    expect(matchesToken({ system: LOINC, code: '9279-1' }, loinc)).toBe(false);
  });

  it('|code matches only values without a system; system| any code of the system', () => {
    expect(matchesToken({ system: null, code: '8867-4' }, bare)).toBe(true);
    expect(matchesToken({ system: null, code: '8867-4' }, loinc)).toBe(false);
    expect(matchesToken({ system: LOINC, code: undefined }, loinc)).toBe(true);
    expect(matchesToken({ system: LOINC, code: undefined }, bare)).toBe(false);
  });

  it('codes are case-sensitive', () => {
    expect(matchesToken({ system: undefined, code: 'Final' }, { system: undefined, code: 'final' })).toBe(false);
  });

  it('any query against any value (comma = OR)', () => {
    const queries = [
      { system: LOINC, code: '9279-1' },
      { system: LOINC, code: '8867-4' },
    ];
    expect(matchesAnyToken(queries, [loinc])).toBe(true);
    expect(matchesAnyToken(queries, [])).toBe(false);
    expect(matchesAnyToken([queries[0]!], [loinc, { system: LOINC, code: '9279-1' }])).toBe(true);
  });
});

describe('reference values and matching', () => {
  it.each([
    ['Patient/123', { type: 'Patient', id: '123' }],
    ['Patient/123/_history/4', { type: 'Patient', id: '123' }],
    ['https://ehr.example/fhir/Patient/123', { type: 'Patient', id: '123' }],
    ['http://localhost:8080/sandbox/fhir/Patient/a-b.c/_history/1', { type: 'Patient', id: 'a-b.c' }],
    ['123', { type: undefined, id: '123' }],
  ])('parses %s', (text, value) => {
    expect(parseReference(text)).toEqual(value);
  });

  it.each(['#contained', 'urn:uuid:0f1e', 'Patient/', 'patient/1', 'Patient/bad id', 'https://host', 'https://host/x'])('cannot search by %s', (text) => {
    expect(parseReference(text)).toBeUndefined();
  });

  it('a bare id takes the type of a single-target parameter, or a :Type modifier', () => {
    expect(parseReferenceValue('123', undefined, ['Patient'])).toEqual({ type: 'Patient', id: '123' });
    expect(parseReferenceValue('123', undefined, ['Patient', 'Group'])).toEqual({ type: undefined, id: '123' });
    expect(parseReferenceValue('123', 'Group', ['Patient', 'Group'])).toEqual({ type: 'Group', id: '123' });
    expect(parseReferenceValue('Patient/123', 'Group', ['Patient', 'Group'])).toBeUndefined();
    expect(parseReferenceValue('http://x/fhir/Patient/123', undefined, ['Patient'])).toEqual({ type: 'Patient', id: '123' });
  });

  it('matches by id, and by type when the query has one', () => {
    const p = { type: 'Patient', id: '123' };
    expect(matchesReference({ type: 'Patient', id: '123' }, p)).toBe(true);
    expect(matchesReference({ type: undefined, id: '123' }, p)).toBe(true);
    expect(matchesReference({ type: 'Group', id: '123' }, p)).toBe(false);
    expect(matchesReference({ type: 'Patient', id: '1234' }, p)).toBe(false);
    expect(matchesAnyReference([{ type: 'Patient', id: '9' }, { type: 'Patient', id: '123' }], [p])).toBe(true);
  });
});

describe('string matching', () => {
  const names = stringValues('Zoë', 'Ångström-Smith', 'van der Berg');

  it('folds case and accents', () => {
    expect(foldString('ZOË Ångström')).toBe('zoe angstrom');
  });

  it('default: prefix, case- and accent-insensitive', () => {
    const q = (t: string) => matchesAnyString('prefix', [stringSearchText('prefix', t)], names);
    expect(q('zoe')).toBe(true);
    expect(q('ZO')).toBe(true);
    expect(q('angstrom')).toBe(true);
    expect(q('VAN D')).toBe(true);
    expect(q('smith')).toBe(false);
    expect(q('oe')).toBe(false);
  });

  it(':contains matches anywhere, :exact the whole raw value', () => {
    expect(matchesAnyString('contains', [stringSearchText('contains', 'SMITH')], names)).toBe(true);
    expect(matchesString('exact', 'Zoë', names[0]!)).toBe(true);
    expect(matchesString('exact', 'Zoe', names[0]!)).toBe(false);
    expect(matchesString('exact', 'zoë', names[0]!)).toBe(false);
    expect(matchesString('exact', 'Zo', names[0]!)).toBe(false);
  });
});

describe('parseSearchQuery', () => {
  const obs = SEARCH_DEFS.get('Observation')!;
  const parse = (qs: string, strict = false) => parseSearchQuery(obs, new URLSearchParams(qs), { strict });
  const errorOf = (qs: string, strict = false): BadRequestError => {
    try {
      parse(qs, strict);
    } catch (err) {
      if (err instanceof BadRequestError) return err;
      throw err;
    }
    throw new Error('expected BadRequestError');
  };

  it('repeated parameters AND, commas OR', () => {
    const q = parse('date=ge2024-01-01&date=lt2024-02-01&code=a,b');
    expect(q.criteria).toHaveLength(3);
    expect(q.criteria[2]).toEqual({
      kind: 'token',
      param: 'code',
      not: false,
      values: [
        { system: undefined, code: 'a' },
        { system: undefined, code: 'b' },
      ],
    });
  });

  it('defaults and limits of _count and _offset', () => {
    expect(parse('').count).toBe(50);
    expect(parse('_count=5000').count).toBe(1000);
    expect(parse('_count=0').countOnly).toBe(true);
    expect(parse('_offset=20').offset).toBe(20);
    expect(errorOf('_count=-1').details[0]!.field).toBe('_count');
    expect(errorOf('_offset=x').details[0]!.field).toBe('_offset');
  });

  it('sort keys in order, with direction', () => {
    expect(parse('_sort=-date,_lastUpdated,_id').sort).toEqual([
      { param: 'date', descending: true },
      { param: '_lastUpdated', descending: false },
      { param: '_id', descending: false },
    ]);
  });

  it('ignores unknown parameters unless strict; they are left out of the applied list', () => {
    const q = parse('foo=1&code=x&patient.name=smith');
    expect(q.applied).toEqual([['code', 'x']]);
    const err = errorOf('foo=1&code=x&_sort=bar', true);
    expect(err.details.map((d) => d.field)).toEqual(['foo', '_sort']);
  });

  it('malformed values are errors even when lenient, all reported', () => {
    const err = errorOf('date=2024-13&patient=Patient/&code=|&code:text=x&status:missing=maybe');
    expect(err.details.map((d) => d.field)).toEqual(['date', 'patient', 'code', 'code:text', 'status:missing']);
  });

  it('modifiers: :not, :missing, :exact, :contains and reference types', () => {
    const patient = SEARCH_DEFS.get('Patient')!;
    const pq = parseSearchQuery(patient, new URLSearchParams('name:exact=Zoë&family:contains=OË&gender:not=male&birthdate:missing=true'), { strict: true });
    expect(pq.criteria).toEqual([
      { kind: 'string', param: 'name', mode: 'exact', values: ['Zoë'] },
      { kind: 'string', param: 'family', mode: 'contains', values: ['oe'] },
      { kind: 'token', param: 'gender', not: true, values: [{ system: undefined, code: 'male' }] },
      { kind: 'missing', param: 'birthdate', missing: true },
    ]);
    expect(parse('subject:Patient=1').criteria).toEqual([{ kind: 'reference', param: 'subject', values: [{ type: 'Patient', id: '1' }] }]);
  });

  it('empty values place no constraint', () => {
    expect(parse('code=&date=').criteria).toEqual([]);
  });

  it('_id values are checked', () => {
    expect(parse('_id=a,b').criteria).toEqual([{ kind: 'id', ids: ['a', 'b'] }]);
    expect(errorOf('_id=a b').details[0]!.field).toBe('_id');
  });
});
