/**
 * An ExplainExecutor on a worker thread (issue 7 §Speed): the precompute worker's explanations and ECG
 * analyses run there (and with EXPLAIN_THREAD=all the hooks' cache misses too), so an HL7-triggered deterioration explanation
 * never holds the event loop that answers hook calls. The
 * thread (./explain-thread.ts) is started on first use with the main thread's tfjs back end and models
 * folder, restarted after a crash, and ended by close(). Each returned record must carry the model version
 * and the data version the main thread prepared — otherwise the batch fails and nothing is cached.
 *
 * Node runs the compiled `.js` thread entry in production (dist/); from TypeScript sources (tsx, jest)
 * the thread registers tsx itself before importing `.ts`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { ExplanationRecord } from '../explain/index.js';
import type { EngineExplainOptions, ExplainExecutor, ExplainRequest } from '../explanations/engine.js';
import type { Explainable } from '../explain/index.js';
import type { EcgAnalysis, EcgExecutor, EcgSamples } from '../cds-hooks/services/ecg-rhythm/analysis.js';
import type { EcgThreadRequest, ThreadReply, ThreadRequest, ThreadSettings } from './thread-protocol.js';
import { currentMetrics } from '../observability/metrics.js';

export interface ExplainThreadOptions extends Omit<ThreadSettings, 'backend'> {
  /** The back end to force in the thread, or a function read at start (the main thread's choice, once made). */
  backend: ThreadSettings['backend'] | (() => ThreadSettings['backend']);
  /** Longest wait for the thread to open its models. Default 60 s. */
  startTimeoutMs?: number;
}

export interface ExplainThreadStats {
  /** Threads started (more than 1 = restarted after a failure). */
  starts: number;
  batches: number;
  inputs: number;
  failures: number;
  /** Time the thread spent explaining, ms. */
  busyMs: number;
}

/** tsx's ESM register API, from its package exports (the thread is an ES module loader client). */
function tsxEsmApi(): string {
  const pkg = JSON.parse(readFileSync(createRequire(import.meta.url).resolve('tsx/package.json'), 'utf8')) as { exports: Record<string, { import: { default: string } }> };
  return pkg.exports['./esm/api']!.import.default;
}

/** The worker's source: the compiled entry when it exists, else a bootstrap that registers tsx first. */
function workerSource(): { source: string | URL; eval: boolean } {
  const compiled = new URL('./explain-thread.js', import.meta.url);
  if (existsSync(fileURLToPath(compiled))) return { source: compiled, eval: false };
  const entry = new URL('./explain-thread.ts', import.meta.url).href;
  const tsx = new URL(tsxEsmApi(), pathToFileURL(createRequire(import.meta.url).resolve('tsx/package.json'))).href;
  return {
    source: `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(entry)}); });`,
    eval: true,
  };
}

/** A successful reply to one request (a batch's records or an ECG analysis). */
type Answer = Extract<ThreadReply, { ms: number }>;

interface Waiting {
  resolve(answer: Answer): void;
  reject(reason: unknown): void;
}

export class ExplainThread implements ExplainExecutor, EcgExecutor {
  private worker: Worker | undefined;
  private starting: Promise<Worker> | undefined;
  private readonly waiting = new Map<number, Waiting>();
  private nextId = 1;
  private closed = false;
  private counters: ExplainThreadStats = { starts: 0, batches: 0, inputs: 0, failures: 0, busyMs: 0 };
  /** Back end the thread reported (undefined until started). */
  backend: string | undefined;

  constructor(private readonly options: ExplainThreadOptions) {}

  async run(model: Explainable, requests: readonly ExplainRequest[], options: EngineExplainOptions): Promise<ExplanationRecord[]> {
    const inputs = requests.map((r) => {
      if (!r.input) throw new TypeError('explanation thread: a request needs its raw input to be prepared on the thread');
      return r.input;
    });
    const id = this.nextId++;
    const answer = await this.send({ id, modelId: model.modelId, version: model.version, inputs, options });
    if (!('records' in answer)) throw new Error('explanation thread: an explanation batch was answered with an ECG analysis');
    const { records } = answer;
    records.forEach((record, k) => {
      const expected = requests[k]!.prepared.dataVersion;
      if (record.dataVersion !== expected || record.model.version !== model.version) {
        this.counters.failures++;
        throw new Error('explanation thread: a record does not match the data version or model version prepared on the main thread');
      }
    });
    this.counters.batches++;
    this.counters.inputs += records.length;
    // The thread has no metrics of its own: its scoring pass is reported here.
    if (answer.forward) currentMetrics()?.observeInference(model.modelId, answer.forward.inputs, answer.forward.seconds);
    return records;
  }

  /**
   * One ECG tracing analysed on the thread (analyseSamples on the same model id and version; its samples
   * buffer is transferred, so detached here). Refused unless the thread used exactly `model`'s version.
   */
  async analyseEcg(model: { manifest: { id: string; version: string } }, samples: EcgSamples, options: { explain?: boolean }): Promise<EcgAnalysis> {
    const { id: modelId, version } = model.manifest;
    const id = this.nextId++;
    const request: EcgThreadRequest = { id, kind: 'ecg', modelId, version, samples, explain: options.explain !== false };
    const answer = await this.send(request, [samples.samples.buffer as ArrayBuffer]);
    if (!('ecg' in answer) || answer.version !== version) {
      this.counters.failures++;
      throw new Error('explanation thread: an ECG analysis does not match the model version asked for');
    }
    this.counters.batches++;
    this.counters.inputs++;
    return answer.ecg;
  }

  get stats(): ExplainThreadStats {
    return { ...this.counters };
  }

  async close(): Promise<void> {
    this.closed = true;
    const worker = this.worker ?? (await this.starting?.catch(() => undefined));
    this.worker = undefined;
    this.starting = undefined;
    await worker?.terminate();
  }

  private async send(message: ThreadRequest | EcgThreadRequest, transfer: ArrayBuffer[] = []): Promise<Answer> {
    const worker = await this.start();
    return new Promise<Answer>((resolve, reject) => {
      this.waiting.set(message.id, { resolve, reject });
      // Referenced only while a request is out, so an idle thread never keeps the process alive.
      worker.ref();
      worker.postMessage(message, transfer);
    });
  }

  private start(): Promise<Worker> {
    if (this.closed) return Promise.reject(new Error('explanation thread closed'));
    if (this.worker) return Promise.resolve(this.worker);
    this.starting ??= new Promise<Worker>((resolve, reject) => {
      const { source, eval: isEval } = workerSource();
      const { backend } = this.options;
      const settings: ThreadSettings = {
        backend: typeof backend === 'function' ? backend() : backend,
        modelsDir: this.options.modelsDir,
        maxBatch: this.options.maxBatch,
        ...(this.options.wasmFastKernels ? { wasmFastKernels: true } : {}),
      };
      const worker = new Worker(source, { eval: isEval, workerData: settings });
      this.counters.starts++;
      const timer = setTimeout(() => fail(new Error('explanation thread did not start in time')), this.options.startTimeoutMs ?? 60_000);
      const fail = (err: Error) => {
        clearTimeout(timer);
        this.drop(worker, err);
        reject(err);
      };
      worker.on('message', (reply: ThreadReply) => {
        if ('ready' in reply) {
          clearTimeout(timer);
          this.backend = reply.backend;
          this.worker = worker;
          this.starting = undefined;
          resolve(worker);
        } else if ('failed' in reply) {
          fail(Object.assign(new Error(`explanation thread could not open the models: ${reply.failed.message}`), { name: reply.failed.name }));
        } else {
          const waiting = this.waiting.get(reply.id);
          this.waiting.delete(reply.id);
          if (!this.waiting.size) worker.unref();
          if (!waiting) return;
          if ('error' in reply) {
            this.counters.failures++;
            waiting.reject(Object.assign(new Error(reply.error.message), { name: reply.error.name }));
          } else {
            this.counters.busyMs += reply.ms;
            waiting.resolve(reply);
          }
        }
      });
      worker.on('error', (err) => fail(err));
      worker.on('exit', (code) => fail(new Error(`explanation thread exited (code ${code})`)));
      worker.unref();
    });
    return this.starting;
  }

  /** Forgets a dead or failed thread: its waiting batches fail, the next run starts a new one. */
  private drop(worker: Worker, err: Error): void {
    if (this.worker === worker || this.worker === undefined) {
      this.worker = undefined;
      this.starting = undefined;
    }
    for (const [id, waiting] of this.waiting) {
      this.waiting.delete(id);
      this.counters.failures++;
      waiting.reject(err);
    }
    void worker.terminate();
  }
}
