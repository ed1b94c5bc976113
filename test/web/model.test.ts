/**
 * The explanation view's pure logic (src/web/model.ts): what is drawn from an explanation record, the
 * carried-forward rule, the trend, the evidence summary, the colour rules (WCAG AA, colour-blind-safe).
 */
import fs from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import type { Observation, RiskAssessment } from 'fhir/r4';
import {
  attributionCurves,
  bannerOf,
  contrastRatio,
  explanationIdFrom,
  factorBars,
  formatEstimate,
  formatPercent,
  formatPoints,
  heatColor,
  scoreTrend,
  trendNote,
  styleVariables,
  summarizeModelCard,
  summarizeObservation,
  type ExplanationFactor,
  type TimeSeriesAttributions,
} from '../../src/web/model.js';

const factor = (feature: string, contribution: number, evidence: string[] = [`Observation/${feature}-1`]): ExplanationFactor => ({
  feature,
  label: feature,
  text: `${feature} moved the risk`,
  contribution,
  evidence,
});

describe('explanationIdFrom (CDS Hooks §Link appContext)', () => {
  it('reads Vigil’s JSON appContext, a bare id, and nothing else', () => {
    expect(explanationIdFrom('{"explanationId":"11580cf0-6cb6-4f32-b835-3bc96b0aa6c4"}')).toBe('11580cf0-6cb6-4f32-b835-3bc96b0aa6c4');
    expect(explanationIdFrom('abc-123')).toBe('abc-123');
    expect(explanationIdFrom('{"explanationId":"../../admin"}')).toBeUndefined();
    expect(explanationIdFrom('<script>')).toBeUndefined();
    expect(explanationIdFrom(undefined)).toBeUndefined();
  });
});

describe('factorBars', () => {
  it('orders by |contribution|, scales to the largest, keeps direction and the first Observation', () => {
    const bars = factorBars([factor('HR', 0.01), factor('Lactate', 0.04), factor('Temp', -0.02, ['Condition/x', 'Observation/t'])]);
    expect(bars.map((b) => b.feature)).toEqual(['Lactate', 'Temp', 'HR']);
    expect(bars.map((b) => b.fraction)).toEqual([1, 0.5, 0.25]);
    expect(bars.map((b) => b.direction)).toEqual(['raises', 'lowers', 'raises']);
    expect(bars[1]!.evidence).toBe('Observation/t');
  });
  it('shows at most `limit` bars and a stable order for ties', () => {
    const bars = factorBars([factor('B', 0.01), factor('A', -0.01), factor('C', 0.001)], 2);
    expect(bars.map((b) => b.feature)).toEqual(['A', 'B']);
  });
  it('words numbers as the card does', () => {
    expect(formatPercent(0.0912)).toBe('9.1 %');
    expect(formatPercent(0.0004)).toBe('< 0.1 %');
    expect(formatPoints(0.048)).toBe('+4.8 points');
    expect(formatPoints(-0.012)).toBe('−1.2 points');
  });
});

describe('scoreTrend', () => {
  const record = { asOf: '2026-01-03T12:00:00Z', prediction: { probability: 0.09 }, model: { id: 'deterioration' } } as Parameters<typeof scoreTrend>[0];
  const ra = (time: string, p: number, model = 'deterioration'): RiskAssessment => ({
    resourceType: 'RiskAssessment',
    status: 'final',
    subject: { reference: 'Patient/p' },
    occurrenceDateTime: time,
    method: { coding: [{ code: model }] },
    prediction: [{ probabilityDecimal: p }],
  });
  it('keeps this model’s scores of the last 48 h, oldest first, ending with the explained score', () => {
    const points = scoreTrend(record, [
      ra('2026-01-03T06:00:00Z', 0.05),
      ra('2026-01-02T06:00:00Z', 0.02),
      ra('2026-01-01T06:00:00Z', 0.5), // older than 48 h
      ra('2026-01-03T13:00:00Z', 0.9), // later than the explained score
      ra('2026-01-03T07:00:00Z', 0.7, 'heart-disease'),
    ]);
    expect(points.map((p) => p.probability)).toEqual([0.02, 0.05, 0.09]);
    expect(points.at(-1)!.time).toBe(Date.parse('2026-01-03T12:00:00Z'));
  });

  it('adds the hourly rescored points, marked; a RiskAssessment at the same instant wins; the explained score stays last', () => {
    const rescored = {
      points: [
        { time: '2026-01-03T05:00:00.000Z', probability: 0.03, source: 'retrospective' as const },
        { time: '2026-01-03T06:00:00.000Z', probability: 0.04, source: 'retrospective' as const },
        { time: '2026-01-01T11:00:00.000Z', probability: 0.5, source: 'retrospective' as const }, // older than 48 h
        { time: '2026-01-03T12:00:00.000Z', probability: 0.0901, source: 'explained' as const },
      ],
    };
    const points = scoreTrend(record, [ra('2026-01-03T06:00:00Z', 0.05)], 48, rescored);
    expect(points).toEqual([
      { time: Date.parse('2026-01-03T05:00:00Z'), probability: 0.03, retrospective: true },
      { time: Date.parse('2026-01-03T06:00:00Z'), probability: 0.05 },
      { time: Date.parse('2026-01-03T12:00:00Z'), probability: 0.09 },
    ]);
    expect(trendNote(points)).toMatch(/^1 earlier hourly score was scored from data available at that hour/);
    expect(trendNote(points.slice(1))).toBeUndefined();
    expect(trendNote(points.slice(-1))).toBe('No earlier scores for this model in the last 48 hours.');
  });
});

describe('summarizeObservation', () => {
  it('value, unit, time, reference range and interpretation', () => {
    const s = summarizeObservation({
      resourceType: 'Observation',
      id: 'lac',
      status: 'final',
      code: { coding: [{ system: 'http://loinc.org', code: '2524-7', display: 'Lactate' }] },
      valueQuantity: { value: 4.1, unit: 'mmol/L' },
      effectiveDateTime: '2026-01-03T03:00:00Z',
      referenceRange: [{ low: { value: 0.5, unit: 'mmol/L' }, high: { value: 2.2, unit: 'mmol/L' } }],
      interpretation: [{ coding: [{ code: 'H', display: 'High' }] }],
    });
    expect(s).toEqual({
      reference: 'Observation/lac',
      label: 'Lactate',
      value: '4.1 mmol/L',
      numeric: 4.1,
      unit: 'mmol/L',
      time: '2026-01-03T03:00:00Z',
      referenceRange: '0.5 mmol/L – 2.2 mmol/L',
      interpretation: 'High',
    });
  });
  it('reads a panel through its components', () => {
    expect(summarizeObservation(bp('bp1', 92, 55)).value).toBe('Systolic blood pressure 92 mm[Hg]; Diastolic blood pressure 55 mm[Hg]');
  });
});

function bp(id: string, sys: number, dia: number): Observation {
  return {
    resourceType: 'Observation',
    id,
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: '85354-9' }] },
    component: [
      { code: { coding: [{ system: 'http://loinc.org', code: '8480-6', display: 'Systolic blood pressure' }] }, valueQuantity: { value: sys, unit: 'mm[Hg]', system: 'http://unitsofmeasure.org', code: 'mm[Hg]' } },
      { code: { coding: [{ system: 'http://loinc.org', code: '8462-4', display: 'Diastolic blood pressure' }] }, valueQuantity: { value: dia, unit: 'mm[Hg]', system: 'http://unitsofmeasure.org', code: 'mm[Hg]' } },
    ],
  };
}

function hr(id: string, value: number): Observation {
  return {
    resourceType: 'Observation',
    id,
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
    valueQuantity: { value, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
  };
}

describe('attributionCurves', () => {
  const hours = ['2026-01-03T08:00:00Z', '2026-01-03T09:00:00Z', '2026-01-03T10:00:00Z', '2026-01-03T11:00:00Z'];
  const attributions: TimeSeriesAttributions = {
    hourStarts: hours,
    features: ['HR', 'SBP', 'Lactate'],
    // HR measured at 09 and 11; SBP at 08; Lactate never (no weight → no curve).
    values: [[0, -0.01, 0], [0.02, 0, 0], [0, 0, 0], [0.03, 0, 0]],
    measured: [[false, true, false], [true, false, false], [false, false, false], [true, false, false]],
    sources: [[[], ['bp1'], []], [['hr1'], [], []], [[], [], []], [['hr2', 'hr3'], [], []]],
  };
  const observations = new Map<string, Observation>([
    ['Observation/hr1', hr('hr1', 110)],
    ['Observation/hr2', hr('hr2', 118)],
    ['Observation/hr3', hr('hr3', 121)],
    ['Observation/bp1', bp('bp1', 92, 55)],
  ]);
  const curves = attributionCurves(attributions, observations, new Map([['HR', 'Heart rate']]));

  it('ranks measurements by total attribution and leaves out those without any', () => {
    expect(curves.map((c) => c.feature)).toEqual(['HR', 'SBP']);
    expect(curves[0]!.weight).toBeCloseTo(0.05);
    expect(curves[0]!.label).toBe('Heart rate');
    expect(curves[1]!.label).toBe('Systolic blood pressure');
    expect(curves[1]!.unit).toBe('mmHg');
  });

  it('marks hours without a new measurement as carried forward (or none before the first), never as measured', () => {
    expect(curves[0]!.points.map((p) => [p.kind, p.value])).toEqual([
      ['none', null],
      ['measured', 110],
      ['carried-forward', 110],
      ['measured', 121], // the hour's last Observation is the one the model saw
    ]);
    // Blood pressure comes from the panel's systolic component; later hours carry it forward.
    expect(curves[1]!.points.map((p) => [p.kind, p.value])).toEqual([
      ['measured', 92],
      ['carried-forward', 92],
      ['carried-forward', 92],
      ['carried-forward', 92],
    ]);
    expect(curves[0]!.points[3]!.sources).toEqual(['Observation/hr2', 'Observation/hr3']);
  });
});

describe('colours', () => {
  it('heat strip: white at 0, Okabe–Ito vermillion for raising, blue for lowering', () => {
    expect(heatColor(0, 1)).toBe('rgb(255, 255, 255)');
    expect(heatColor(1, 1)).toBe('rgb(213, 94, 0)');
    expect(heatColor(-2, 1)).toBe('rgb(0, 114, 178)');
  });

  it('every text colour of the stylesheet meets WCAG AA (4.5:1) on the background', () => {
    const css = fs.readFileSync('src/web/style.css', 'utf8');
    const v = (name: string) => new RegExp(`--${name}: (#[0-9a-f]{6});`, 'i').exec(css)![1]!;
    for (const name of ['text', 'muted', 'accent', 'raise', 'lower']) {
      expect(contrastRatio(v(name), v('bg'))).toBeGreaterThanOrEqual(4.5);
      expect(contrastRatio(v(name), v('panel'))).toBeGreaterThanOrEqual(4.5);
    }
    expect(contrastRatio('#ffffff', v('accent'))).toBeGreaterThanOrEqual(4.5); // primary button text
  });

  it('takes the EHR’s smart_style colours only when they keep AA contrast, and no injected CSS', () => {
    expect(styleVariables({ color_background: '#ffffff', color_text: '#222222', color_highlight: '#005ea2', font_family_body: 'Lato, sans-serif', dim_border_radius: '4px' })).toEqual({
      '--bg': '#ffffff',
      '--text': '#222222',
      '--accent': '#005ea2',
      '--font': 'Lato, sans-serif',
      '--radius': '4px',
    });
    expect(styleVariables({ color_background: '#ffffff', color_text: '#cccccc' })).toEqual({});
    expect(styleVariables({ font_family_body: 'x; } body { display:none', dim_border_radius: 'calc(1px)' })).toEqual({});
  });
});

describe('banner and model card', () => {
  it('banner: name, gender, birth date with age, first identifier', () => {
    const b = bannerOf(
      { resourceType: 'Patient', name: [{ use: 'official', given: ['Blair'], family: 'Conroy', prefix: ['Mr.'] }], gender: 'male', birthDate: '1975-10-26', identifier: [{ type: { text: 'MRN' }, value: '42' }] },
      new Date('2026-10-25T00:00:00Z'),
    );
    expect(b).toEqual({ name: 'Mr. Blair Conroy', gender: 'male', birthDate: '1975-10-26', age: 50, identifier: 'MRN 42' });
  });

  it('summarises the shipped deterioration card: uses, data, performance with CIs, limits, HTI-1', () => {
    const card = JSON.parse(fs.readFileSync('models/deterioration/card.json', 'utf8')) as { version: string; metricsTable: Array<{ report: { auroc: { estimate: number } } }> };
    const s = summarizeModelCard(card)!;
    expect(s.version).toBe(card.version);
    expect(s.intendedUse).toBeTruthy();
    expect(s.data).toBeTruthy();
    expect(s.limits).toBeTruthy();
    expect(s.performance[0]!.metric).toBe('AUROC');
    expect(s.performance[0]!.estimate).toBe(card.metricsTable[0]!.report.auroc.estimate);
    expect(s.hti1.length).toBeGreaterThan(20);
    expect(formatEstimate({ estimate: 0.7391, lower: 0.6496, upper: 0.8225 })).toBe('0.74 (95 % CI 0.65–0.82)');
    expect(summarizeModelCard('nonsense')).toBeUndefined();
  });
});
