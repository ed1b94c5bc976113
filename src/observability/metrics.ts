/**
 * Prometheus metrics (exposition format 0.0.4, served at GET /metrics) on a registry per Vigil instance,
 * so tests can build several apps in one process without name clashes.
 *
 * Label discipline: labels only ever hold values from small closed sets — route templates, registered
 * service ids and hooks, model ids, failure kinds, FHIR resource types. Never patient ids, URLs with ids,
 * tokens or raw path segments (an unknown service id in a URL would otherwise mint a new series per
 * request, which is both a PHI leak and a memory leak).
 */
import client from 'prom-client';

export type { Registry } from 'prom-client';

/** Latency buckets (seconds) spanning a sub-millisecond model forward pass to a slow FHIR read. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256];

/** FHIR resource types are PascalCase words; anything else (or a search without a type) is "other". */
const RESOURCE_TYPE = /^[A-Z][A-Za-z]{1,63}$/;

/** What the HL7 interface reports for its queue-depth gauge (src/hl7/queue.ts QueueCounts fits). */
export type QueueDepths = Record<string, number>;

export interface MetricsOptions {
  /** Also collect prom-client's process metrics (CPU, RSS, heap, event-loop lag, GC). Default true. */
  processMetrics?: boolean;
  /** Constant labels on every series (e.g. { instance }); keep them constant. */
  defaultLabels?: Record<string, string>;
}

export interface HttpObservation {
  method: string;
  /** Route template (e.g. "/cds-services/:id"), or "unmatched". */
  route: string;
  status: number;
  /** Registered CDS service id, when the route is a CDS service call. */
  service?: string;
  hook?: string;
  seconds: number;
}

/**
 * Vigil's metrics. The observe* methods are the seam other modules call; they never throw, so a metrics
 * bug cannot fail a hook call.
 */
export class VigilMetrics {
  readonly registry: client.Registry;
  private readonly httpDuration: client.Histogram<'method' | 'route' | 'status' | 'service' | 'hook'>;
  private readonly inferenceDuration: client.Histogram<'model'>;
  private readonly inferenceBatch: client.Histogram<'model'>;
  private readonly explanationDuration: client.Histogram<'model' | 'method'>;
  private readonly explanationBatch: client.Histogram<'model' | 'method'>;
  private readonly fhirDuration: client.Histogram<'resource' | 'outcome'>;
  private readonly fhirErrors: client.Counter<'resource' | 'failure'>;
  private readonly rateLimited: client.Counter<'client_kind'>;
  private readonly degraded: client.Counter<'service' | 'reason'>;
  private readonly explanationsPurged: client.Counter;
  private readonly hl7Purged: client.Counter<'queue'>;
  private readonly backend: client.Gauge<'backend'>;
  private readonly queueSources = new Map<string, () => QueueDepths | Promise<QueueDepths>>();
  private readonly readinessGauge: client.Gauge<'check'>;
  private backendSource: (() => string | undefined) | undefined;
  private auditPendingSource: (() => number) | undefined;

  constructor(options: MetricsOptions = {}) {
    this.registry = new client.Registry();
    const registers = [this.registry];
    if (options.defaultLabels) this.registry.setDefaultLabels(options.defaultLabels);
    // Standard names (process_cpu_seconds_total, nodejs_heap_size_used_bytes…) so stock dashboards work.
    if (options.processMetrics ?? true) client.collectDefaultMetrics({ register: this.registry });

    this.httpDuration = new client.Histogram({
      name: 'vigil_http_request_duration_seconds',
      help: 'HTTP request latency by route template; service and hook are set on CDS service calls',
      labelNames: ['method', 'route', 'status', 'service', 'hook'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.inferenceDuration = new client.Histogram({
      name: 'vigil_model_inference_duration_seconds',
      help: 'Duration of one batched forward pass',
      labelNames: ['model'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.inferenceBatch = new client.Histogram({
      name: 'vigil_model_batch_size',
      help: 'Inputs merged into one forward pass',
      labelNames: ['model'],
      buckets: BATCH_BUCKETS,
      registers,
    });
    this.explanationDuration = new client.Histogram({
      name: 'vigil_explanation_duration_seconds',
      help: 'Duration of one explanation (attribution) computation',
      labelNames: ['model', 'method'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.explanationBatch = new client.Histogram({
      name: 'vigil_explanation_batch_size',
      help: 'Inputs explained in one computation',
      labelNames: ['model', 'method'],
      buckets: BATCH_BUCKETS,
      registers,
    });
    this.fhirDuration = new client.Histogram({
      name: 'vigil_fhir_request_duration_seconds',
      help: 'FHIR reads made for hook calls, by resource type and outcome (ok or the failure kind)',
      labelNames: ['resource', 'outcome'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.fhirErrors = new client.Counter({
      name: 'vigil_fhir_request_errors_total',
      help: 'FHIR reads that yielded no resource, by failure kind',
      labelNames: ['resource', 'failure'],
      registers,
    });
    this.rateLimited = new client.Counter({
      name: 'vigil_rate_limited_total',
      help: 'Requests refused with 429, by how the client was identified (issuer or ip)',
      labelNames: ['client_kind'],
      registers,
    });
    const self = this;
    this.degraded = new client.Counter({
      name: 'vigil_cds_degraded_total',
      help: 'Hook calls answered with a degraded card instead of an assessment, by service and reason',
      labelNames: ['service', 'reason'],
      registers,
    });
    this.explanationsPurged = new client.Counter({
      name: 'vigil_explanation_records_purged_total',
      help: 'Explanation records deleted by this replica for being older than EXPLANATION_RETENTION_DAYS',
      registers,
    });
    this.hl7Purged = new client.Counter({
      name: 'vigil_hl7_messages_purged_total',
      help: 'HL7 v2 messages deleted by this replica for being finished and older than HL7_RETENTION_DAYS, per queue',
      labelNames: ['queue'],
      registers,
    });
    this.backend = new client.Gauge({
      name: 'vigil_model_backend_info',
      help: 'TensorFlow.js back end in use (value 1 on the active one; absent before models load)',
      labelNames: ['backend'],
      registers,
      collect() {
        const name = self.backendSource?.();
        if (name) self.setBackend(name);
      },
    });
    new client.Gauge({
      name: 'vigil_audit_events_pending',
      help: 'AuditEvents recorded but not yet committed to the store (grows while the database is unavailable; refused past 100,000)',
      registers,
      collect() {
        const read = self.auditPendingSource;
        if (read) this.set(read());
      },
    });
    this.readinessGauge = new client.Gauge({
      name: 'vigil_readiness_check',
      help: 'Result of the last /readyz evaluation per check (1 ok, 0 failing)',
      labelNames: ['check'],
      registers,
    });
    const sources = this.queueSources;
    new client.Gauge({
      name: 'vigil_hl7_queue_depth',
      help: 'HL7 v2 messages waiting, per queue (read from the message store at scrape time)',
      labelNames: ['queue'],
      registers,
      // Async: a PostgreSQL-backed queue answers over the network.
      async collect() {
        this.reset();
        for (const read of sources.values()) {
          let depths: QueueDepths;
          try {
            depths = await read();
          } catch {
            continue; // A closed or failing store must not break the scrape.
          }
          for (const [queue, n] of Object.entries(depths)) if (Number.isFinite(n)) this.set({ queue }, n);
        }
      },
    });
  }

  observeHttp(o: HttpObservation): void {
    this.httpDuration.observe(
      { method: o.method, route: o.route, status: String(o.status), service: o.service ?? '', hook: o.hook ?? '' },
      o.seconds,
    );
  }

  /** One forward pass of `batchSize` inputs. */
  observeInference(model: string, batchSize: number, seconds: number): void {
    this.inferenceDuration.observe({ model }, seconds);
    this.inferenceBatch.observe({ model }, batchSize);
  }

  /** One explanation computation (e.g. method "integrated-gradients") over `batchSize` inputs. */
  observeExplanation(model: string, method: string, batchSize: number, seconds: number): void {
    this.explanationDuration.observe({ model, method }, seconds);
    this.explanationBatch.observe({ model, method }, batchSize);
  }

  /** One FHIR read: `failure` is undefined on success, else a FhirReadFailure kind. */
  observeFhirRead(relativeUrl: string, seconds: number, failure?: string): void {
    const resource = resourceTypeOf(relativeUrl);
    this.fhirDuration.observe({ resource, outcome: failure ?? 'ok' }, seconds);
    if (failure) this.fhirErrors.inc({ resource, failure });
  }

  /** A hook call answered with a degraded card (e.g. reason "deadline"); `service` is a registered id. */
  countDegraded(service: string, reason: string): void {
    this.degraded.inc({ service, reason });
  }

  /** Explanation records deleted by the retention purge. */
  countExplanationsPurged(n: number): void {
    if (n > 0) this.explanationsPurged.inc(n);
  }

  /** HL7 messages deleted by the retention purge (inbound: applied or failed; outbound: sent or failed). */
  countHl7Purged(purged: { inbound: number; outbound: number }): void {
    if (purged.inbound > 0) this.hl7Purged.inc({ queue: 'inbound' }, purged.inbound);
    if (purged.outbound > 0) this.hl7Purged.inc({ queue: 'outbound' }, purged.outbound);
  }

  countRateLimited(clientKind: 'issuer' | 'ip'): void {
    this.rateLimited.inc({ client_kind: clientKind });
  }

  /** Marks `name` as the back end in use (and any other as not). */
  setBackend(name: string): void {
    this.backend.reset();
    this.backend.set({ backend: name }, 1);
  }

  /** Reads the back end at each scrape (e.g. src/models backendName), so a late initBackend() still shows. */
  setBackendSource(read: () => string | undefined): void {
    this.backendSource = read;
  }

  /** Reads the audit store's uncommitted-event count at each scrape. */
  setAuditPendingSource(read: () => number): void {
    this.auditPendingSource = read;
  }

  setReadiness(check: string, ok: boolean): void {
    this.readinessGauge.set({ check }, ok ? 1 : 0);
  }

  /**
   * Registers a queue-depth source read at each scrape (e.g. `() => ({ inbound: c.pending, outbound: c.outboundPending })`).
   * Returns a function that unregisters it (call it when the HL7 interface closes).
   */
  registerQueueDepth(name: string, read: () => QueueDepths | Promise<QueueDepths>): () => void {
    this.queueSources.set(name, read);
    return () => {
      if (this.queueSources.get(name) === read) this.queueSources.delete(name);
    };
  }

  /** The exposition text and its content type, for GET /metrics. */
  async exposition(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

/** The resource type a relative FHIR URL reads ("Observation?patient=…" → "Observation"), else "other". */
export function resourceTypeOf(relativeUrl: string): string {
  const first = relativeUrl.split(/[/?]/, 1)[0] ?? '';
  return RESOURCE_TYPE.test(first) ? first : 'other';
}

/**
 * Process-wide seam for code that is not handed a VigilMetrics (the model registry's batcher, explainers):
 * they call `currentMetrics()?.observeInference(...)`. createVigil installs its instance here; with
 * several apps in one process (tests) the latest one wins, which only affects what those tests observe.
 */
let current: VigilMetrics | undefined;

export function installMetrics(metrics: VigilMetrics | undefined): void {
  current = metrics;
}

export function currentMetrics(): VigilMetrics | undefined {
  return current;
}

/** Times `work` and reports its duration to `report` in seconds, whether it succeeds or throws. */
export async function timed<T>(work: () => Promise<T> | T, report: (seconds: number) => void): Promise<T> {
  const started = performance.now();
  try {
    return await work();
  } finally {
    report((performance.now() - started) / 1000);
  }
}
