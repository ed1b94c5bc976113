/**
 * Multi-class metrics of the rhythm classifier, as the Challenge defines them (Clifford et al. 2017, §2.3:
 * per-class F1 = 2·TP / (row total + column total) of the confusion matrix, score = mean F1 of N, A and O),
 * plus one-vs-rest AUROC with percentile-bootstrap CIs (src/models/metrics.ts) and the confusion matrix as
 * SVG. Pure functions over plain arrays.
 */
import { auroc, bootstrapInterval, type Interval } from '../metrics.js';
import { CHALLENGE_CLASSES, ECG_CLASSES, ECG_CLASS_NAMES } from './classes.js';

export interface MulticlassReport {
  n: number;
  /** Records per true class. */
  support: Record<string, number>;
  /** confusion[true][predicted]. */
  confusion: number[][];
  accuracy: number;
  f1: Record<string, number>;
  /** Mean F1 of N, A, O (the Challenge metric). */
  challengeF1: number;
  /** Mean F1 of all four classes. */
  macroF1All: number;
  /** One-vs-rest AUROC per class with 95 % bootstrap CI. */
  aurocOvR: Record<string, Interval>;
  /** AUROC of p(A) on N and A records only (AF vs normal). */
  aurocAfVsNormal: Interval;
}

export function argmax(p: ArrayLike<number>): number {
  let best = 0;
  for (let k = 1; k < p.length; k++) if (p[k]! > p[best]!) best = k;
  return best;
}

export function confusionMatrix(labels: readonly number[], predicted: readonly number[], classes = ECG_CLASSES.length): number[][] {
  const m = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  labels.forEach((y, i) => m[y]![predicted[i]!]!++);
  return m;
}

/** Per-class F1 from a confusion matrix (2·TP / (row + column)); NaN for a class absent from both. */
export function f1FromConfusion(m: number[][]): number[] {
  return m.map((row, k) => {
    const rowTotal = row.reduce((a, b) => a + b, 0);
    const colTotal = m.reduce((s, r) => s + r[k]!, 0);
    return rowTotal + colTotal === 0 ? NaN : (2 * row[k]!) / (rowTotal + colTotal);
  });
}

/** Challenge score (mean F1 of N, A, O) of hard predictions. */
export function challengeF1(labels: readonly number[], predicted: readonly number[]): number {
  const f1 = f1FromConfusion(confusionMatrix(labels, predicted));
  const idx = CHALLENGE_CLASSES.map((c) => ECG_CLASSES.indexOf(c));
  return idx.reduce((s, k) => s + (Number.isNaN(f1[k]!) ? 0 : f1[k]!), 0) / idx.length;
}

/** AUROC of p(A) on the N and A records only (no interval); NaN without both classes. */
export function afVsNormalAuroc(labels: readonly number[], probabilities: readonly ArrayLike<number>[]): number {
  const iN = ECG_CLASSES.indexOf('N');
  const iA = ECG_CLASSES.indexOf('A');
  const rows = labels.map((y, i) => ({ y, i })).filter((r) => r.y === iN || r.y === iA);
  if (!rows.some((r) => r.y === iA) || !rows.some((r) => r.y === iN)) return NaN;
  return auroc(rows.map((r) => (r.y === iA ? 1 : 0)), rows.map((r) => probabilities[r.i]![iA]!));
}

/** The full report on records: labels (class indices) and probabilities[record][class]. */
export function multiclassReport(labels: readonly number[], probabilities: readonly ArrayLike<number>[], options: { replicates?: number; seed?: number } = {}): MulticlassReport {
  const boot = { replicates: options.replicates ?? 1000, seed: options.seed ?? 1 };
  const predicted = probabilities.map(argmax);
  const confusion = confusionMatrix(labels, predicted);
  const f1 = f1FromConfusion(confusion);
  const f1By: Record<string, number> = {};
  const support: Record<string, number> = {};
  const aurocOvR: Record<string, Interval> = {};
  ECG_CLASSES.forEach((c, k) => {
    f1By[c] = f1[k]!;
    support[c] = labels.filter((y) => y === k).length;
    aurocOvR[c] = bootstrapInterval(labels.map((y) => (y === k ? 1 : 0)), probabilities.map((p) => p[k]!), auroc, boot);
  });
  const iN = ECG_CLASSES.indexOf('N');
  const iA = ECG_CLASSES.indexOf('A');
  const afRows = labels.map((y, i) => ({ y, i })).filter((r) => r.y === iN || r.y === iA);
  const aurocAfVsNormal = bootstrapInterval(afRows.map((r) => (r.y === iA ? 1 : 0)), afRows.map((r) => probabilities[r.i]![iA]!), auroc, boot);
  const correct = labels.filter((y, i) => y === predicted[i]).length;
  const finite = f1.filter((v) => !Number.isNaN(v));
  return {
    n: labels.length,
    support,
    confusion,
    accuracy: labels.length ? correct / labels.length : NaN,
    f1: f1By,
    challengeF1: challengeF1(labels, predicted),
    macroF1All: finite.reduce((a, b) => a + b, 0) / Math.max(1, finite.length),
    aurocOvR,
    aurocAfVsNormal,
  };
}

function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Confusion matrix as a standalone SVG: rows true class, columns predicted, cell shade = row fraction. */
export function confusionSvg(confusion: number[][], title: string, cell = 56): string {
  const labels = ECG_CLASSES.map((c) => `${c} (${ECG_CLASS_NAMES[c].split(' ')[0]})`);
  const left = 130;
  const top = 60;
  const size = confusion.length * cell;
  const width = left + size + 20;
  const height = top + size + 40;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<title>${esc(title)}</title>`,
    `<text x="${width / 2}" y="16" text-anchor="middle" font-size="12">${esc(title)}</text>`,
    `<text x="${left + size / 2}" y="${top - 26}" text-anchor="middle">predicted</text>`,
    `<text x="14" y="${top + size / 2}" text-anchor="middle" transform="rotate(-90 14 ${top + size / 2})">true class</text>`,
  ];
  confusion.forEach((row, r) => {
    const total = row.reduce((a, b) => a + b, 0) || 1;
    parts.push(`<text x="${left - 6}" y="${top + r * cell + cell / 2}" text-anchor="end" dominant-baseline="middle">${esc(labels[r]!)}</text>`);
    parts.push(`<text x="${left + r * cell + cell / 2}" y="${top - 8}" text-anchor="middle">${esc(ECG_CLASSES[r]!)}</text>`);
    row.forEach((count, c) => {
      const shade = Math.round(255 - 200 * (count / total));
      const fill = r === c ? `rgb(${shade},${Math.min(255, shade + 40)},${shade})` : `rgb(255,${shade},${shade})`;
      const x = left + c * cell;
      const y = top + r * cell;
      parts.push(`<rect x="${x}" y="${y}" width="${cell}" height="${cell}" fill="${fill}" stroke="#999"/>`);
      parts.push(`<text x="${x + cell / 2}" y="${y + cell / 2}" text-anchor="middle" dominant-baseline="middle" font-size="13">${count}</text>`);
    });
  });
  parts.push('</svg>');
  return parts.join('\n');
}
