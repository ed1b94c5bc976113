/**
 * Scores and explains a prepared model input through src/explain (issue 7), with the ExplanationCache in
 * front: a lookup returns a record only when patient, model version and data version all match exactly,
 * so an explanation computed on other (older) data than the score is never served. On a miss the request
 * joins a micro-batch: concurrent requests for the same model share one `explainPredictions` call (their
 * interpolation points go through the same batched gradient calls). The precompute worker
 * (src/precompute) and the hook handlers use the same engine, hence the same cache.
 *
 * The record's `prediction.probability` is the score: it comes from the same forward pass the
 * attributions explain, so score and explanation can never disagree about the data.
 *
 * Where a batch runs is an ExplainExecutor: on this thread by default, or — per request, for work nobody
 * is waiting on (the precompute worker) — on a worker thread with its own tfjs back end
 * (src/precompute/explain-thread.ts), so a deterioration or ECG explanation does not hold the event loop that
 * answers hook calls. Either way the result goes through the same cache check (exact key) before use.
 */
import { GatewayTimeoutError } from '../errors.js';
import { explainPredictions, ExplanationCache, type ExplainOptions, type Explainable, type ExplanationRecord as ExplainRecord, type PreparedInput, type Provenance } from '../explain/index.js';
import type { ExplanationKey } from '../explain/index.js';
import { MicroBatcher, type Batched } from '../explain/micro-batch.js';
import { currentMetrics } from '../observability/metrics.js';
import { IssuedExplanations } from './issued.js';
import { dataHash } from './record.js';

export interface ExplainRequest {
  model: Explainable;
  prepared: PreparedInput;
  /** "Patient/<id>": part of the cache key. */
  patient: string;
  /** Aborted at the hook deadline: a request still waiting for its batch is dropped. */
  signal?: AbortSignal;
  /** The raw model input `prepared` was made from, with its provenance: an executor on another thread prepares it again there. */
  input?: { value: unknown; provenance?: Provenance };
  /** Where to compute this request on a miss instead of the engine's executor (needs `input` unless in process). */
  executor?: ExplainExecutor;
}

/** The options every batch is explained with (the engine's; per-call fields are the engine's own). */
export type EngineExplainOptions = Omit<ExplainOptions, 'patient' | 'now' | 'newId' | 'onForward'>;

/** Scores and explains a batch of one model's requests; one record per request, in order. */
export interface ExplainExecutor {
  run(model: Explainable, requests: readonly ExplainRequest[], options: EngineExplainOptions): ExplainRecord[] | Promise<ExplainRecord[]>;
}

/** explainPredictions on this thread (blocks the event loop for the batch). */
export const inProcessExecutor: ExplainExecutor = {
  run: (model, requests, options) => explainPredictions(model, requests.map((r) => r.prepared), options),
};

export interface ExplainResult {
  record: ExplainRecord;
  /** "cache": computed earlier (ahead of time or by another call) on exactly these data. */
  source: 'cache' | 'computed';
}

export interface ExplanationEngineOptions {
  cache?: ExplanationCache;
  /** Passed to explainPredictions (method, baseline, rule, tolerance, maxCells…). Default: its defaults. */
  explain?: EngineExplainOptions;
  /** Where misses are computed unless a request names its own executor. Default: this thread. */
  executor?: ExplainExecutor;
  /** Longest a request waits for others to share its batch. Default 2 ms; 0 = run at once. */
  maxWaitMs?: number;
  /** Most inputs explained in one call. Default 8. */
  maxBatch?: number;
  /** Most results kept by `memo` (models explained outside explainPredictions). Default 200. */
  maxMemoEntries?: number;
  /** Most issued records remembered for reuse by identical hook calls (`issued`). Default 1000. */
  maxIssued?: number;
  /** EXPLANATION_RETENTION_DAYS: issued records created longer ago are not reused. Default 0 (no limit). */
  issuedRetentionDays?: number;
}

export class ExplanationEngine {
  readonly cache: ExplanationCache;
  /** Records already stored and linked from a card, reused by identical later calls (./issued.ts). */
  readonly issued: IssuedExplanations;
  private readonly options: NonNullable<ExplanationEngineOptions['explain']>;
  /**
   * Hash of the explain options (method, baseline, tolerance, budget…): part of the issued-record key, so a
   * record explained under other settings (another engine, or a release that changed them) is not reused.
   */
  readonly settingsHash: string;
  private readonly maxWaitMs: number;
  private readonly maxBatch: number;
  /** Where misses run by default; the ECG analysis (memo) also runs there when it can analyse ECGs (EXPLAIN_THREAD=all). */
  readonly executor: ExplainExecutor;
  /** One micro-batcher per executor, its queues per model. */
  private readonly batchers = new Map<ExplainExecutor, MicroBatcher<Explainable, ExplainRequest, ExplainRecord>>();
  private counters = { computed: 0, batches: 0, served: 0 };
  private readonly memoEntries = new Map<string, unknown>();
  private readonly memoInFlight = new Map<string, Promise<unknown>>();
  private readonly maxMemoEntries: number;

  constructor(options: ExplanationEngineOptions = {}) {
    this.cache = options.cache ?? new ExplanationCache();
    this.issued = new IssuedExplanations({ maxEntries: options.maxIssued ?? 1000, retentionDays: options.issuedRetentionDays ?? 0 });
    this.options = options.explain ?? {};
    this.settingsHash = dataHash(this.options);
    this.maxWaitMs = options.maxWaitMs ?? 2;
    this.maxBatch = Math.max(1, options.maxBatch ?? 8);
    this.executor = options.executor ?? inProcessExecutor;
    this.maxMemoEntries = Math.max(1, options.maxMemoEntries ?? 200);
  }

  keyOf(request: Pick<ExplainRequest, 'model' | 'prepared' | 'patient'>): ExplanationKey {
    return { patient: request.patient, modelId: request.model.modelId, modelVersion: request.model.version, dataVersion: request.prepared.dataVersion };
  }

  /** The explanation of exactly these data, if one was computed (exact key match only). */
  lookup(request: Pick<ExplainRequest, 'model' | 'prepared' | 'patient'>): ExplainRecord | undefined {
    return this.cache.get(this.keyOf(request));
  }

  /** The cached explanation of these data, or one computed now (batched with concurrent requests). */
  async explain(request: ExplainRequest): Promise<ExplainResult> {
    const key = this.keyOf(request);
    const hit = this.cache.get(key);
    if (hit) {
      this.counters.served++;
      return { record: hit, source: 'cache' };
    }
    let computed = false;
    const record = await this.cache.getOrCompute(key, () => {
      computed = true;
      return this.enqueue(request);
    });
    if (!computed) this.counters.served++;
    return { record, source: computed ? 'computed' : 'cache' };
  }

  /**
   * The same exact-key rule for models whose explanation is not an explainPredictions record (the ECG
   * rhythm model's saliency over the signal, src/models/ecg/explain.ts): `compute` runs once per key however
   * many callers (hook, precompute worker) ask meanwhile; a failure is not kept. Counted in `stats` like
   * explain(). Least recently used results are dropped past maxMemoEntries.
   */
  async memo<T>(key: ExplanationKey, compute: () => T | Promise<T>): Promise<{ value: T; source: 'cache' | 'computed' }> {
    const k = JSON.stringify([key.patient, key.modelId, key.modelVersion, key.dataVersion]);
    if (this.memoEntries.has(k)) {
      const value = this.memoEntries.get(k) as T;
      this.memoEntries.delete(k);
      this.memoEntries.set(k, value);
      this.counters.served++;
      return { value, source: 'cache' };
    }
    const running = this.memoInFlight.get(k);
    if (running) {
      const value = (await running) as T;
      this.counters.served++;
      return { value, source: 'cache' };
    }
    const job = (async () => {
      const value = await compute();
      this.counters.computed++;
      this.memoEntries.set(k, value);
      while (this.memoEntries.size > this.maxMemoEntries) this.memoEntries.delete(this.memoEntries.keys().next().value as string);
      return value;
    })().finally(() => this.memoInFlight.delete(k));
    this.memoInFlight.set(k, job);
    return { value: await job, source: 'computed' };
  }

  /**
   * computed: inputs explained here; batches: explainPredictions calls; served: requests answered from the
   * cache; issued: stored records written / reused by identical calls.
   */
  get stats(): { computed: number; batches: number; served: number; cache: ExplanationCache['stats']; issued: IssuedExplanations['stats'] } {
    return { ...this.counters, cache: this.cache.stats, issued: this.issued.stats };
  }

  private enqueue(request: ExplainRequest): Promise<ExplainRecord> {
    if (request.signal?.aborted) return Promise.reject(new GatewayTimeoutError('explanation abandoned at the hook deadline'));
    const executor = request.executor ?? this.executor;
    let batcher = this.batchers.get(executor);
    if (!batcher) {
      batcher = new MicroBatcher({ maxWaitMs: this.maxWaitMs, maxBatch: this.maxBatch, run: (model, live) => this.run(executor, model, live) });
      this.batchers.set(executor, batcher);
    }
    return batcher.add(request.model, request);
  }

  private async run(executor: ExplainExecutor, model: Explainable, live: Batched<ExplainRequest, ExplainRecord>[]): Promise<void> {
    const started = performance.now();
    const records = await executor.run(model, live.map((p) => p.request), this.options);
    this.counters.computed += live.length;
    this.counters.batches++;
    currentMetrics()?.observeExplanation(model.modelId, this.options.method ?? 'integrated-gradients', live.length, (performance.now() - started) / 1000);
    // The patient is set per request: one batch may hold several patients.
    live.forEach((p, k) => p.resolve({ ...records[k]!, patient: p.request.patient }));
  }
}
