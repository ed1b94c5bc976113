/**
 * `npm run evaluate -- --model heart-disease|deterioration|ecg-rhythm --data FILE [--svg OUT.svg] [--json OUT.json]
 *  [--quantized] [--replicates N]`
 *
 * Scores a data set in its published format — UCI `processed.*.data`, or PhysioNet 2019 as the
 * concatenated CSV with a patient_id column or a folder of .psv files — with the shipped model, and
 * prints AUROC and AUPRC with 95 % bootstrap CIs, Brier score, calibration slope/intercept, and the
 * same per sex and age band. Writes the reliability diagram as SVG.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config.js';
import { initBackend } from '../src/models/backend/index.js';
import { ModelRegistry, type RegisteredModel } from '../src/models/registry.js';
import { evaluatePhysionet, evaluateUciFile } from '../src/models/evaluate.js';
import { formatReport } from '../src/models/report.js';
import { reliabilitySvg } from '../src/models/reliability-svg.js';
import type { HeartRecord } from '../src/models/data/uci-heart.js';
import type { DeteriorationInput } from '../src/models/types.js';
import type { EcgInput } from '../src/models/ecg/encoding.js';
import { evaluateEcgFile, formatEcgReport } from '../src/models/ecg/evaluate.js';
import { confusionSvg } from '../src/models/ecg/metrics.js';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      model: { type: 'string' },
      data: { type: 'string' },
      svg: { type: 'string' },
      json: { type: 'string' },
      quantized: { type: 'boolean', default: false },
      replicates: { type: 'string' },
    },
  });
  if (!values.model || !values.data) throw new Error('usage: npm run evaluate -- --model ID --data FILE');
  const config = loadConfig();
  const backend = await initBackend({ force: config.backend === 'auto' ? undefined : config.backend });
  const registry = await ModelRegistry.open({ dir: config.modelsDir, quantized: values.quantized });
  const replicates = values.replicates ? Number(values.replicates) : undefined;
  const started = Date.now();
  if (values.model === 'ecg-rhythm') {
    // Challenge records.jsonl format (data/raw/ecg-cinc2017/SOURCE.md); multi-class metrics, confusion matrix SVG.
    const model = registry.get('ecg-rhythm') as unknown as RegisteredModel<EcgInput>;
    const ecg = evaluateEcgFile(model, values.data, { replicates });
    console.log(`${model.manifest.id} ${model.manifest.version}${values.quantized ? ' (quantised)' : ''} on ${backend}: ${values.data}`);
    console.log(`scored ${ecg.scored}, could not classify ${ecg.refused}${ecg.refused ? ' ' + JSON.stringify(ecg.refusals) : ''} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
    console.log(formatEcgReport(ecg.report));
    const svgFile = values.svg ?? `confusion-${model.manifest.id}.svg`;
    writeFileSync(svgFile, confusionSvg(ecg.report.confusion, `${model.manifest.id} ${model.manifest.version}: ${values.data}`) + '\n');
    console.log(`confusion matrix: ${svgFile}`);
    if (values.json) writeFileSync(values.json, JSON.stringify(ecg, null, 2) + '\n');
    await registry.close();
    return;
  }
  const result =
    values.model === 'heart-disease'
      ? evaluateUciFile(registry.get<HeartRecord>('heart-disease'), values.data, { replicates })
      : values.model === 'deterioration'
        ? evaluatePhysionet(registry.get<DeteriorationInput>('deterioration'), values.data, { replicates })
        : undefined;
  if (!result) throw new Error('--model must be heart-disease or deterioration');
  const manifest = registry.get(values.model).manifest;
  console.log(`${manifest.id} ${manifest.version}${values.quantized ? ' (quantised)' : ''} on ${backend}: ${values.data}`);
  console.log(`scored ${result.scored}, could not score ${result.refused}${result.refused ? ' ' + JSON.stringify(result.refusals) : ''} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  console.log(formatReport('metrics (95 % bootstrap CIs)', result.report));
  const svgFile = values.svg ?? `reliability-${manifest.id}.svg`;
  writeFileSync(svgFile, reliabilitySvg(result.report.overall.reliability, `${manifest.id} ${manifest.version}: ${values.data}`) + '\n');
  console.log(`reliability diagram: ${svgFile}`);
  if (values.json) writeFileSync(values.json, JSON.stringify(result, null, 2) + '\n');
  await registry.close();
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
