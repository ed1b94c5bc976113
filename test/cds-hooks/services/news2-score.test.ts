import { describe, expect, it } from '@jest/globals';
import {
  airOrOxygenPoints,
  clinicalResponse,
  clinicalRisk,
  consciousnessPoints,
  pulsePoints,
  respirationRatePoints,
  roundToChart,
  scoreNews2,
  spo2Points,
  systolicBpPoints,
  temperaturePoints,
  type News2Inputs,
} from '../../../src/cds-hooks/services/news2/score.js';

// Every band edge of RCP NEWS2 chart 1, both sides: [value, expected points].
describe('NEWS2 chart 1 band edges', () => {
  it.each([
    [0, 3], [8, 3], [9, 1], [11, 1], [12, 0], [20, 0], [21, 2], [24, 2], [25, 3], [60, 3],
  ])('respiration rate %p → %p', (value, points) => {
    expect(respirationRatePoints(value)).toBe(points);
  });

  it.each([
    [70, 3], [91, 3], [92, 2], [93, 2], [94, 1], [95, 1], [96, 0], [100, 0],
  ])('SpO2 scale 1 %p → %p (oxygen status irrelevant)', (value, points) => {
    expect(spo2Points(value, 1, false)).toBe(points);
    expect(spo2Points(value, 1, true)).toBe(points);
    expect(spo2Points(value, 1, undefined)).toBe(points);
  });

  it.each([
    [70, 3], [83, 3], [84, 2], [85, 2], [86, 1], [87, 1], [88, 0], [92, 0], [93, 0], [97, 0], [100, 0],
  ])('SpO2 scale 2 on air %p → %p', (value, points) => {
    expect(spo2Points(value, 2, false)).toBe(points);
  });

  it.each([
    [83, 3], [84, 2], [85, 2], [86, 1], [87, 1], [88, 0], [92, 0], [93, 1], [94, 1], [95, 2], [96, 2], [97, 3], [100, 3],
  ])('SpO2 scale 2 on oxygen %p → %p', (value, points) => {
    expect(spo2Points(value, 2, true)).toBe(points);
  });

  // Readings between chart rows are charted half up first (roundToChart), so x.4 stays in the lower row
  // and x.5 moves up: every band edge of both scales, from both sides.
  it.each([
    [91.4, 3], [91.5, 2], [93.4, 2], [93.5, 1], [95.4, 1], [95.5, 0],
  ])('SpO2 scale 1 between rows %p → %p', (value, points) => {
    expect(spo2Points(value, 1, true)).toBe(points);
    expect(spo2Points(value, 1, false)).toBe(points);
  });

  it.each([
    [83.4, 3, 3], [83.5, 2, 2], [85.4, 2, 2], [85.5, 1, 1], [87.4, 1, 1], [87.5, 0, 0],
    [92.4, 0, 0], [92.5, 0, 1], [94.4, 0, 1], [94.5, 0, 2], [96.4, 0, 2], [96.5, 0, 3],
  ])('SpO2 scale 2 between rows %p → %p on air, %p on oxygen', (value, air, oxygen) => {
    expect(spo2Points(value, 2, false)).toBe(air);
    expect(spo2Points(value, 2, true)).toBe(oxygen);
  });

  it('SpO2 scale 2 with unknown oxygen status uses the air bands (the lower score)', () => {
    expect(spo2Points(97, 2, undefined)).toBe(0);
    expect(spo2Points(84, 2, undefined)).toBe(2);
  });

  it('air scores 0, oxygen scores 2', () => {
    expect(airOrOxygenPoints(false)).toBe(0);
    expect(airOrOxygenPoints(true)).toBe(2);
  });

  it.each([
    [60, 3], [90, 3], [91, 2], [100, 2], [101, 1], [110, 1], [111, 0], [219, 0], [220, 3], [250, 3],
  ])('systolic BP %p → %p', (value, points) => {
    expect(systolicBpPoints(value)).toBe(points);
  });

  it.each([
    [30, 3], [40, 3], [41, 1], [50, 1], [51, 0], [90, 0], [91, 1], [110, 1], [111, 2], [130, 2], [131, 3], [180, 3],
  ])('pulse %p → %p', (value, points) => {
    expect(pulsePoints(value)).toBe(points);
  });

  it.each([
    [33.0, 3], [35.0, 3], [35.1, 1], [36.0, 1], [36.1, 0], [38.0, 0], [38.1, 1], [39.0, 1], [39.1, 2], [41.0, 2],
  ])('temperature %p °C → %p', (value, points) => {
    expect(temperaturePoints(value)).toBe(points);
  });

  it.each([
    ['A', 0], ['C', 3], ['V', 3], ['P', 3], ['U', 3],
  ] as const)('consciousness %p → %p', (level, points) => {
    expect(consciousnessPoints(level)).toBe(points);
  });

  it('GCS 15 is alert; any GCS below 15 is not', () => {
    expect(consciousnessPoints({ gcs: 15 })).toBe(0);
    expect(consciousnessPoints({ gcs: 14 })).toBe(3);
    expect(consciousnessPoints({ gcs: 3 })).toBe(3);
  });
});

describe('rounding to the chart resolution (half up)', () => {
  it.each([
    [20.4, 0, 20], [20.5, 0, 21], [95.5, 0, 96], [90.49, 0, 90], [38.04, 1, 38.0], [38.05, 1, 38.1], [35.05, 1, 35.1], [36.95, 1, 37.0],
  ] as const)('%p at %p decimals → %p', (value, decimals, expected) => {
    expect(roundToChart(value, decimals)).toBe(expected);
  });

  it('scores the rounded value, so readings between chart rows land in the nearer row', () => {
    expect(respirationRatePoints(20.4)).toBe(0);
    expect(respirationRatePoints(20.5)).toBe(2);
    expect(systolicBpPoints(90.4)).toBe(3);
    expect(systolicBpPoints(90.5)).toBe(2);
    expect(temperaturePoints(35.04)).toBe(3);
    expect(temperaturePoints(35.05)).toBe(1);
    expect(temperaturePoints(38.05)).toBe(1);
    expect(spo2Points(91.5, 1, false)).toBe(2);
    expect(pulsePoints(130.5)).toBe(3);
  });
});

describe('chart 2 and 3: risk band and response', () => {
  it.each([
    [0, false, 'low', 'routine'],
    [1, false, 'low', 'ward-based'],
    [4, false, 'low', 'ward-based'],
    [3, true, 'low-medium', 'urgent-ward-based'],
    [4, true, 'low-medium', 'urgent-ward-based'],
    [5, false, 'medium', 'urgent'],
    [6, true, 'medium', 'urgent'],
    [7, false, 'high', 'emergency'],
    [20, true, 'high', 'emergency'],
  ] as const)('total %p, red score %p → %p / %p', (total, red, risk, response) => {
    expect(clinicalRisk(total, red)).toBe(risk);
    expect(clinicalResponse(total, clinicalRisk(total, red))).toBe(response);
  });
});

const normal: News2Inputs = {
  respiratoryRate: 16,
  spo2: 97,
  onOxygen: false,
  systolicBp: 125,
  pulse: 72,
  consciousness: 'A',
  temperature: 36.8,
};

describe('scoreNews2 worked examples', () => {
  it('healthy adult on air: 0, low, routine, complete', () => {
    const r = scoreNews2(normal);
    expect(r).toMatchObject({ total: 0, risk: 'low', response: 'routine', complete: true, redScore: false, scale: 1 });
    expect(r.missing).toEqual([]);
    expect(r.subScores).toHaveLength(7);
  });

  it('several mild derangements add up to the key threshold (5 → medium, urgent)', () => {
    // RR 22 (2) + SpO2 95 (1) + SBP 105 (1) + pulse 95 (1) = 5.
    const r = scoreNews2({ ...normal, respiratoryRate: 22, spo2: 95, systolicBp: 105, pulse: 95 });
    expect(r.total).toBe(5);
    expect(r.risk).toBe('medium');
    expect(r.response).toBe('urgent');
    expect(r.redScore).toBe(false);
  });

  it('a single red parameter with a low total is low–medium (urgent ward-based)', () => {
    const r = scoreNews2({ ...normal, consciousness: 'V' });
    expect(r.total).toBe(3);
    expect(r.risk).toBe('low-medium');
    expect(r.response).toBe('urgent-ward-based');
    expect(r.redScore).toBe(true);
  });

  it('total 4 without a 3 stays low', () => {
    // RR 21 (2) + oxygen (2) = 4.
    const r = scoreNews2({ ...normal, respiratoryRate: 21, onOxygen: true });
    expect(r).toMatchObject({ total: 4, risk: 'low', response: 'ward-based', redScore: false });
  });

  it('septic shock picture: every parameter deranged → 18, high, emergency', () => {
    const r = scoreNews2({
      respiratoryRate: 28, // 3
      spo2: 91, // 3
      onOxygen: true, // 2
      systolicBp: 88, // 3
      pulse: 125, // 2
      consciousness: 'C', // 3
      temperature: 39.2, // 2
    });
    expect(r.total).toBe(18);
    expect(r).toMatchObject({ risk: 'high', response: 'emergency' });
  });

  it('the maximum possible score is 20', () => {
    const r = scoreNews2({ respiratoryRate: 30, spo2: 80, onOxygen: true, systolicBp: 80, pulse: 140, consciousness: 'U', temperature: 34 });
    expect(r.total).toBe(20);
  });

  it('scale 2 on oxygen penalises over-oxygenation that scale 1 would not', () => {
    const inputs = { ...normal, spo2: 96, onOxygen: true };
    expect(scoreNews2(inputs, 1).total).toBe(2); // oxygen only
    expect(scoreNews2(inputs, 2).total).toBe(4); // oxygen 2 + SpO2 95–96 on O2 2
    expect(scoreNews2({ ...normal, spo2: 89 }, 2).total).toBe(0); // in the 88–92 target on air
    expect(scoreNews2({ ...normal, spo2: 89 }, 1).total).toBe(3);
  });

  it('scale 2 totals at the ≥ 93 % edge: 0 on air, 1/2/3 plus the oxygen 2 on oxygen', () => {
    for (const spo2 of [93, 95, 97, 100]) expect(scoreNews2({ ...normal, spo2, onOxygen: false }, 2)).toMatchObject({ total: 0, scale: 2 });
    expect(scoreNews2({ ...normal, spo2: 92, onOxygen: true }, 2).total).toBe(2);
    expect(scoreNews2({ ...normal, spo2: 93, onOxygen: true }, 2).total).toBe(3);
    expect(scoreNews2({ ...normal, spo2: 95, onOxygen: true }, 2).total).toBe(4);
    // 97 % on oxygen is a red score (a single 3) on scale 2 and nothing but the oxygen on scale 1.
    expect(scoreNews2({ ...normal, spo2: 97, onOxygen: true }, 2)).toMatchObject({ total: 5, redScore: true, risk: 'medium' });
    expect(scoreNews2({ ...normal, spo2: 97, onOxygen: true }, 1)).toMatchObject({ total: 2, redScore: false, risk: 'low' });
  });

  it('missing parameters score 0, are listed in chart order, and mark the score incomplete', () => {
    const r = scoreNews2({ respiratoryRate: 26, pulse: 115 });
    expect(r.total).toBe(5);
    expect(r.complete).toBe(false);
    expect(r.missing).toEqual(['spo2', 'airOrOxygen', 'systolicBp', 'consciousness', 'temperature']);
    expect(r.risk).toBe('medium');
  });

  it('records the charted (rounded) values', () => {
    const r = scoreNews2({ ...normal, temperature: 38.05, respiratoryRate: 20.5 });
    expect(r.subScores.find((s) => s.parameter === 'temperature')).toEqual({ parameter: 'temperature', points: 1, chartedValue: 38.1 });
    expect(r.subScores.find((s) => s.parameter === 'respiratoryRate')).toEqual({ parameter: 'respiratoryRate', points: 2, chartedValue: 21 });
  });
});
