/**
 * Writes a trained model's folder under models/<id>/ (weights, quantised weights, preprocessing,
 * baseline, split, metrics, manifest, card, reliability plot) and its Markdown card under docs/models/.
 * The manifest is written last, so a registry watching the folder never sees a half-written version.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type * as tfTypes from '@tensorflow/tfjs';
import { fileHandler } from './io.js';
import { renderModelCardMarkdown, type ModelCard } from './model-card.js';
import type { ModelManifest, Preprocess } from './types.js';
import type { LogisticModel } from './logistic.js';
import type { PatientSplit } from './data/split.js';

export interface ModelBundle {
  manifest: ModelManifest;
  model: tfTypes.LayersModel;
  preprocess: Preprocess;
  baseline: LogisticModel;
  split: PatientSplit;
  metrics: object;
  card: ModelCard;
}

function writeJson(file: string, value: unknown): void {
  // NaN (e.g. an undefined subgroup metric) is written as null, which JSON can carry.
  writeFileSync(file, JSON.stringify(value, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2) + '\n');
}

/** The next version for a model folder: patch + 1 of the current manifest, or 1.0.0. */
export function nextVersion(dir: string): string {
  const file = path.join(dir, 'manifest.json');
  if (!existsSync(file)) return '1.0.0';
  const current = (JSON.parse(readFileSync(file, 'utf8')) as { version?: string }).version ?? '1.0.0';
  const [major = 1, minor = 0, patch = 0] = current.split('.').map(Number);
  return `${major}.${minor}.${patch + 1}`;
}

export async function writeModelBundle(dir: string, bundle: ModelBundle, docsDir?: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  await bundle.model.save(fileHandler(dir));
  if (bundle.manifest.files.quantized) {
    await bundle.model.save(fileHandler(path.dirname(path.join(dir, bundle.manifest.files.quantized)), { quantization: 'uint8' }));
  }
  writeJson(path.join(dir, bundle.manifest.files.preprocess), bundle.preprocess);
  writeJson(path.join(dir, 'baseline-logistic.json'), bundle.baseline);
  writeJson(path.join(dir, 'split.json'), bundle.split);
  writeJson(path.join(dir, bundle.manifest.files.metrics), bundle.metrics);
  writeJson(path.join(dir, bundle.manifest.files.card), bundle.card);
  writeFileSync(path.join(dir, 'reliability.svg'), bundle.card.calibrationSvg + '\n');
  const tmp = path.join(dir, 'manifest.json.tmp');
  writeJson(tmp, bundle.manifest);
  renameSync(tmp, path.join(dir, 'manifest.json'));
  if (docsDir) {
    mkdirSync(docsDir, { recursive: true });
    writeFileSync(path.join(docsDir, `${bundle.manifest.id}.md`), renderModelCardMarkdown(bundle.card));
  }
}
