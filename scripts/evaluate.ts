/**
 * `npm run evaluate -- --model heart-disease|deterioration --data FILE [--svg OUT.svg] [--json OUT.json]
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
import { ModelRegistry } from '../src/models/registry.js';
import { evaluatePhysionet, evaluateUciFile } from '../src/models/evaluate.js';
import { formatReport } from '../src/models/report.js';
import { reliabilitySvg } from '../src/models/reliability-svg.js';
import type { HeartRecord } from '../src/models/data/uci-heart.js';
import type { DeteriorationInput } from '../src/models/types.js';

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
