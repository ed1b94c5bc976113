/** Test-split reports with subgroups, shared by both models' pipelines and the evaluation CLI. */
import { ageBand, binaryReport, sexGroup, subgroupReports, type BinaryReport } from './metrics.js';

export interface EvaluationReport {
  overall: BinaryReport;
  bySex: Record<string, BinaryReport>;
  byAgeBand: Record<string, BinaryReport>;
}

export interface EvaluateOptions {
  /** Per-row sex (0 female, 1 male) and age in years, for subgroups. */
  sex: ArrayLike<number>;
  age: ArrayLike<number>;
  /** Bootstrap unit per row (patient id for per-hour rows). */
  clusters?: ArrayLike<string>;
  replicates?: number;
  seed?: number;
}

export function evaluateProbabilities(labels: ArrayLike<number>, probabilities: ArrayLike<number>, options: EvaluateOptions): EvaluationReport {
  const boot = { replicates: options.replicates ?? 1000, seed: options.seed ?? 1, clusters: options.clusters };
  return {
    overall: binaryReport(labels, probabilities, boot),
    bySex: subgroupReports(labels, probabilities, (i) => sexGroup(options.sex[i]!), boot),
    byAgeBand: subgroupReports(labels, probabilities, (i) => ageBand(options.age[i]!), boot),
  };
}

/** Human-readable summary of a report for the CLI. */
export function formatReport(name: string, r: EvaluationReport): string {
  const f = (x: number) => (Number.isNaN(x) ? 'n/a' : x.toFixed(3));
  const line = (label: string, b: BinaryReport) =>
    `  ${label.padEnd(14)} n=${String(b.n).padStart(6)} pos=${String(b.positives).padStart(5)}  ` +
    `AUROC ${f(b.auroc.estimate)} [${f(b.auroc.lower)}, ${f(b.auroc.upper)}]  ` +
    `AUPRC ${f(b.auprc.estimate)} [${f(b.auprc.lower)}, ${f(b.auprc.upper)}]  ` +
    `Brier ${f(b.brier)}  cal. slope ${f(b.calibration.slope)} intercept ${f(b.calibration.intercept)}`;
  return [
    `${name}`,
    line('all', r.overall),
    ...Object.entries(r.bySex).map(([g, b]) => line(g, b)),
    ...Object.entries(r.byAgeBand).map(([g, b]) => line(g, b)),
  ].join('\n');
}
