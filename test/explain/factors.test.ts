/** Factor text (values, units, times, directions, carried-forward marking) and stable ordering. */
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { buildFactor, describeCell, formatContribution, formatValue, sortFactors } from '../../src/explain/factors.js';
import { directionOf, REFERENCE } from '../../src/explain/reference-ranges.js';
import type { CellValue, FeatureInfo } from '../../src/explain/types.js';

const lactate: FeatureInfo = { name: 'Lactate', label: 'Lactate', kind: 'quantity', ucum: 'mmol/L', unitText: 'mmol/L' };
const measured = (value: number, at: string, extra: Partial<CellValue> = {}): CellValue => ({
  value,
  imputed: false,
  measuredAt: at,
  sources: ['obs-1'],
  direction: directionOf(REFERENCE.Lactate, value),
  ...extra,
});

describe('factor text', () => {
  it('reads like the issue: value, unit, time, direction, contribution', () => {
    const f = buildFactor({ feature: lactate, cell: measured(4.1, '2026-03-01T03:00:00Z'), contribution: 0.12, attribution: 0.9 });
    expect(f.text).toBe('Lactate 4.1 mmol/L at 03:00 (high) raised the risk by 12.0 percentage points');
    expect(f.sources).toEqual(['Observation/obs-1']);
    expect(f.direction).toBe('high');
    expect(f.imputed).toBe(false);
  });

  it('says lowered, low and normal; prints times in the requested zone', () => {
    const low = buildFactor({ feature: lactate, cell: measured(0.3, '2026-03-01T03:00:00Z'), contribution: -0.034, attribution: -0.2 }, { timeZone: 'Europe/Berlin' });
    expect(low.text).toBe('Lactate 0.3 mmol/L at 04:00 (low) lowered the risk by 3.4 percentage points');
    const normal = buildFactor({ feature: lactate, cell: measured(1.2, '2026-03-01T23:30:00Z'), contribution: 0.004, attribution: 0.1 });
    expect(normal.text).toBe('Lactate 1.2 mmol/L at 23:30 (normal) raised the risk by 0.4 percentage points');
  });

  it('never presents a carried-forward value as fresh: the earlier measurement time, marked carried forward', () => {
    const cell = measured(4.1, '2026-03-01T03:00:00Z', { imputed: true });
    const f = buildFactor({ feature: lactate, cell, contribution: 0.05, attribution: 0.3 });
    expect(f.text).toBe('Lactate 4.1 mmol/L at 03:00 (high, carried forward) raised the risk by 5.0 percentage points');
    expect(f.imputed).toBe(true);
    expect(f.measuredAt).toBe('2026-03-01T03:00:00Z');
  });

  it('prints the date for measurements more than a day before the scored hour', () => {
    const text = describeCell(lactate, measured(2.5, '2026-02-27T08:00:00Z'), { asOf: '2026-03-01T12:00:00Z' });
    expect(text).toBe('Lactate 2.5 mmol/L at 27 Feb 08:00 (high)');
  });

  it('names missing data and coded values in words', () => {
    const none: CellValue = { value: null, imputed: true, sources: [] };
    expect(describeCell(lactate, none, { windowHours: 48 })).toBe('Lactate not measured in the last 48 h');
    const chol: FeatureInfo = { name: 'chol', label: 'Cholesterol', kind: 'quantity', unitText: 'mg/dL' };
    expect(describeCell(chol, none)).toBe('Cholesterol not recorded');
    const cp: FeatureInfo = { name: 'cp', label: 'Chest pain', kind: 'category' };
    const f = buildFactor({ feature: cp, cell: { value: 4, valueText: 'asymptomatic', imputed: false, sources: [] }, contribution: 0.2, attribution: 1 });
    expect(f.text).toBe('Chest pain: asymptomatic raised the risk by 20.0 percentage points');
    expect(f.unit).toBeUndefined();
  });

  it('formats values and contributions', () => {
    expect(formatValue(4.1)).toBe('4.1');
    expect(formatValue(7.3549)).toBe('7.35');
    expect(formatValue(1234.4)).toBe('1234');
    expect(formatValue(0.0412)).toBe('0.0412');
    expect(formatContribution(0.1234)).toBe('12.3');
    expect(formatContribution(-0.0042)).toBe('0.4');
    expect(formatContribution(0.0005)).toBe('0.1');
    expect(formatContribution(0.0004)).toBe('less than 0.1');
  });

  it('directions follow the reference ranges, including one-sided and coded ones', () => {
    expect(directionOf(REFERENCE.HR, 120)).toBe('high');
    expect(directionOf(REFERENCE.HR, 50)).toBe('low');
    expect(directionOf(REFERENCE.FiO2, 21)).toBe('normal');
    expect(directionOf(REFERENCE.FiO2, 40)).toBe('high');
    expect(directionOf(REFERENCE.chol, 250)).toBe('high');
    expect(directionOf(REFERENCE.thal, 3)).toBe('normal');
    expect(directionOf(REFERENCE.thal, 7)).toBeUndefined();
    expect(directionOf(REFERENCE.Age, 70)).toBeUndefined();
  });
});

describe('factor ordering', () => {
  it('is by |contribution| descending, then name — whatever the input order', () => {
    const names = ['HR', 'Lactate', 'Temp', 'WBC', 'Resp', 'MAP'];
    fc.assert(
      fc.property(
        fc.array(fc.record({ name: fc.constantFrom(...names), c: fc.constantFrom(-0.2, -0.05, 0, 0.05, 0.1, 0.2) }), { maxLength: 12 }),
        fc.integer(),
        (rows, seed) => {
          const factors = rows.map((r) =>
            buildFactor({ feature: { name: r.name, label: r.name, kind: 'quantity' }, cell: { value: 1, imputed: false, sources: [] }, contribution: r.c, attribution: r.c }),
          );
          const sorted = sortFactors(factors);
          const shuffled = sortFactors(factors.slice().sort(() => (seed % 2 ? 1 : -1)));
          expect(shuffled.map((f) => [f.feature, f.contribution])).toEqual(sorted.map((f) => [f.feature, f.contribution]));
          for (let i = 1; i < sorted.length; i++) {
            const a = sorted[i - 1]!;
            const b = sorted[i]!;
            expect(Math.abs(a.contribution)).toBeGreaterThanOrEqual(Math.abs(b.contribution));
            if (Math.abs(a.contribution) === Math.abs(b.contribution)) expect(a.feature <= b.feature).toBe(true);
          }
        },
      ),
    );
  });
});
