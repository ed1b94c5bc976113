import { describe, expect, it } from '@jest/globals';
import {
  matchesDate,
  parseDateSearchValue,
  parseFhirDate,
  periodRange,
  type DatePrefix,
  type DateRange,
} from '../../../src/sandbox/fhir/fhir-date.js';

const utc = (text: string): number => Date.parse(text);
const range = (text: string): DateRange => {
  const r = parseFhirDate(text);
  if (!r) throw new Error(`unparsable ${text}`);
  return r;
};
const NOW = utc('2025-01-01T00:00:00Z');

describe('parseFhirDate: the implicit range of each precision', () => {
  it.each([
    ['2024', '2024-01-01T00:00:00.000Z', '2024-12-31T23:59:59.999Z'],
    ['2024-02', '2024-02-01T00:00:00.000Z', '2024-02-29T23:59:59.999Z'],
    ['2023-02', '2023-02-01T00:00:00.000Z', '2023-02-28T23:59:59.999Z'],
    ['2024-03-15', '2024-03-15T00:00:00.000Z', '2024-03-15T23:59:59.999Z'],
    ['2024-03-15T10:20Z', '2024-03-15T10:20:00.000Z', '2024-03-15T10:20:59.999Z'],
    ['2024-03-15T10:20:30Z', '2024-03-15T10:20:30.000Z', '2024-03-15T10:20:30.999Z'],
    ['2024-03-15T10:20:30.5Z', '2024-03-15T10:20:30.500Z', '2024-03-15T10:20:30.599Z'],
    ['2024-03-15T10:20:30.123456Z', '2024-03-15T10:20:30.123Z', '2024-03-15T10:20:30.123Z'],
    ['2024-03-15T10:20:30+02:00', '2024-03-15T08:20:30.000Z', '2024-03-15T08:20:30.999Z'],
    ['2024-03-15T10:20:30-05:30', '2024-03-15T15:50:30.000Z', '2024-03-15T15:50:30.999Z'],
    // Deliberate: no zone means UTC.
    ['2024-03-15T10:20:30', '2024-03-15T10:20:30.000Z', '2024-03-15T10:20:30.999Z'],
  ])('%s → [%s, %s]', (text, start, end) => {
    expect(parseFhirDate(text)).toEqual({ start: utc(start), end: utc(end) });
  });

  it.each(['', '24', '2024-13', '2024-00', '2024-02-30', '2023-02-29', '2024-01-01T24:00Z', '2024-01-01T10:60Z', '2024-01-01T10', '2024-01-01T10:00:61Z', '2024-01-01T10:00+15:00', '2024/01/01', 'yesterday'])(
    'rejects %j',
    (text) => {
      expect(parseFhirDate(text)).toBeUndefined();
    },
  );

  it('periods take the start of start and the end of end; missing sides are open', () => {
    expect(periodRange('2024-01', '2024-02')).toEqual({ start: utc('2024-01-01T00:00:00Z'), end: utc('2024-02-29T23:59:59.999Z') });
    expect(periodRange('2024-01-01', undefined)).toEqual({ start: utc('2024-01-01T00:00:00Z'), end: Infinity });
    expect(periodRange(undefined, '2024-01-01')).toEqual({ start: -Infinity, end: utc('2024-01-01T23:59:59.999Z') });
    expect(periodRange(undefined, undefined)).toBeUndefined();
    expect(periodRange('nonsense', undefined)).toBeUndefined();
  });
});

describe('parseDateSearchValue', () => {
  it('defaults to eq and splits every prefix', () => {
    expect(parseDateSearchValue('2024')?.prefix).toBe('eq');
    for (const p of ['eq', 'ne', 'lt', 'gt', 'le', 'ge', 'sa', 'eb', 'ap']) {
      expect(parseDateSearchValue(`${p}2024-05`)).toEqual({ prefix: p, range: range('2024-05') });
    }
  });

  it('rejects unknown prefixes and bad dates', () => {
    expect(parseDateSearchValue('xx2024')).toBeUndefined();
    expect(parseDateSearchValue('ge2024-13')).toBeUndefined();
    expect(parseDateSearchValue('ge')).toBeUndefined();
  });

  it('reads a space before the zone as "+" (an unencoded + in a query string)', () => {
    expect(parseDateSearchValue('ge2024-01-01T10:00:00 02:00')?.range.start).toBe(utc('2024-01-01T08:00:00Z'));
  });
});

describe('matchesDate: FHIR R4 prefix semantics against ranges', () => {
  // Search value: all of 2024-03-15 (a day). Targets at various precisions around it.
  const day = range('2024-03-15');
  const targets: Record<string, DateRange> = {
    insideSecond: range('2024-03-15T12:00:00Z'),
    wholeDay: range('2024-03-15'),
    previousDay: range('2024-03-14T23:59:59Z'),
    nextDay: range('2024-03-16T00:00:00Z'),
    wholeMonth: range('2024-03'),
    straddlingStart: { start: utc('2024-03-14T20:00:00Z'), end: utc('2024-03-15T04:00:00Z') },
    straddlingEnd: { start: utc('2024-03-15T20:00:00Z'), end: utc('2024-03-16T04:00:00Z') },
    openEndedFromInside: { start: utc('2024-03-15T10:00:00Z'), end: Infinity },
  };

  const expected: Record<DatePrefix, string[]> = {
    eq: ['insideSecond', 'wholeDay'],
    ne: ['previousDay', 'nextDay', 'wholeMonth', 'straddlingStart', 'straddlingEnd', 'openEndedFromInside'],
    gt: ['nextDay', 'wholeMonth', 'straddlingEnd', 'openEndedFromInside'],
    lt: ['previousDay', 'wholeMonth', 'straddlingStart'],
    ge: ['insideSecond', 'wholeDay', 'nextDay', 'wholeMonth', 'straddlingEnd', 'openEndedFromInside'],
    le: ['insideSecond', 'wholeDay', 'previousDay', 'wholeMonth', 'straddlingStart'],
    sa: ['nextDay'],
    eb: ['previousDay'],
    // The day is ~292 days before NOW: ±29 days of slack overlaps everything here.
    ap: ['insideSecond', 'wholeDay', 'previousDay', 'nextDay', 'wholeMonth', 'straddlingStart', 'straddlingEnd', 'openEndedFromInside'],
  };

  it.each(Object.entries(expected))('%s matches exactly %j', (prefix, names) => {
    const hits = Object.entries(targets)
      .filter(([, t]) => matchesDate(prefix as DatePrefix, day, t, NOW))
      .map(([n]) => n);
    expect(hits.sort()).toEqual([...names].sort());
  });

  it('ap tolerance is 10 % of the distance from now', () => {
    const search = range('2024-01-01'); // 366 days before NOW → ~36.6 days of slack
    expect(matchesDate('ap', search, range('2024-02-05'), NOW)).toBe(true);
    expect(matchesDate('ap', search, range('2024-02-08'), NOW)).toBe(false);
    expect(matchesDate('ap', search, range('2023-11-27'), NOW)).toBe(true);
    expect(matchesDate('ap', search, range('2023-11-20'), NOW)).toBe(false);
  });

  it('a year search covers dateTimes within it, in any zone', () => {
    const year = range('2024');
    expect(matchesDate('eq', year, range('2024-12-31T23:50:00-00:20'), NOW)).toBe(false); // = 2025-01-01T00:10Z
    expect(matchesDate('eq', year, range('2025-01-01T00:30:00+01:00'), NOW)).toBe(true); // = 2024-12-31T23:30Z
    expect(matchesDate('eq', year, range('2024-06'), NOW)).toBe(true);
  });

  it('partial search values compare against more precise targets by range', () => {
    expect(matchesDate('lt', range('2024-03'), range('2024-02-29T23:59:59Z'), NOW)).toBe(true);
    expect(matchesDate('lt', range('2024-03'), range('2024-03-01T00:00:00Z'), NOW)).toBe(false);
    expect(matchesDate('ge', range('2024-03'), range('2024-03-01T00:00:00Z'), NOW)).toBe(true);
    expect(matchesDate('gt', range('2024-03'), range('2024-03-31T23:59:59Z'), NOW)).toBe(false);
    expect(matchesDate('gt', range('2024-03'), range('2024-04-01T00:00:00Z'), NOW)).toBe(true);
  });
});
