/**
 * Discrimination and calibration metrics for binary risk models. Pure functions over plain arrays; the
 * trainers, the evaluation CLI and the model cards all use these, so every reported figure has one
 * definition.
 */
import { seededRandom } from './random.js';

export type Labels = ArrayLike<number>;
export type Scores = ArrayLike<number>;

function checkLengths(labels: Labels, scores: Scores): void {
  if (labels.length !== scores.length) throw new Error('labels and scores differ in length');
}

/**
 * Area under the ROC curve as the Mann–Whitney U statistic: the probability that a random positive
 * scores above a random negative, ties counting one half. NaN when either class is absent.
 */
export function auroc(labels: Labels, scores: Scores): number {
  checkLengths(labels, scores);
  const order = Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  let rankSumPos = 0;
  let nPos = 0;
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && scores[order[j + 1]!] === scores[order[i]!]) j++;
    const averageRank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) {
      if (labels[order[k]!] === 1) {
        rankSumPos += averageRank;
        nPos++;
      }
    }
    i = j + 1;
  }
  const nNeg = order.length - nPos;
  if (nPos === 0 || nNeg === 0) return NaN;
  return (rankSumPos - (nPos * (nPos + 1)) / 2) / (nPos * nNeg);
}

/**
 * Area under the precision–recall curve as average precision: Σ (Rₖ − Rₖ₋₁)·Pₖ over descending
 * thresholds, tied scores forming one threshold (no interpolation). NaN without positives.
 */
export function auprc(labels: Labels, scores: Scores): number {
  checkLengths(labels, scores);
  const order = Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[b]! - scores[a]!);
  let nPos = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i] === 1) nPos++;
  if (nPos === 0) return NaN;
  let tp = 0;
  let seen = 0;
  let ap = 0;
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && scores[order[j + 1]!] === scores[order[i]!]) j++;
    let tpHere = 0;
    for (let k = i; k <= j; k++) if (labels[order[k]!] === 1) tpHere++;
    tp += tpHere;
    seen += j - i + 1;
    ap += (tpHere / nPos) * (tp / seen);
    i = j + 1;
  }
  return ap;
}

/** Mean squared difference between predicted probability and outcome. */
export function brierScore(labels: Labels, probabilities: Scores): number {
  checkLengths(labels, probabilities);
  let sum = 0;
  for (let i = 0; i < labels.length; i++) sum += (probabilities[i]! - labels[i]!) ** 2;
  return sum / labels.length;
}

const EPS = 1e-7;
export function logit(p: number): number {
  const q = Math.min(1 - EPS, Math.max(EPS, p));
  return Math.log(q / (1 - q));
}
export function sigmoid(z: number): number {
  return 1 / (1 + Math.exp(-z));
}

/**
 * One-predictor logistic regression y ~ a + b·x (+ offset) by Newton–Raphson. With fixSlope the slope is
 * held at that value and only a is fitted.
 */
function fitLogistic1d(labels: Labels, x: ArrayLike<number>, fixSlope?: number): { a: number; b: number } {
  let a = 0;
  let b = fixSlope ?? 1;
  for (let iter = 0; iter < 100; iter++) {
    let ga = 0;
    let gb = 0;
    let haa = 0;
    let hab = 0;
    let hbb = 0;
    for (let i = 0; i < labels.length; i++) {
      const p = sigmoid(a + b * x[i]!);
      const r = labels[i]! - p;
      const w = p * (1 - p);
      ga += r;
      gb += r * x[i]!;
      haa += w;
      hab += w * x[i]!;
      hbb += w * x[i]! * x[i]!;
    }
    let da: number;
    let db = 0;
    if (fixSlope !== undefined) {
      da = ga / (haa + 1e-12);
    } else {
      const det = haa * hbb - hab * hab + 1e-12;
      da = (hbb * ga - hab * gb) / det;
      db = (haa * gb - hab * ga) / det;
    }
    a += da;
    b += db;
    if (Math.abs(da) < 1e-10 && Math.abs(db) < 1e-10) break;
  }
  return { a, b };
}

/**
 * Joint logistic recalibration fit logit(P(y=1)) = a + b·logit(p) (Platt-style), used to recalibrate a
 * model on the validation split.
 */
export function recalibrationFit(labels: Labels, probabilities: Scores): { a: number; b: number } {
  checkLengths(labels, probabilities);
  return fitLogistic1d(labels, Array.from(probabilities, logit));
}

export interface Calibration {
  /** Slope b of the logistic recalibration logit(P(y=1)) = a + b·logit(p); 1 is ideal, < 1 means too extreme. */
  slope: number;
  /** Calibration-in-the-large: a with the slope fixed at 1 (offset logit(p)); 0 is ideal, > 0 means under-prediction. */
  intercept: number;
}

/** Logistic recalibration (Cox 1958; Steyerberg, Clinical Prediction Models, ch. 15). */
export function calibration(labels: Labels, probabilities: Scores): Calibration {
  checkLengths(labels, probabilities);
  const x = Array.from(probabilities, logit);
  return { slope: fitLogistic1d(labels, x).b, intercept: fitLogistic1d(labels, x, 1).a };
}

export interface ReliabilityBin {
  lower: number;
  upper: number;
  count: number;
  meanPredicted: number;
  observedRate: number;
}

/** Equal-width probability bins with the mean prediction and observed event rate in each (empty bins omitted). */
export function reliabilityBins(labels: Labels, probabilities: Scores, bins = 10): ReliabilityBin[] {
  const count = new Array<number>(bins).fill(0);
  const sumP = new Array<number>(bins).fill(0);
  const sumY = new Array<number>(bins).fill(0);
  for (let i = 0; i < labels.length; i++) {
    const b = Math.min(bins - 1, Math.floor(probabilities[i]! * bins));
    count[b]!++;
    sumP[b]! += probabilities[i]!;
    sumY[b]! += labels[i]!;
  }
  const out: ReliabilityBin[] = [];
  for (let b = 0; b < bins; b++) {
    if (!count[b]) continue;
    out.push({ lower: b / bins, upper: (b + 1) / bins, count: count[b]!, meanPredicted: sumP[b]! / count[b]!, observedRate: sumY[b]! / count[b]! });
  }
  return out;
}

export interface Interval {
  estimate: number;
  lower: number;
  upper: number;
}

export interface BootstrapOptions {
  replicates?: number;
  seed?: number;
  /** Two-sided level; 0.95 gives the 2.5th and 97.5th percentiles. */
  level?: number;
  /**
   * Resampling unit per row (e.g. patient id for per-hour metrics, so hours of one patient are resampled
   * together). Default: every row is its own unit.
   */
  clusters?: ArrayLike<string | number>;
}

/**
 * Percentile bootstrap confidence interval (Efron & Tibshirani 1993, ch. 13), seeded so intervals are
 * reproducible. Replicates where the metric is undefined (one class only) are skipped.
 */
export function bootstrapInterval(
  labels: Labels,
  scores: Scores,
  metric: (labels: Labels, scores: Scores) => number,
  options: BootstrapOptions = {},
): Interval {
  const { replicates = 1000, seed = 1, level = 0.95 } = options;
  const random = seededRandom(seed);
  const units = new Map<string | number, number[]>();
  for (let i = 0; i < labels.length; i++) {
    const key = options.clusters ? options.clusters[i]! : i;
    let rows = units.get(key);
    if (!rows) units.set(key, (rows = []));
    rows.push(i);
  }
  const groups = [...units.values()];
  const values: number[] = [];
  const ys: number[] = [];
  const ss: number[] = [];
  for (let r = 0; r < replicates; r++) {
    ys.length = 0;
    ss.length = 0;
    for (let g = 0; g < groups.length; g++) {
      for (const i of groups[Math.floor(random() * groups.length)]!) {
        ys.push(labels[i]!);
        ss.push(scores[i]!);
      }
    }
    const v = metric(ys, ss);
    if (!Number.isNaN(v)) values.push(v);
  }
  values.sort((a, b) => a - b);
  const q = (p: number) => values[Math.min(values.length - 1, Math.max(0, Math.floor(p * (values.length - 1))))] ?? NaN;
  return { estimate: metric(labels, scores), lower: q((1 - level) / 2), upper: q(1 - (1 - level) / 2) };
}

export interface BinaryReport {
  n: number;
  positives: number;
  auroc: Interval;
  auprc: Interval;
  brier: number;
  calibration: Calibration;
  reliability: ReliabilityBin[];
}

/** The full report used by metrics.json, model cards and `npm run evaluate`. */
export function binaryReport(labels: Labels, probabilities: Scores, options: BootstrapOptions = {}): BinaryReport {
  let positives = 0;
  for (let i = 0; i < labels.length; i++) positives += labels[i]!;
  const bothClasses = positives > 0 && positives < labels.length;
  return {
    n: labels.length,
    positives,
    auroc: bootstrapInterval(labels, probabilities, auroc, options),
    auprc: bootstrapInterval(labels, probabilities, auprc, options),
    brier: brierScore(labels, probabilities),
    calibration: bothClasses ? calibration(labels, probabilities) : { slope: NaN, intercept: NaN },
    reliability: reliabilityBins(labels, probabilities),
  };
}

/** Metrics per subgroup (e.g. sex, age band); a subgroup's rows are picked by its key. */
export function subgroupReports(
  labels: Labels,
  probabilities: Scores,
  groupOf: (index: number) => string,
  options: BootstrapOptions = {},
): Record<string, BinaryReport> {
  const byGroup = new Map<string, number[]>();
  for (let i = 0; i < labels.length; i++) {
    const g = groupOf(i);
    let rows = byGroup.get(g);
    if (!rows) byGroup.set(g, (rows = []));
    rows.push(i);
  }
  const out: Record<string, BinaryReport> = {};
  for (const [g, rows] of [...byGroup].sort(([a], [b]) => a.localeCompare(b))) {
    const clusters = options.clusters ? rows.map((i) => options.clusters![i]!) : undefined;
    out[g] = binaryReport(
      rows.map((i) => labels[i]!),
      rows.map((i) => probabilities[i]!),
      { ...options, clusters },
    );
  }
  return out;
}

/** Age bands used for subgroup reporting in every model card. */
export function ageBand(age: number): string {
  if (Number.isNaN(age)) return 'age unknown';
  if (age < 50) return 'age <50';
  if (age < 65) return 'age 50-64';
  if (age < 80) return 'age 65-79';
  return 'age >=80';
}

export function sexGroup(sex: number): string {
  return sex === 1 ? 'male' : sex === 0 ? 'female' : 'sex unknown';
}

/**
 * The highest threshold whose sensitivity (recall) on these labels is at least `target`, i.e. the
 * operating point for "catch at least target of positives". Scores ≥ threshold are flagged.
 */
export function thresholdForSensitivity(labels: Labels, scores: Scores, target: number): number {
  const pos = Array.from({ length: labels.length }, (_, i) => i)
    .filter((i) => labels[i] === 1)
    .map((i) => scores[i]!)
    .sort((a, b) => b - a);
  if (!pos.length) return NaN;
  return pos[Math.min(pos.length - 1, Math.ceil(target * pos.length) - 1)]!;
}

/** The lowest threshold whose specificity on these labels is at least `target` (flag when score ≥ threshold). */
export function thresholdForSpecificity(labels: Labels, scores: Scores, target: number): number {
  const neg = Array.from({ length: labels.length }, (_, i) => i)
    .filter((i) => labels[i] === 0)
    .map((i) => scores[i]!)
    .sort((a, b) => a - b);
  if (!neg.length) return NaN;
  // Scores ≥ t are flagged, so t must exceed the ⌈target·n⌉-th smallest negative score.
  const k = Math.min(neg.length - 1, Math.ceil(target * neg.length) - 1);
  const above = neg[k]!;
  const next = neg.find((s) => s > above);
  return next === undefined ? above + 1e-6 : (above + next) / 2;
}

/** Sensitivity and specificity at a threshold (flag when score ≥ threshold). */
export function operatingPoint(labels: Labels, scores: Scores, threshold: number): { sensitivity: number; specificity: number; ppv: number } {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  let tn = 0;
  for (let i = 0; i < labels.length; i++) {
    const flagged = scores[i]! >= threshold;
    if (labels[i] === 1) flagged ? tp++ : fn++;
    else flagged ? fp++ : tn++;
  }
  return { sensitivity: tp / (tp + fn), specificity: tn / (tn + fp), ppv: tp + fp ? tp / (tp + fp) : NaN };
}
