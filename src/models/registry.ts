/**
 * The model registry: loads every models/<id>/ folder (manifest.json, model.json + weights.bin,
 * preprocess.json) and serves predictions. A CDS service is a thin layer over it:
 *
 *   const model = registry.get('deterioration');
 *   const { probability, band, indicator, version } = await model.predict(input);
 *
 * Explainers use the same object: `encode(input)` gives the tensor the network sees, `network` is the
 * tfjs model to differentiate, `featureNames` label the encoded channels.
 *
 * Hot reload: reload(id) (or watch()) loads the new version completely, then swaps it in. Calls already
 * holding the old version finish on it; the old weights are disposed once its batcher has drained.
 */
import { existsSync, readFileSync, readdirSync, watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import type * as tfTypes from '@tensorflow/tfjs';
import { ServiceUnavailableError, UnprocessableEntityError, NotFoundError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Indicator } from '../cds-hooks/types.js';
import { getTf } from './backend/index.js';
import { currentMetrics } from '../observability/metrics.js';
import { MicroBatcher } from './batcher.js';
import { CHANNELS, MEASUREMENTS, encodeWindow, type PhysionetEncodingSpec } from './data/physionet.js';
import { HEART_INPUTS, encodeHeart, type HeartEncodingSpec } from './data/uci-heart.js';
import { fileHandler } from './io.js';
import { ecgEncoder, isEcgSpec } from './ecg/encoding.js';
import { BAND_INDICATOR, bandOf, type DeteriorationInput, type HeartDiseaseInput, type ModelManifest, type Preprocess, type RiskBand } from './types.js';

export interface Prediction {
  modelId: string;
  version: string;
  probability: number;
  band: RiskBand;
  indicator: Indicator;
}

export interface RegisteredModel<I = unknown> {
  readonly manifest: ModelManifest;
  readonly preprocess: Preprocess;
  /** The tfjs network (input: [batch, ...inputShape], output: probability), for explainers. */
  readonly network: tfTypes.LayersModel;
  readonly inputShape: readonly number[];
  /** Names of the encoded input channels (last axis). */
  readonly featureNames: readonly string[];
  /** Validates and encodes one raw input; throws UnprocessableEntityError saying why it cannot be scored. */
  encode(input: I): Float32Array;
  /** Synchronous forward pass over n encoded inputs laid end to end. */
  forward(encoded: Float32Array, n: number): Float32Array;
  /** Micro-batched prediction. */
  predict(input: I): Promise<Prediction>;
}

export interface RegistryOptions {
  /** Folder holding one sub-folder per model. */
  dir: string;
  maxBatch?: number;
  maxWaitMs?: number;
  /** Load the quantised weights (manifest.files.quantized) instead of float32. */
  quantized?: boolean;
  logger?: Pick<Logger, 'info' | 'warn' | 'error'>;
  /**
   * What open() does with a model folder that cannot be loaded: 'throw' (default; tools and training want
   * to stop) or 'skip' (serving, issue 9 §Faults: the other models load and their services keep working;
   * the broken one is listed by failures() for /readyz).
   */
  brokenModels?: 'throw' | 'skip';
}

type AnyInput = HeartDiseaseInput | DeteriorationInput;

function encoderFor(preprocess: Preprocess): { inputShape: number[]; encode(input: AnyInput): Float32Array } {
  // ECG rhythm model (issue 10): windows of a tracing; see src/models/ecg/encoding.ts.
  const kinded = preprocess as { kind: string };
  if (isEcgSpec(kinded)) return ecgEncoder(kinded);
  if (preprocess.kind === 'uci-heart-v1') {
    const spec: HeartEncodingSpec = preprocess;
    return {
      inputShape: [spec.featureNames.length],
      encode(input) {
        const record = input as HeartDiseaseInput;
        for (const name of HEART_INPUTS) {
          if (typeof record[name] !== 'number') throw new UnprocessableEntityError(`heart-disease input ${name} is not a number (use NaN for missing)`);
        }
        const known = HEART_INPUTS.filter((n) => !Number.isNaN(record[n])).length;
        if (Number.isNaN(record.age) || Number.isNaN(record.sex) || known < 7) {
          throw new UnprocessableEntityError(`too little data: age, sex and at least 7 of the 13 inputs are needed (have ${known})`);
        }
        return encodeHeart(record, spec);
      },
    };
  }
  const spec: PhysionetEncodingSpec = preprocess;
  return {
    inputShape: [spec.windowHours, CHANNELS],
    encode(input) {
      const { rows, age, sex } = input as DeteriorationInput;
      if (!Array.isArray(rows) || rows.length === 0) throw new UnprocessableEntityError('too little data: no hourly rows');
      if (rows.length > spec.windowHours) throw new UnprocessableEntityError(`at most ${spec.windowHours} hourly rows are accepted`);
      if (rows.some((r) => r.length !== MEASUREMENTS.length)) throw new UnprocessableEntityError(`each hourly row must have ${MEASUREMENTS.length} values`);
      const vitals = MEASUREMENTS.indexOf('EtCO2');
      const anyVital = rows.some((r) => Array.from(r).slice(0, vitals).some((v) => !Number.isNaN(v)));
      if (!anyVital) throw new UnprocessableEntityError('too little data: no vital sign in the window');
      return encodeWindow(rows, age, sex, spec);
    },
  };
}

class LoadedModel implements RegisteredModel<AnyInput> {
  readonly inputShape: readonly number[];
  readonly featureNames: readonly string[];
  private readonly batcher: MicroBatcher<Float32Array, number>;
  private readonly encoder: ReturnType<typeof encoderFor>;
  private readonly width: number;

  constructor(
    readonly manifest: ModelManifest,
    readonly preprocess: Preprocess,
    readonly network: tfTypes.LayersModel,
    options: Required<Pick<RegistryOptions, 'maxBatch' | 'maxWaitMs'>>,
  ) {
    this.encoder = encoderFor(preprocess);
    this.inputShape = this.encoder.inputShape;
    this.width = this.inputShape.reduce((a, b) => a * b, 1);
    this.featureNames = preprocess.featureNames;
    this.batcher = new MicroBatcher({
      maxBatch: options.maxBatch,
      maxWaitMs: options.maxWaitMs,
      run: (inputs) => {
        const started = performance.now();
        const flat = new Float32Array(inputs.length * this.width);
        inputs.forEach((x, i) => flat.set(x, i * this.width));
        const outputs = Array.from(this.forward(flat, inputs.length));
        currentMetrics()?.observeInference(this.manifest.id, inputs.length, (performance.now() - started) / 1000);
        return outputs;
      },
    });
  }

  encode(input: AnyInput): Float32Array {
    return this.encoder.encode(input);
  }

  forward(encoded: Float32Array, n: number): Float32Array {
    const tf = getTf();
    return tf.tidy(() => (this.network.predict(tf.tensor(encoded, [n, ...this.inputShape])) as tfTypes.Tensor).dataSync() as Float32Array);
  }

  async predict(input: AnyInput): Promise<Prediction> {
    const probability = await this.batcher.submit(this.encode(input));
    if (!Number.isFinite(probability)) throw new ServiceUnavailableError(`model ${this.manifest.id} produced a non-finite output`);
    const band = bandOf(probability, this.manifest.thresholds);
    return { modelId: this.manifest.id, version: this.manifest.version, probability, band, indicator: BAND_INDICATOR[band] };
  }

  get batchStats() {
    return this.batcher.stats;
  }

  async retire(): Promise<void> {
    await this.batcher.drain();
    this.network.dispose();
  }
}

/** Reads and loads one model folder. */
export async function loadModelFolder(folder: string, options: Required<Pick<RegistryOptions, 'maxBatch' | 'maxWaitMs'>> & { quantized?: boolean }): Promise<LoadedModel> {
  const tf = getTf();
  const manifest = JSON.parse(readFileSync(path.join(folder, 'manifest.json'), 'utf8')) as ModelManifest;
  const preprocess = JSON.parse(readFileSync(path.join(folder, manifest.files.preprocess), 'utf8')) as Preprocess;
  const modelFile = options.quantized && manifest.files.quantized ? manifest.files.quantized : manifest.files.model;
  const network = await tf.loadLayersModel(fileHandler(path.dirname(path.join(folder, modelFile))));
  return new LoadedModel(manifest, preprocess, network, options);
}

export class ModelRegistry {
  private readonly models = new Map<string, LoadedModel>();
  private readonly loadFailures = new Map<string, string>();
  private readonly watchers: FSWatcher[] = [];
  /** Debounced watch() reloads not yet started; close() cancels them. */
  private readonly pendingReloads = new Set<NodeJS.Timeout>();
  private closed = false;
  private readonly reloading = new Map<string, Promise<RegisteredModel>>();
  private readonly settings: Required<Pick<RegistryOptions, 'maxBatch' | 'maxWaitMs'>> & { quantized: boolean };

  private constructor(private readonly options: RegistryOptions) {
    this.settings = { maxBatch: options.maxBatch ?? 32, maxWaitMs: options.maxWaitMs ?? 2, quantized: options.quantized ?? false };
  }

  /** Loads every sub-folder of options.dir that has a manifest.json. */
  static async open(options: RegistryOptions): Promise<ModelRegistry> {
    const registry = new ModelRegistry(options);
    const folders = existsSync(options.dir) ? readdirSync(options.dir, { withFileTypes: true }).filter((d) => d.isDirectory()) : [];
    for (const d of folders) {
      if (!existsSync(path.join(options.dir, d.name, 'manifest.json'))) continue;
      try {
        await registry.reload(d.name);
      } catch (err) {
        if (options.brokenModels !== 'skip') throw err;
        const reason = err instanceof Error ? err.message : String(err);
        registry.loadFailures.set(d.name, reason);
        options.logger?.error({ model: d.name, err: reason }, 'model could not be loaded; the other models are served');
      }
    }
    return registry;
  }

  ids(): string[] {
    return [...this.models.keys()].sort();
  }

  /** Models open() skipped (brokenModels: 'skip'), by id, with why; a later successful reload clears one. */
  failures(): ReadonlyMap<string, string> {
    return this.loadFailures;
  }

  /** The current version of a model. Throws NotFoundError for an unknown id. */
  get<I extends AnyInput = AnyInput>(id: string): RegisteredModel<I> {
    const model = this.models.get(id);
    if (!model) throw new NotFoundError(`model ${id} is not loaded`);
    return model as RegisteredModel<AnyInput> as RegisteredModel<I>;
  }

  /** Loads the folder's current files and swaps them in; the previous version finishes its calls first. */
  reload(id: string): Promise<RegisteredModel> {
    const existing = this.reloading.get(id);
    if (existing) return existing;
    const job = (async () => {
      const next = await loadModelFolder(path.join(this.options.dir, id), this.settings);
      if (next.manifest.id !== id) throw new UnprocessableEntityError(`models/${id}/manifest.json has id ${next.manifest.id}`);
      const previous = this.models.get(id);
      this.models.set(id, next);
      this.loadFailures.delete(id);
      this.options.logger?.info({ model: id, version: next.manifest.version, previous: previous?.manifest.version }, 'model loaded');
      if (previous) void previous.retire();
      return next;
    })().finally(() => this.reloading.delete(id));
    this.reloading.set(id, job);
    return job;
  }

  /** Reloads a model when its manifest.json changes (the training CLI writes the manifest last). */
  watch(debounceMs = 200): void {
    for (const id of this.ids()) {
      let timer: NodeJS.Timeout | undefined;
      const watcher = watch(path.join(this.options.dir, id), (_event, file) => {
        if (file !== 'manifest.json' || this.closed) return;
        if (timer) {
          clearTimeout(timer);
          this.pendingReloads.delete(timer);
        }
        const scheduled = setTimeout(() => {
          this.pendingReloads.delete(scheduled);
          this.reload(id).catch((err: unknown) =>
            this.options.logger?.error({ model: id, err: err instanceof Error ? err.message : String(err) }, 'model reload failed; keeping the loaded version'),
          );
        }, debounceMs);
        timer = scheduled;
        this.pendingReloads.add(scheduled);
      });
      this.watchers.push(watcher);
    }
  }

  /**
   * Stops watching, cancels debounced reloads and waits for reloads in flight, so nothing loads (or keeps
   * the process alive) after close; then retires every model.
   */
  async close(): Promise<void> {
    this.closed = true;
    this.watchers.splice(0).forEach((w) => w.close());
    for (const timer of this.pendingReloads) clearTimeout(timer);
    this.pendingReloads.clear();
    await Promise.allSettled([...this.reloading.values()]);
    await Promise.all([...this.models.values()].map((m) => m.retire()));
    this.models.clear();
  }
}
