/**
 * The explanation view's pure logic (src/web/model.ts, src/web/ecg-model.ts): what is drawn from an
 * explanation record, the carried-forward rule, the trend (retrospective points apart), the per-model strip,
 * the evidence summary, the colour rules (WCAG AA, colour-blind-safe), and for an ECG the saliency band, the
 * zoom window arithmetic and segment → zoom range.
 */
import fs from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import type { Observation, RiskAssessment } from 'fhir/r4';
import type { EcgRecordSection, UnclassifiedEcgSection } from '../../src/cds-hooks/services/ecg-rhythm/record.js';
import {
  bandColumns,
  classBars,
  ecgNotes,
  ecgOf,
  fullWindow,
  leadText,
  MIN_ZOOM_SECONDS,
  NO_SUPPORT_COLOR,
  saliencyLevels,
  segmentWindow,
  supportColor,
  topSegments,
  windowText,
  zoomKey,
  zoomWindow,
  type EcgSection,
  type StoredEcgSection,
  type StoredUnclassifiedEcgSection,
} from '../../src/web/ecg-model.js';
import { onStep, relativeToPeak } from '../../src/explanations/fixed-point.js';
import { percentAgainstThreshold } from '../../src/explanations/percent.js';
import { messageFor } from '../../src/web/api.js';
import {
  attributionCurves,
  bandText,
  bannerOf,
  contrastRatio,
  dataRecencyText,
  dataUpTo,
  explanationIdFrom,
  factorBars,
  factorValueText,
  formatEstimate,
  formatPercent,
  formatPoints,
  heatColor,
  luminance,
  modelTiles,
  referenceRangeOf,
  scoreTrend,
  summarizeExplanation,
  trendNote,
  trendSeries,
  trendSourceText,
  styleVariables,
  summarizeModelCard,
  summarizeObservation,
  thresholdPhrase,
  timeAxisLabels,
  type ExplanationFactor,
  type ExplanationRecord,
  type ExplanationSummary,
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
    for (const name of ['text', 'muted', 'accent', 'raise', 'lower', 'stale']) {
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

describe('trend: scores stored at the time vs rescored afterwards', () => {
  it('splits the points into filled (stored) and hollow (retrospective) series on one line, and words each', () => {
    const points = [
      { time: 3_600_000, probability: 0.02, retrospective: true },
      { time: 7_200_000, probability: 0.05 },
      { time: 10_800_000, probability: 0.09 },
    ];
    expect(trendSeries(points)).toEqual({ xs: [3600, 7200, 10800], stored: [null, 5, 9], retrospective: [2, null, null], line: [2, 5, 9] });
    expect(trendSourceText(points[0]!)).toBe('rescored now from data available at that hour');
    expect(trendSourceText(points[1]!)).toBe('scored at the time');
  });
});

describe('per-model strip', () => {
  const summary = (id: string, model: string, asOf: string, extra: Partial<ExplanationSummary> = {}): ExplanationSummary => ({
    id,
    model: { id: model, version: '1.0.0' },
    serviceId: `vigil-${model}`,
    probability: 0.073,
    band: 'high',
    outcome: 'o',
    created: asOf,
    asOf,
    ...extra,
  });
  const launched = summary('d2', 'deterioration', '2026-01-03T12:00:00Z');

  it('one tile per model with score, band and time; older data marked with how much older', () => {
    const tiles = modelTiles(
      [
        launched,
        summary('e1', 'ecg-rhythm', '2026-01-03T08:30:00Z', { band: 'moderate', rhythm: { code: 'A', name: 'atrial fibrillation', probability: 0.81 } }),
        summary('h1', 'heart-disease', '2026-01-03T11:00:00Z', { band: 'low', probability: 0.2 }),
      ],
      launched,
    );
    expect(tiles.map((t) => [t.modelId, t.value, t.bandLabel, t.stale])).toEqual([
      ['deterioration', '7.3 %', 'High risk', false],
      ['ecg-rhythm', 'Atrial fibrillation 81.0 %', 'Review the tracing', true],
      ['heart-disease', '20.0 %', 'Low risk', false],
    ]);
    expect(tiles[1]!.hoursOlder).toBe(3);
    expect(tiles[1]!.asOf).toBe('2026-01-03T08:30:00Z');
    expect(tiles[2]!.hoursOlder).toBeUndefined();
    const noisy = modelTiles([summary('e2', 'ecg-rhythm', '2026-01-03T12:00:00Z', { rhythm: { code: '~', name: 'too noisy to classify', probability: 0.7 } })], launched);
    expect(noisy[0]!.bandLabel).toBe('Cannot classify: too noisy');
    const refused = modelTiles([summary('e3', 'ecg-rhythm', '2026-01-03T12:00:00Z', { probability: 0, band: 'low', unclassified: true })], launched);
    expect([refused[0]!.value, refused[0]!.bandLabel]).toEqual(['Not classified', 'Tracing cannot be used']);
  });

  it('keeps the launched explanation when the list lacks it (after a newer record of its model, or alone)', () => {
    const newer = summary('d3', 'deterioration', '2026-01-03T13:00:00Z');
    expect(modelTiles([newer], launched).map((t) => t.id)).toEqual(['d3', 'd2']);
    // Two scores of one model can read alike (the same data scored again): each says which it is.
    expect(modelTiles([newer], launched).map((t) => t.note)).toEqual(['Newer score', 'Opened from the card']);
    expect(modelTiles([launched], launched)[0]!.note).toBeUndefined();
    expect(modelTiles([], launched).map((t) => t.id)).toEqual(['d2']);
    expect(modelTiles([summary('h1', 'heart-disease', '2026-01-03T12:00:00Z')], launched).map((t) => t.id)).toEqual(['h1', 'd2']);
  });

  it('summarises a full record as the server does', () => {
    const record = { id: 'x', patientId: 'p', serviceId: 's', cardUuid: 'c', model: { id: 'm', version: '2' }, created: 'c1', asOf: 'a1', dataHash: 'h', prediction: { probability: 0.1, band: 'low', indicator: 'info', thresholds: { moderate: 0.2, high: 0.5 }, outcome: 'o' }, factors: [], notUsed: [] } as ExplanationRecord;
    expect(summarizeExplanation(record)).toEqual({ id: 'x', model: { id: 'm', version: '2' }, serviceId: 's', probability: 0.1, band: 'low', outcome: 'o', thresholds: { moderate: 0.2, high: 0.5 }, created: 'c1', asOf: 'a1' });
  });

  it('a tile with the model\'s cut-offs states the score against them, not by band name alone', () => {
    const heart = { moderate: 0.5365729331970215, high: 0.8393965363502502 };
    const tiles = modelTiles(
      [
        summary('h1', 'heart-disease', '2026-01-03T12:00:00Z', { probability: 0.495, band: 'low', thresholds: heart }),
        summary('h2', 'heart-disease', '2026-01-03T12:00:00Z', { probability: 0.815, band: 'moderate', thresholds: heart }),
        summary('d1', 'deterioration', '2026-01-03T12:00:00Z', { probability: 0.052, band: 'high', thresholds: { moderate: 0.01, high: 0.05 } }),
      ],
      launched,
    );
    expect(tiles.slice(0, 3).map((t) => [t.value, t.bandLabel])).toEqual([
      ['49.5 %', 'Below the 53.7 % alert threshold'],
      ['81.5 %', 'Above the 53.7 % alert threshold'],
      ['5.2 %', 'At or above the 5.0 % high-risk threshold'],
    ]);
  });
});

describe('score against the model\'s cut-offs (card and view wording)', () => {
  // The shipped heart-disease manifest's cut-offs, read from it (never restated by hand).
  const manifest = JSON.parse(fs.readFileSync('models/heart-disease/manifest.json', 'utf8')) as { thresholds: { moderate: number; high: number } };
  const t = manifest.thresholds;

  it('says where the probability stands against the alert and high-risk thresholds chosen on validation', () => {
    expect(formatPercent(t.moderate)).toBe('53.7 %');
    expect(thresholdPhrase(0.495, t)).toBe('below the 53.7 % alert threshold chosen on validation');
    expect(percentAgainstThreshold(0.495, t)).toBe('49.5 % (below the 53.7 % alert threshold chosen on validation)');
    expect(thresholdPhrase(0.815, t)).toBe('above the 53.7 % alert threshold chosen on validation, below the 83.9 % high-risk threshold');
    expect(thresholdPhrase(0.9, t)).toBe('at or above the 83.9 % high-risk threshold chosen on validation');
    expect(thresholdPhrase(0.495, t, { short: true })).toBe('below the 53.7 % alert threshold');
    expect(thresholdPhrase(t.moderate, t, { short: true })).toBe('at the 53.7 % alert threshold');
    expect(bandText({ probability: 0.495, band: 'low', thresholds: t })).toBe('Below the 53.7 % alert threshold chosen on validation (low band)');
  });

  it('never prints a score and its cut-off alike when they differ', () => {
    // 53.65 % and 53.657 % both print "53.7 %" at one decimal.
    expect(percentAgainstThreshold(0.5365, t, { short: true })).toBe('53.65 % (below the 53.66 % alert threshold)');
    expect(percentAgainstThreshold(0.83948, t, { short: true })).toBe('83.95 % (at or above the 83.94 % high-risk threshold)');
    expect(percentAgainstThreshold(0.2, t, { short: true })).toBe('20.0 % (below the 53.7 % alert threshold)');
  });
});

describe('factor wording and reference ranges', () => {
  it('a factor reads as on the card: value with high/low and carried forward; a missing input says "not measured"', () => {
    const [measured, missing] = factorBars([
      { ...factor('BUN', 0.04), value: '87 mg/dL', direction: 'high', imputed: true },
      { ...factor('Bilirubin_direct', 0.006, []), text: 'Direct bilirubin not measured in the last 48 h' },
    ]);
    expect(factorValueText(measured!)).toBe('87 mg/dL (high, carried forward)');
    expect(factorValueText(missing!)).toBe('not measured');
    expect(factorValueText({ value: '4.3 ×10³/µL', flag: 'normal' })).toBe('4.3 ×10³/µL');
  });

  it("Vigil's adult reference range of an input, for an Observation that carries none", () => {
    expect(referenceRangeOf('BUN')).toBe('7–20 mg/dL');
    expect(referenceRangeOf('chol')).toBe('≤ 200 mg/dL');
    expect(referenceRangeOf('thal')).toBeUndefined();
    expect(referenceRangeOf('nonsense')).toBeUndefined();
  });

  it('time axes read like the rest of the page: 24-hour clock, the day in words once per day', () => {
    const at = (iso: string) => Date.parse(iso) / 1000;
    const hours = [at('2026-11-24T16:00:00'), at('2026-11-25T00:00:00'), at('2026-11-25T08:00:00')];
    expect(timeAxisLabels(hours, 8 * 3600)).toEqual(['16:00\n24 Nov', '00:00\n25 Nov', '08:00']);
    expect(timeAxisLabels([at('2026-11-24T00:00:00'), at('2026-11-25T00:00:00')], 86_400)).toEqual(['24 Nov', '25 Nov']);
  });
});

describe('ECG view logic', () => {
  it('names the lead in bedside words, never the FHIR path it was read from', () => {
    expect(leadText('Observation.component[0] (lead I)')).toBe('lead I');
    expect(leadText('Observation.component[2] (lead aVR)')).toBe('lead aVR');
    expect(leadText('Observation.valueSampledData')).toBeUndefined();
    expect(leadText('Observation.component[1]')).toBeUndefined();
    expect(leadText(undefined)).toBeUndefined();
  });

  // The service's record section must still fit what the page reads (compile-time check).
  const fits = (section: EcgRecordSection): StoredEcgSection => section;
  const ecg: EcgSection = {
    rateHz: 10,
    start: '2026-01-01T10:00:00.000Z',
    durationSeconds: 30,
    lead: 'Observation.valueSampledData',
    rhythm: 'A',
    classes: [
      { code: 'N', name: 'normal sinus rhythm', probability: 0.1 },
      { code: 'A', name: 'atrial fibrillation', probability: 0.8 },
      { code: 'O', name: 'other rhythm', probability: 0.07 },
      { code: '~', name: 'too noisy to classify', probability: 0.03 },
    ],
    signal: Array.from({ length: 300 }, (_v, i) => Math.sin(i / 3)),
    explainedClass: 'A',
    consensus: Array.from({ length: 300 }, (_v, i) => (i >= 120 && i < 130 ? 0.05 : i >= 200 && i < 210 ? -0.05 : 0)),
    segments: [
      { from: 20, to: 21, score: -0.5 },
      { from: 12, to: 13, fromTime: '2026-01-01T10:00:12.000Z', score: 0.5 },
      { from: 0, to: 1, score: 0.01 },
    ],
  };
  const full = fullWindow(ecg);

  it('reads the ECG section of a record and nothing else', () => {
    expect(ecgOf({ ecg } as unknown as ExplanationRecord)).toBe(ecg);
    expect(ecgOf({ factors: [] } as unknown as ExplanationRecord)).toBeUndefined();
    expect(ecgOf({ ecg: { ...ecg, signal: [] } } as unknown as ExplanationRecord)).toBeUndefined();
    expect(full).toEqual({ from: 0, to: 30 });
  });

  it('decodes a format 2 section (fixed-point series) into what format 1 stored; an unknown format is not drawn', () => {
    const signal = ecg.signal.map((v) => Number(v!.toFixed(3)));
    const stored = fits({
      format: 2,
      rateHz: ecg.rateHz,
      start: ecg.start!,
      durationSeconds: ecg.durationSeconds,
      lead: ecg.lead,
      rhythm: 'A',
      classes: ecg.classes.map((c) => ({ ...c, code: c.code as 'N' | 'A' | 'O' | '~' })),
      windows: [],
      explainedClass: 'A',
      segments: ecg.segments!.map((s) => ({ ...s, ranks: {} })),
      signal: onStep(signal, 0.001),
      consensus: relativeToPeak(ecg.consensus!),
    });
    const decoded = ecgOf({ ecg: stored } as unknown as ExplanationRecord)!;
    expect(decoded.signal).toHaveLength(300);
    decoded.signal.forEach((v, i) => expect(v).toBeCloseTo(signal[i]!, 9));
    decoded.consensus!.forEach((v, i) => expect(Math.abs(v - ecg.consensus![i]!)).toBeLessThanOrEqual(0.05 / 2000 + 1e-12));
    expect(topSegments(decoded)).toEqual(topSegments(ecg));
    expect(Array.from(saliencyLevels(decoded.consensus!, 10, 0))).toEqual(Array.from(saliencyLevels(ecg.consensus!, 10, 0)));
    expect(ecgOf({ ecg: { ...stored, format: 3 } } as unknown as ExplanationRecord)).toBeUndefined();
  });

  it('a tracing refused before classification: drawn with gaps for error samples, the reasons in words, no rhythm', () => {
    const fitsUnclassified = (section: UnclassifiedEcgSection): StoredUnclassifiedEcgSection => section;
    const stored = fitsUnclassified({ format: 2, rateHz: 300, durationSeconds: 8, lead: 'Observation.valueSampledData', signal: { scale: 0.001, q: [0, 12, null, -5] }, unclassified: { reasons: ['the tracing is 8.0 s long; at least 10 s are needed'] } });
    const record = { id: 'u', patientId: 'p', serviceId: 'vigil-ecg-rhythm', cardUuid: 'c', model: { id: 'ecg-rhythm', version: '2.0.0' }, created: 'c1', asOf: 'a1', dataHash: 'h', prediction: { probability: 0, band: 'low', indicator: 'info', thresholds: { moderate: 0.5, high: 0.5 }, outcome: 'none' }, factors: [], notUsed: [], ecg: stored } as ExplanationRecord;
    const view = ecgOf(record)!;
    expect(view.signal).toEqual([0, 0.012, null, -0.005]);
    expect([view.rhythm, view.classes, view.consensus]).toEqual(['', [], undefined]);
    expect(ecgNotes(view)).toEqual(['Cannot classify this tracing: the tracing is 8.0 s long; at least 10 s are needed. The model was not run on it, so no rhythm or probabilities are shown. Consider repeating the recording.']);
    expect(summarizeExplanation(record)).toMatchObject({ id: 'u', unclassified: true });
    expect(summarizeExplanation(record)).not.toHaveProperty('rhythm');
  });

  it('zoom: in halves around the centre down to the minimum, out doubles up to the whole, pans stop at the ends', () => {
    expect(zoomWindow(full, full, 'in')).toEqual({ from: 7.5, to: 22.5 });
    expect(zoomWindow({ from: 10, to: 11 }, full, 'in')).toEqual({ from: 10, to: 10 + MIN_ZOOM_SECONDS });
    expect(zoomWindow({ from: 0, to: 4 }, full, 'out')).toEqual({ from: 0, to: 8 });
    expect(zoomWindow({ from: 5, to: 25 }, full, 'out')).toEqual(full);
    expect(zoomWindow({ from: 8, to: 12 }, full, 'later')).toEqual({ from: 9, to: 13 });
    expect(zoomWindow({ from: 8, to: 12 }, full, 'earlier')).toEqual({ from: 7, to: 11 });
    expect(zoomWindow({ from: 0.5, to: 4.5 }, full, 'earlier')).toEqual({ from: 0, to: 4 });
    expect(zoomWindow({ from: 27, to: 29.5 }, full, 'later')).toEqual({ from: 27.5, to: 30 });
    expect(zoomWindow(full, full, 'later')).toEqual(full);
    expect(['+', '=', '-', 'ArrowLeft', 'ArrowRight', '0', 'Home', 'a', 'Enter'].map(zoomKey)).toEqual(['in', 'in', 'out', 'earlier', 'later', 'reset', 'reset', undefined, undefined]);
  });

  it('segment → zoom range: the segment with a second either side, inside the tracing; announced in words', () => {
    expect(segmentWindow({ from: 12, to: 13 }, full)).toEqual({ from: 11, to: 14 });
    expect(segmentWindow({ from: 0, to: 1 }, full)).toEqual({ from: 0, to: 2 });
    expect(segmentWindow({ from: 29, to: 30 }, full, 2)).toEqual({ from: 27, to: 30 });
    expect(windowText({ from: 11, to: 14 }, full)).toBe('Showing 11 s to 14 s of 30 s');
    expect(windowText({ from: 2.25, to: 4.5 }, full)).toBe('Showing 2.3 s to 4.5 s of 30 s');
    expect(windowText(full, full)).toBe('Showing the whole tracing, 30 s');
  });

  it('top segments: only those supporting the call, strongest first, with their clock time and share', () => {
    expect(topSegments(ecg)).toEqual([
      { from: 12, to: 13, label: '12–13 s', at: '2026-01-01T10:00:12.000Z', share: 0.5 },
      { from: 0, to: 1, label: '0–1 s', share: 0.01 },
    ]);
    expect(topSegments({ segments: undefined })).toEqual([]);
  });

  it('saliency band: smoothed support on 0–1 (evidence against → 0), strongest sample per column', () => {
    const levels = saliencyLevels(ecg.consensus!, ecg.rateHz, 0);
    expect(Math.max(...levels)).toBe(1);
    expect(levels[125]).toBe(1);
    expect(levels[205]).toBe(0);
    expect(levels[0]).toBe(0);
    // 30 columns over the whole tracing: one per second; second 12 holds the support.
    const columns = bandColumns(levels, ecg.rateHz, full, 30);
    expect(columns).toHaveLength(30);
    expect(columns[12]).toBe(1);
    expect(columns.filter((c) => c > 0)).toHaveLength(1);
    // Zoomed to 11–14 s in 6 columns: half-second cells, 12–13 s lit.
    expect(bandColumns(levels, ecg.rateHz, { from: 11, to: 14 }, 6)).toEqual([0, 0, 1, 1, 0, 0]);
    // Cells narrower than a sample take the sample they fall in.
    expect(bandColumns(levels, ecg.rateHz, { from: 12, to: 12.1 }, 4)).toEqual([1, 1, 1, 1]);
    // Smoothing spreads a one-sample spike and keeps the peak at 1.
    const spike = saliencyLevels([0, 0, 0, 0, 1, 0, 0, 0, 0], 10, 0.3);
    expect(spike[4]).toBe(1);
    expect(spike[3]).toBeCloseTo(1, 5);
    expect(spike[0]).toBe(0);
    expect(saliencyLevels([-1, -2], 10).every((v) => v === 0)).toBe(true);
  });

  it('band colours: a sequential scale whose lightness falls with support; grey for none', () => {
    expect(supportColor(0)).toBe(NO_SUPPORT_COLOR);
    const hex = (rgb: string) => `#${rgb.match(/\d+/g)!.map((x) => Number(x).toString(16).padStart(2, '0')).join('')}`;
    const lum = [0.05, 0.25, 0.5, 0.75, 1].map((level) => luminance(hex(supportColor(level)))!);
    for (let i = 1; i < lum.length; i++) expect(lum[i]!).toBeLessThan(lum[i - 1]!);
  });

  it('class bars mark the call; a noisy call and a missing saliency are said in words', () => {
    expect(classBars(ecg).map((b) => [b.code, b.called])).toEqual([['N', false], ['A', true], ['O', false], ['~', false]]);
    expect(ecgNotes(ecg)).toEqual([]);
    const noisy = ecgNotes({ ...ecg, rhythm: '~', consensus: undefined });
    expect(noisy[0]).toMatch(/^Cannot classify this rhythm: .*too noisy/);
    expect(noisy[1]).toMatch(/not computed/);
  });
});

describe('model card: ECG rhythm', () => {
  it('summarises the shipped ECG card with its AF-vs-normal AUROC (CI) and the Challenge F1', () => {
    const s = summarizeModelCard(JSON.parse(fs.readFileSync('models/ecg-rhythm/card.json', 'utf8')))!;
    const af = s.performance.find((r) => r.metric === 'AUROC, atrial fibrillation vs normal')!;
    expect(af.lower).toBeLessThan(af.estimate);
    expect(af.upper).toBeGreaterThan(af.estimate);
    expect(s.performance.map((r) => r.metric)).toContain('Challenge F1 (mean of normal, AF, other)');
  });
});

describe('"data up to" never in the future', () => {
  it('shows the scoring time when the record\'s window ends after it (an hourly bucket still running)', () => {
    expect(dataUpTo('2026-11-26T02:00:00.000Z', '2026-11-26T01:40:12.000Z')).toBe('2026-11-26T01:40:12.000Z');
    expect(dataUpTo('2026-11-26T02:00:00.000Z', '2026-11-26T02:10:00.000Z')).toBe('2026-11-26T02:00:00.000Z');
    expect(dataUpTo('2026-11-26T02:00:00.000Z', undefined)).toBe('2026-11-26T02:00:00.000Z');
  });

  it('a tabular record names its newest measurement, not the call time as "data up to"', () => {
    const iso = (t: string) => t;
    const workUp = {
      asOf: '2026-11-26T02:00:00.000Z',
      created: '2026-11-26T02:00:00.000Z',
      factors: [
        { time: '2026-10-14T09:00:00Z' },
        { time: '2026-10-15T10:30:00Z' },
        {},
      ] as ExplanationRecord['factors'],
    };
    expect(dataRecencyText(workUp, iso)).toBe('Scored 2026-11-26T02:00:00.000Z from measurements up to 2026-10-15T10:30:00.000Z');
    expect(dataRecencyText({ ...workUp, factors: [] }, iso)).toBe('Scored 2026-11-26T02:00:00.000Z');
    const record = { id: 'x', patientId: 'p', serviceId: 's', cardUuid: 'c', model: { id: 'heart-disease', version: '1' }, dataHash: 'h', notUsed: [], ...workUp } as ExplanationRecord;
    expect(summarizeExplanation(record).measuredUpTo).toBe('2026-10-15T10:30:00.000Z');
    expect(modelTiles([], summarizeExplanation(record))[0]!.measuredUpTo).toBe('2026-10-15T10:30:00.000Z');
    const window = { start: '2026-11-24T02:00:00.000Z' } as unknown as ExplanationRecord['window'];
    expect(dataRecencyText({ ...workUp, created: '2026-11-26T01:40:00.000Z', window }, iso)).toBe('Data up to 2026-11-26T01:40:00.000Z');
  });
});

describe('errors in words', () => {
  it('a refused explanation names both causes the API cannot tell apart (another patient, or no longer kept)', () => {
    const refused = messageFor(403, 'explanation');
    expect(refused.message).toContain('belongs to a different patient');
    expect(refused.message).toContain('no longer kept');
    expect(refused.relaunch).toBe(false);
    expect(messageFor(401, 'explanation')).toMatchObject({ relaunch: true, message: "Your Vigil session has ended. Open Vigil again from the patient's chart." });
  });
});
