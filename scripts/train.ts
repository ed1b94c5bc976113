/**
 * `npm run train -- --model heart-disease|deterioration|ecg-rhythm [--seed N] [--epochs N] [--out DIR] [--docs DIR]`
 * Deterioration only: `--arch tcn|gru` (default tcn, the shipped 2.0.0) with, for tcn, `--filters N --kernel K --blocks B [--residual] [--activation tanh|relu]`
 * (defaults: the shipped configuration);
 * `--trial --out DIR` fits on the training and validation patients only (the test split is not scored) and
 * writes a loadable model (model.json, weights.bin, preprocess.json, manifest.json, trial.json) to DIR/deterioration,
 * for comparing architectures on validation (the rule in docs/models/deterioration.md).
 *
 * Trains one model on the committed data with a fixed seed, prints a progress bar (epoch, loss,
 * validation AUROC), and writes models/<id>/ and docs/models/<id>.md. Re-running with the same seed on
 * the same back end reproduces the weights.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config.js';
import { initBackend } from '../src/models/backend/index.js';
import { parseUciHeart } from '../src/models/data/uci-heart.js';
import { readPhysionet } from '../src/models/data/physionet.js';
import { trainHeartDisease } from '../src/models/heart-disease/pipeline.js';
import { heartCard, heartManifest } from '../src/models/heart-disease/card.js';
import { DEFAULT_TCN, fitDeterioration, trainDeterioration, type DeteriorationArchitecture, type DeteriorationTrainOptions } from '../src/models/deterioration/pipeline.js';
import { fileHandler } from '../src/models/io.js';
import { deteriorationCard, deteriorationManifest, networkName } from '../src/models/deterioration/card.js';
import { nextVersion, writeModelBundle } from '../src/models/artifacts.js';
import { progressLine, type ProgressEvent } from '../src/models/training.js';
import { formatReport } from '../src/models/report.js';
import { readEcgRecords } from '../src/models/ecg/data.js';
import { trainEcg } from '../src/models/ecg/pipeline.js';
import { readEcgHistory } from '../src/models/ecg/history.js';
import { ecgCard, ecgManifest, writeEcgBundle } from '../src/models/ecg/card.js';
import { ecgProgressLine, type EcgProgressEvent } from '../src/models/ecg/train.js';

/** Documented default seed for both models (also written into split.json and metrics.json). */
export const DEFAULT_SEED = 20260401;

const HEART_DATA = 'data/raw/uci-heart-disease/processed.cleveland.data';
const PHYSIONET_DATA = 'data/raw/physionet-sepsis-2019/sepsis2019_setB_dev_2000.csv';
const ECG_DATA = 'data/raw/ecg-cinc2017/records.jsonl';

function ecgProgressPrinter(): (e: EcgProgressEvent) => void {
  const tty = process.stderr.isTTY;
  return (e) => {
    const line = ecgProgressLine(e);
    if (e.validationF1 !== undefined) process.stderr.write(`${tty ? '\r' : ''}${line}\n`);
    else if (tty) process.stderr.write(`\r${line}`);
  };
}

function progressPrinter(): (e: ProgressEvent) => void {
  const tty = process.stderr.isTTY;
  return (e) => {
    const line = progressLine(e);
    if (e.validationAuroc !== undefined) process.stderr.write(`${tty ? '\r' : ''}${line}\n`);
    else if (tty) process.stderr.write(`\r${line}`);
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      model: { type: 'string' },
      seed: { type: 'string', default: String(DEFAULT_SEED) },
      epochs: { type: 'string' },
      out: { type: 'string' },
      docs: { type: 'string', default: 'docs/models' },
      version: { type: 'string' },
      arch: { type: 'string', default: 'tcn' },
      filters: { type: 'string' },
      kernel: { type: 'string' },
      blocks: { type: 'string' },
      residual: { type: 'boolean', default: false },
      activation: { type: 'string' },
      trial: { type: 'boolean', default: false },
    },
  });
  const config = loadConfig();
  const backend = await initBackend({ force: config.backend === 'auto' ? undefined : config.backend });
  const seed = Number(values.seed);
  const epochs = values.epochs ? Number(values.epochs) : undefined;
  const id = values.model;
  const dir = path.resolve(values.out ?? path.join(config.modelsDir, id ?? ''));
  const version = values.version ?? nextVersion(dir);
  const now = new Date().toISOString();
  process.stderr.write(`training ${id} ${version} on ${backend}, seed ${seed}\n`);

  if (id === 'heart-disease') {
    const examples = parseUciHeart(readFileSync(HEART_DATA, 'utf8'));
    const trained = await trainHeartDisease(examples, { seed, epochs, onProgress: progressPrinter() });
    await writeModelBundle(dir, {
      manifest: heartManifest(trained.metrics, version, now),
      model: trained.model,
      preprocess: trained.preprocess,
      baseline: trained.baseline,
      split: trained.split,
      metrics: trained.metrics,
      card: heartCard(trained.metrics, version, now),
    }, path.resolve(values.docs!));
    console.log(formatReport('MLP, test split', trained.metrics.test.mlp));
    console.log(formatReport('Logistic regression, test split', trained.metrics.test.baseline));
  } else if (id === 'deterioration') {
    const stays = readPhysionet(PHYSIONET_DATA);
    if (values.arch !== 'gru' && values.arch !== 'tcn') throw new Error('--arch must be gru or tcn');
    const architecture: DeteriorationArchitecture = values.arch;
    const options: DeteriorationTrainOptions = {
      seed,
      epochs,
      architecture,
      onProgress: progressPrinter(),
      tcn: {
        filters: values.filters ? Number(values.filters) : DEFAULT_TCN.filters,
        kernel: values.kernel ? Number(values.kernel) : DEFAULT_TCN.kernel,
        blocks: values.blocks ? Number(values.blocks) : DEFAULT_TCN.blocks,
        residual: values.residual ?? false,
        activation: values.activation === 'relu' || values.activation === 'tanh' ? values.activation : DEFAULT_TCN.activation,
      },
    };
    if (values.trial) {
      if (!values.out) throw new Error('--trial needs --out DIR (trials never overwrite models/)');
      const fit = await fitDeterioration(stays, options);
      const trialDir = path.join(dir, 'deterioration');
      mkdirSync(trialDir, { recursive: true });
      await fit.model.save(fileHandler(trialDir));
      const manifest = { ...deteriorationManifest(fit.metrics, fit.preprocess.windowHours, `${version}-trial`, now), files: { model: 'model.json', preprocess: 'preprocess.json', card: 'card.json', metrics: 'trial.json' } };
      writeFileSync(path.join(trialDir, 'preprocess.json'), JSON.stringify(fit.preprocess, null, 2) + '\n');
      writeFileSync(path.join(trialDir, 'trial.json'), JSON.stringify(fit.metrics, null, 2) + '\n');
      writeFileSync(path.join(trialDir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
      const v = fit.metrics.validation;
      console.log(`trial ${architecture} ${JSON.stringify(fit.metrics.hyperparameters.tcn ?? { units: fit.metrics.hyperparameters.units })}: validation per-hour AUROC ${v.networkAuroc.toFixed(4)} (best epoch ${fit.metrics.training.bestEpoch}), logistic ${v.baselineAuroc.toFixed(4)}, NEWS2 ${v.news2Auroc.toFixed(4)}; ${fit.metrics.hyperparameters.parameters} parameters; ${(fit.metrics.trainingSeconds / 60).toFixed(1)} min; test split not scored`);
      console.log(`wrote ${trialDir}`);
      return;
    }
    const trained = await trainDeterioration(stays, options);
    await writeModelBundle(dir, {
      manifest: deteriorationManifest(trained.metrics, trained.preprocess.windowHours, version, now),
      model: trained.model,
      preprocess: trained.preprocess,
      baseline: trained.baseline,
      split: trained.split,
      metrics: trained.metrics,
      card: deteriorationCard(trained.metrics, version, now),
    }, path.resolve(values.docs!));
    console.log(formatReport(`${networkName(trained.metrics)}, test split (per hour)`, trained.metrics.test.network));
    console.log(formatReport('Logistic regression, test split', trained.metrics.test.baseline));
    console.log(formatReport('NEWS2, test split', trained.metrics.test.news2));
  } else if (id === 'ecg-rhythm') {
    const trained = await trainEcg(readEcgRecords(ECG_DATA), { seed, epochs, history: readEcgHistory(dir), onProgress: ecgProgressPrinter() });
    const card = ecgCard(trained.metrics, version, now);
    await writeEcgBundle(dir, { ...trained, manifest: ecgManifest(trained.metrics, trained.preprocess, version, now), card }, path.resolve(values.docs!));
    const m = trained.metrics.test;
    console.log(`${trained.metrics.hyperparameters.architecture ?? 'cnn'}, test records: F1(N,A,O) ${m.cnn.challengeF1.toFixed(3)}, AF vs normal AUROC ${m.cnn.aurocAfVsNormal.estimate.toFixed(3)} [${m.cnn.aurocAfVsNormal.lower.toFixed(3)}, ${m.cnn.aurocAfVsNormal.upper.toFixed(3)}]`);
    console.log(`RR baseline, test records: F1(N,A,O) ${m.baseline.challengeF1.toFixed(3)}, AF vs normal AUROC ${m.baseline.aurocAfVsNormal.estimate.toFixed(3)}`);
  } else {
    throw new Error('--model must be heart-disease, deterioration or ecg-rhythm');
  }
  console.log(`wrote ${dir}`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
