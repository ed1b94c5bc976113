/**
 * `npm run evaluate -- --model ecg-rhythm --data records.jsonl`: scores every record of a file in the
 * Challenge jsonl format with a registered ECG model, through the same quality checks and whole-tracing
 * classification the CDS service uses; refused tracings are counted with their reasons, not scored.
 */
import type { RegisteredModel } from '../registry.js';
import { ECG_CLASSES, classIndex } from './classes.js';
import { classifyTracing } from './classify.js';
import { readEcgRecords } from './data.js';
import type { EcgInput } from './encoding.js';
import { multiclassReport, type MulticlassReport } from './metrics.js';

export interface EcgDatasetEvaluation {
  report: MulticlassReport;
  scored: number;
  refused: number;
  refusals: Record<string, number>;
  records: Array<{ record: string; label: string; predicted?: string; probabilities?: number[]; refusedBecause?: string[] }>;
}

export function evaluateEcgFile(model: RegisteredModel<EcgInput>, file: string, options: { replicates?: number; seed?: number } = {}): EcgDatasetEvaluation {
  const labels: number[] = [];
  const probabilities: number[][] = [];
  const refusals: Record<string, number> = {};
  const records: EcgDatasetEvaluation['records'] = [];
  let refused = 0;
  for (const r of readEcgRecords(file)) {
    const outcome = classifyTracing(model, { samples: r.samples, rateHz: r.fs });
    if (!outcome.ok) {
      refused++;
      for (const p of outcome.quality.problems) refusals[p.code] = (refusals[p.code] ?? 0) + 1;
      records.push({ record: r.id, label: r.label, refusedBecause: outcome.quality.problems.map((p) => p.reason) });
      continue;
    }
    const p = ECG_CLASSES.map((c) => outcome.classification.probabilities[c]);
    labels.push(classIndex(r.label));
    probabilities.push(p);
    records.push({ record: r.id, label: r.label, predicted: outcome.classification.rhythm, probabilities: p });
  }
  return { report: multiclassReport(labels, probabilities, { replicates: options.replicates ?? 1000, seed: options.seed ?? 1 }), scored: labels.length, refused, refusals, records };
}

/** The CLI's text summary. */
export function formatEcgReport(r: MulticlassReport): string {
  const f = (x: number) => (Number.isNaN(x) ? 'n/a' : x.toFixed(3));
  return [
    `  n=${r.n} (${ECG_CLASSES.map((c) => `${c} ${r.support[c]}`).join(', ')})  accuracy ${f(r.accuracy)}`,
    `  F1: ${ECG_CLASSES.map((c) => `${c} ${f(r.f1[c]!)}`).join('  ')}  F1(N,A,O) ${f(r.challengeF1)}`,
    `  AUROC one-vs-rest: ${ECG_CLASSES.map((c) => `${c} ${f(r.aurocOvR[c]!.estimate)} [${f(r.aurocOvR[c]!.lower)}, ${f(r.aurocOvR[c]!.upper)}]`).join('  ')}`,
    `  AF vs normal AUROC ${f(r.aurocAfVsNormal.estimate)} [${f(r.aurocAfVsNormal.lower)}, ${f(r.aurocAfVsNormal.upper)}]`,
    `  confusion (rows true ${ECG_CLASSES.join(' ')}, columns predicted): ${JSON.stringify(r.confusion)}`,
  ].join('\n');
}
