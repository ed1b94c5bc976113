import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { initBackend } from '../../src/models/backend/index.js';
import { parseUciHeart, type HeartRecord } from '../../src/models/data/uci-heart.js';
import { trainHeartDisease, type HeartTrained } from '../../src/models/heart-disease/pipeline.js';
import { heartCard, heartManifest } from '../../src/models/heart-disease/card.js';
import { writeModelBundle } from '../../src/models/artifacts.js';
import { ModelRegistry } from '../../src/models/registry.js';
import { HTI1_ATTRIBUTES } from '../../src/models/model-card.js';
import { evaluateUciFile } from '../../src/models/evaluate.js';
import { NotFoundError, UnprocessableEntityError } from '../../src/errors.js';
import { createLogger } from '../../src/logger.js';

const examples = parseUciHeart(readFileSync('data/raw/uci-heart-disease/processed.cleveland.data', 'utf8'));

async function write(dir: string, trained: HeartTrained, version: string): Promise<void> {
  const now = new Date().toISOString();
  await writeModelBundle(path.join(dir, 'heart-disease'), {
    manifest: heartManifest(trained.metrics, version, now),
    model: trained.model,
    preprocess: trained.preprocess,
    baseline: trained.baseline,
    split: trained.split,
    metrics: trained.metrics,
    card: heartCard(trained.metrics, version, now),
  }, path.join(dir, 'docs'));
}

describe('heart-disease pipeline → files → registry', () => {
  let dir: string;
  let trained: HeartTrained;
  let registry: ModelRegistry;
  const patient: HeartRecord = examples[1]!.record;

  beforeAll(async () => {
    await initBackend();
    dir = mkdtempSync(path.join(tmpdir(), 'vigil-models-'));
    trained = await trainHeartDisease(examples, { seed: 3, epochs: 5, patience: 5, bootstrapReplicates: 20 });
    await write(dir, trained, '1.0.0');
    registry = await ModelRegistry.open({ dir, maxBatch: 8, maxWaitMs: 1 });
  });
  afterAll(async () => {
    await registry.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('trains deterministically for a seed, with a disjoint patient split', async () => {
    const again = await trainHeartDisease(examples, { seed: 3, epochs: 5, patience: 5, bootstrapReplicates: 20 });
    expect(again.metrics.test.mlp.overall.auroc.estimate).toBe(trained.metrics.test.mlp.overall.auroc.estimate);
    expect(again.split).toEqual(trained.split);
    const { train, validation, test } = trained.split;
    expect(new Set([...train, ...validation, ...test]).size).toBe(303);
    // Better than chance on held-out patients even after 5 epochs.
    expect(trained.metrics.test.mlp.overall.auroc.estimate).toBeGreaterThan(0.7);
    expect(trained.metrics.thresholds.high).toBeGreaterThanOrEqual(trained.metrics.thresholds.moderate);
    again.model.dispose();
  });

  it('writes weights, metrics, split, card JSON with all 31 HTI-1 attributes, and the Markdown card', () => {
    const card = JSON.parse(readFileSync(path.join(dir, 'heart-disease', 'card.json'), 'utf8')) as { hti1: Array<{ value: string }> };
    expect(card.hti1).toHaveLength(31);
    expect(HTI1_ATTRIBUTES).toHaveLength(31);
    expect(card.hti1.every((a) => a.value.length > 0)).toBe(true);
    const split = JSON.parse(readFileSync(path.join(dir, 'heart-disease', 'split.json'), 'utf8')) as { seed: number };
    expect(split.seed).toBe(3);
    const md = readFileSync(path.join(dir, 'docs', 'heart-disease.md'), 'utf8');
    expect(md).toContain(trained.metrics.test.mlp.overall.auroc.estimate.toFixed(3));
  });

  it('predicts through the registry with the same probability as the trained model, plus band and version', async () => {
    const model = registry.get<HeartRecord>('heart-disease');
    const expected = model.forward(model.encode(patient), 1)[0]!;
    const p = await model.predict(patient);
    expect(p.probability).toBeCloseTo(expected, 6);
    expect(p.version).toBe('1.0.0');
    expect(['low', 'moderate', 'high']).toContain(p.band);
    expect(model.manifest.input.fields.map((f) => f.name)).toHaveLength(13);
  });

  it('micro-batches concurrent calls into few forward passes with unchanged answers', async () => {
    const model = registry.get<HeartRecord>('heart-disease');
    const records = examples.slice(0, 40).map((e) => e.record);
    const single = records.map((r) => model.forward(model.encode(r), 1)[0]!);
    const batched = await Promise.all(records.map((r) => model.predict(r)));
    batched.forEach((p, i) => expect(p.probability).toBeCloseTo(single[i]!, 5));
  });

  it('refuses bad input with the reason instead of scoring garbage', () => {
    const model = registry.get<HeartRecord>('heart-disease');
    const empty = Object.fromEntries(Object.keys(patient).map((k) => [k, NaN])) as HeartRecord;
    expect(() => model.encode(empty)).toThrow(UnprocessableEntityError);
    expect(() => model.encode({ ...patient, chol: '200' as unknown as number })).toThrow(/chol/);
    expect(() => registry.get('nope')).toThrow(NotFoundError);
  });

  it('still scores when slope, ca and thal are missing', async () => {
    const p = await registry.get<HeartRecord>('heart-disease').predict({ ...patient, slope: NaN, ca: NaN, thal: NaN });
    expect(p.probability).toBeGreaterThan(0);
    expect(p.probability).toBeLessThan(1);
  });

  it('hot-reloads a new version without failing calls in flight', async () => {
    const model = registry.get<HeartRecord>('heart-disease');
    const inFlight = Array.from({ length: 20 }, () => model.predict(patient));
    const retrained = await trainHeartDisease(examples, { seed: 4, epochs: 3, patience: 3, bootstrapReplicates: 10 });
    await write(dir, retrained, '1.0.1');
    const reloading = registry.reload('heart-disease');
    const during = Array.from({ length: 20 }, () => registry.get<HeartRecord>('heart-disease').predict(patient));
    await reloading;
    const results = await Promise.all([...inFlight, ...during]);
    expect(results).toHaveLength(40);
    expect(results.slice(0, 20).every((r) => r.version === '1.0.0')).toBe(true);
    const after = await registry.get<HeartRecord>('heart-disease').predict(patient);
    expect(after.version).toBe('1.0.1');
    retrained.model.dispose();
  });

  it('watch() picks up a new manifest.json written into the folder', async () => {
    registry.watch(20);
    const file = path.join(dir, 'heart-disease', 'manifest.json');
    const manifest = JSON.parse(readFileSync(file, 'utf8')) as { version: string };
    writeFileSync(file, JSON.stringify({ ...manifest, version: '1.0.2' }));
    const deadline = Date.now() + 5000;
    while (registry.get('heart-disease').manifest.version !== '1.0.2' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(registry.get('heart-disease').manifest.version).toBe('1.0.2');
  });

  it('close() cancels a debounced watch() reload: nothing loads after it', async () => {
    const loaded: string[] = [];
    const logger = createLogger('info', { write: (line: string) => void loaded.push((JSON.parse(line) as { version?: string }).version ?? '') });
    const other = await ModelRegistry.open({ dir, maxBatch: 8, maxWaitMs: 1, logger });
    loaded.length = 0;
    other.watch(300);
    const file = path.join(dir, 'heart-disease', 'manifest.json');
    const manifest = JSON.parse(readFileSync(file, 'utf8')) as { version: string };
    writeFileSync(file, JSON.stringify({ ...manifest, version: '1.0.3' }));
    // Let the watcher see the write (the debounce is running), then close before it fires.
    await new Promise((r) => setTimeout(r, 100));
    await other.close();
    await new Promise((r) => setTimeout(r, 600));
    expect(loaded).toEqual([]);
    expect(() => other.get('heart-disease')).toThrow(NotFoundError);
  });

  it('evaluates a UCI processed.*.data file, counting rows it cannot score', () => {
    const file = path.join(dir, 'processed.test.data');
    // Two scorable rows and one with almost everything missing.
    writeFileSync(
      file,
      '63.0,1.0,1.0,145.0,233.0,1.0,2.0,150.0,0.0,2.3,3.0,0.0,6.0,0\n' +
        '67.0,1.0,4.0,160.0,0,?,2.0,108.0,1.0,1.5,?,?,?,2\n' +
        '50,0,?,?,?,?,?,?,?,?,?,?,?,1\n',
    );
    const result = evaluateUciFile(registry.get<HeartRecord>('heart-disease'), file, { replicates: 10 });
    expect(result.scored).toBe(2);
    expect(result.refused).toBe(1);
    expect(Object.keys(result.refusals)[0]).toMatch(/too little data/);
    expect(result.report.overall.n).toBe(2);
  });

  it('loads the quantised weights on request', async () => {
    const q = await ModelRegistry.open({ dir, quantized: true });
    const full = registry.get<HeartRecord>('heart-disease');
    const p = await q.get<HeartRecord>('heart-disease').predict(patient);
    expect(p.probability).toBeCloseTo(full.forward(full.encode(patient), 1)[0]!, 1);
    await q.close();
  });
});
