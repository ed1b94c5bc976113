import { describe, expect, it } from '@jest/globals';
import {
  ageBand,
  auprc,
  auroc,
  binaryReport,
  bootstrapInterval,
  brierScore,
  calibration,
  operatingPoint,
  reliabilityBins,
  subgroupReports,
  thresholdForSensitivity,
  thresholdForSpecificity,
} from '../../src/models/metrics.js';
import { reliabilitySvg } from '../../src/models/reliability-svg.js';
import { fitLogistic, predictLogistic } from '../../src/models/logistic.js';

const y = [0, 0, 1, 1];
const p = [0.1, 0.4, 0.35, 0.8];

describe('discrimination (hand-computed)', () => {
  it('AUROC counts correctly ordered positive–negative pairs: 3 of 4', () => {
    expect(auroc(y, p)).toBeCloseTo(0.75, 12);
  });
  it('AUROC counts ties as one half and is NaN with one class', () => {
    expect(auroc([1, 0], [0.5, 0.5])).toBe(0.5);
    expect(auroc([1, 0, 1], [0.2, 0.2, 0.9])).toBeCloseTo(0.75, 12);
    expect(auroc([1, 1], [0.1, 0.2])).toBeNaN();
  });
  it('AUPRC is average precision: 0.5·1 + 0.5·(2/3)', () => {
    expect(auprc(y, p)).toBeCloseTo(0.5 + 1 / 3, 12);
    expect(auprc([1, 0], [0.5, 0.5])).toBeCloseTo(0.5, 12);
    expect(auprc([0, 0], [0.5, 0.5])).toBeNaN();
  });
  it('perfect and inverted rankings', () => {
    expect(auroc([0, 0, 1], [0.1, 0.2, 0.3])).toBe(1);
    expect(auroc([1, 0, 0], [0.9, 0.95, 0.99])).toBe(0);
    expect(auprc([0, 0, 1], [0.1, 0.2, 0.3])).toBe(1);
  });
});

describe('calibration (hand-computed)', () => {
  it('Brier score', () => {
    expect(brierScore(y, p)).toBeCloseTo((0.01 + 0.16 + 0.4225 + 0.04) / 4, 12);
  });
  it('well calibrated two-level predictions give slope 1 and intercept 0', () => {
    // 0.2 predicted for five with one event, 0.8 for five with four events: the saturated fit is exact.
    const labels = [1, 0, 0, 0, 0, 1, 1, 1, 1, 0];
    const probs = [...Array(5).fill(0.2), ...Array(5).fill(0.8)];
    const c = calibration(labels, probs);
    expect(c.slope).toBeCloseTo(1, 6);
    expect(c.intercept).toBeCloseTo(0, 6);
  });
  it('predictions that carry no information give slope 0; under-prediction gives a positive intercept', () => {
    const labels = [1, 0, 1, 0, 1, 0, 1, 0];
    const probs = [0.2, 0.2, 0.2, 0.2, 0.8, 0.8, 0.8, 0.8];
    expect(calibration(labels, probs).slope).toBeCloseTo(0, 6);
    // Everyone predicted 0.2 but half have the event: intercept = logit(0.5) − logit(0.2) = ln 4.
    expect(calibration([1, 0, 1, 0], [0.2, 0.2, 0.2, 0.2]).intercept).toBeCloseTo(Math.log(4), 6);
  });
  it('reliability bins hold mean prediction and observed rate', () => {
    const bins = reliabilityBins([0, 1, 1, 0], [0.05, 0.15, 0.95, 0.91], 10);
    expect(bins.map((b) => [b.lower, b.upper, b.count, b.observedRate])).toEqual([
      [0, 0.1, 1, 0],
      [0.1, 0.2, 1, 1],
      [0.9, 1, 2, 0.5],
    ]);
    expect(bins[2]!.meanPredicted).toBeCloseTo(0.93, 12);
    const svg = reliabilitySvg(bins, 'Test <model>');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('Test &lt;model&gt;');
    expect(svg.match(/<circle/g)).toHaveLength(3);
  });
});

describe('bootstrap and subgroups', () => {
  const labels = Array.from({ length: 200 }, (_, i) => (i % 3 === 0 ? 1 : 0));
  const scores = labels.map((l, i) => l * 0.3 + ((i * 7919) % 100) / 100);

  it('is reproducible for a seed and brackets the estimate', () => {
    const a = bootstrapInterval(labels, scores, auroc, { seed: 7, replicates: 200 });
    const b = bootstrapInterval(labels, scores, auroc, { seed: 7, replicates: 200 });
    expect(a).toEqual(b);
    expect(a.estimate).toBeCloseTo(auroc(labels, scores), 12);
    expect(a.lower).toBeLessThanOrEqual(a.estimate);
    expect(a.upper).toBeGreaterThanOrEqual(a.estimate);
    expect(a.upper - a.lower).toBeGreaterThan(0);
    expect(bootstrapInterval(labels, scores, auroc, { seed: 8, replicates: 200 })).not.toEqual(a);
  });

  it('cluster bootstrap resamples whole patients', () => {
    // Two patients, each with identical rows: every replicate holds whole patients only.
    const r = bootstrapInterval([1, 1, 0, 0], [0.9, 0.9, 0.1, 0.1], auroc, { clusters: ['a', 'a', 'b', 'b'], replicates: 50 });
    expect(r).toEqual({ estimate: 1, lower: 1, upper: 1 });
  });

  it('splits a report by subgroup', () => {
    const groups = subgroupReports(y, p, (i) => ageBand([45, 70, 70, 45][i]!), { replicates: 20 });
    expect(Object.keys(groups).sort()).toEqual(['age 65-79', 'age <50']);
    expect(groups['age <50']!.n).toBe(2);
    expect(groups['age <50']!.auroc.estimate).toBe(1);
    expect(groups['age 65-79']!.auroc.estimate).toBe(0);
    const whole = binaryReport(y, p, { replicates: 20 });
    expect(whole.positives).toBe(2);
    expect(whole.auroc.estimate).toBeCloseTo(0.75, 12);
  });
});

describe('thresholds chosen on validation', () => {
  it('sensitivity target picks the highest threshold that still catches enough positives', () => {
    const t = thresholdForSensitivity([1, 1, 1, 1, 0], [0.9, 0.8, 0.7, 0.6, 0.5], 0.75);
    expect(t).toBe(0.7);
    expect(operatingPoint([1, 1, 1, 1, 0], [0.9, 0.8, 0.7, 0.6, 0.5], t).sensitivity).toBe(0.75);
  });
  it('specificity target picks the lowest threshold that keeps enough negatives unflagged', () => {
    const labels = [0, 0, 0, 0, 1];
    const scores = [0.1, 0.2, 0.3, 0.4, 0.9];
    const t = thresholdForSpecificity(labels, scores, 0.75);
    expect(t).toBeCloseTo(0.35, 12);
    expect(operatingPoint(labels, scores, t)).toEqual({ sensitivity: 1, specificity: 0.75, ppv: 0.5 });
  });
});

describe('logistic regression baseline', () => {
  it('recovers known coefficients from noiseless-probability data', () => {
    // Rows replicated in proportion to the true probabilities σ(−1 + 2x).
    const rows: number[][] = [];
    const labels: number[] = [];
    for (const x of [-1, 0, 1, 2]) {
      const prob = 1 / (1 + Math.exp(-(-1 + 2 * x)));
      const pos = Math.round(prob * 1000);
      for (let i = 0; i < 1000; i++) {
        rows.push([x]);
        labels.push(i < pos ? 1 : 0);
      }
    }
    const m = fitLogistic(rows, labels, { l2: 0 });
    expect(m.intercept).toBeCloseTo(-1, 1);
    expect(m.weights[0]).toBeCloseTo(2, 1);
    expect(predictLogistic(m, [0.5])).toBeCloseTo(0.5, 2);
  });
  it('sample weights act like duplicated rows', () => {
    const rows = [[0], [1], [1], [0]];
    const a = fitLogistic([...rows, [1]], [0, 1, 0, 1, 1], { l2: 0.1 });
    const b = fitLogistic(rows, [0, 1, 0, 1], { l2: 0.1, sampleWeights: [1, 2, 1, 1] });
    expect(b.intercept).toBeCloseTo(a.intercept, 8);
    expect(b.weights[0]).toBeCloseTo(a.weights[0]!, 8);
  });
});
