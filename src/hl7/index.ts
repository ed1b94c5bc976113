/**
 * The HL7 v2 interface, assembled: MLLP listener → ingest (durable queue, ACK) → worker (FHIR store)
 * → optional scoring and outbound ORU^R01. `startHl7Interface` takes everything injected (tests start
 * it on port 0); `startHl7FromConfig` chooses the back ends from the configuration for `npm start`.
 * See docs/hl7.md.
 */
import type { Logger } from '../logger.js';
import type { Config } from '../config.js';
import type { FhirStore } from '../sandbox/fhir/store.js';
import { Ingest } from './ingest.js';
import { startMllpListener, type MllpListener } from './listener.js';
import { Hl7Worker } from './worker.js';
import { applyMessage, applyPlan, type ApplyResult } from './apply.js';
import { PlanHandoff } from './plan-handoff.js';
import { openSqliteQueue } from './sqlite-queue.js';
import { openMemoryQueue } from './memory-queue.js';
import { openPgQueue } from './pg-queue.js';
import { openPgPool, type PgPool } from '../storage/postgres.js';
import type { MessageStore } from './queue.js';
import type { FhirWriter } from './fhir-writer.js';
import { storeWriter } from './store-writer.js';
import { httpWriter } from './http-writer.js';
import { loadLocalCodes, type LocalCodes } from './local-codes.js';
import { OutboundSender, type OutboundOptions } from './outbound.js';
import { news2Scorer, scoreAndQueue, type PatientScorer } from './scoring.js';
import { startHl7Retention } from './retention.js';

export interface Hl7InterfaceOptions {
  port: number;
  host?: string;
  /** Directory of the SQLite queue (DATA_DIR). */
  dataDir: string;
  /** false = in-memory queue (benchmarks only). Default true. */
  durable?: boolean;
  /**
   * The message store to use instead of SQLite/memory (PostgreSQL: src/hl7/pg-queue.ts). The
   * interface owns it from here on and closes it on close().
   */
  store?: MessageStore;
  /** How often idle workers look for other replicas' messages on a shared store. Default 1000 ms. */
  pollMs?: number;
  maxMessageBytes?: number;
  writer: FhirWriter;
  logger: Logger;
  localCodes?: LocalCodes;
  assumeOffset?: string;
  /** Results back to the EHR (ORU^R01); off when absent. */
  outbound?: Omit<OutboundOptions, 'store' | 'logger'>;
  /** Scorers run after an HL7 update brings new observations. Default: NEWS2. */
  scorers?: readonly PatientScorer[];
  /**
   * Told the FHIR Patient id after a message wrote Observations for it (e.g. the precompute worker,
   * src/precompute). Called synchronously after the write; must not throw and should return quickly.
   */
  onPatientDataChanged?: (patientId: string) => void;
  /** Do not apply messages (the queue only fills; used by the durability tests and benchmarks). */
  applyPaused?: boolean;
  retryBaseMs?: number;
  /** HL7_RETENTION_DAYS: finished messages older than this are purged hourly (src/hl7/retention.ts); 0 or absent keeps them. */
  retentionDays?: number;
  /** Told the rows each retention batch deleted (the metrics counter). */
  onPurged?: (purged: { inbound: number; outbound: number }) => void;
}

export interface Hl7Interface {
  port: number;
  store: MessageStore;
  worker: Hl7Worker;
  outbound?: OutboundSender;
  close(): Promise<void>;
}

export const DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024;

export async function startHl7Interface(options: Hl7InterfaceOptions): Promise<Hl7Interface> {
  const { logger, writer } = options;
  const local = options.localCodes ?? loadLocalCodes();
  const store = options.store ?? (options.durable === false ? openMemoryQueue() : openSqliteQueue(options.dataDir));
  const poll = options.pollMs !== undefined ? { pollMs: options.pollMs } : {};
  const planOptions = { local, ...(options.assumeOffset ? { assumeOffset: options.assumeOffset } : {}) };

  const outbound = options.outbound ? new OutboundSender({ ...poll, ...options.outbound, store, logger }) : undefined;
  const scorers = options.scorers ?? [news2Scorer];
  const onApplied = async (result: ApplyResult) => {
    if (result.observations > 0 && options.onPatientDataChanged) {
      try {
        options.onPatientDataChanged(result.patientId);
      } catch (err) {
        logger.warn({ errName: err instanceof Error ? err.name : typeof err }, 'hl7: patient-data-changed listener failed');
      }
    }
    if (!outbound || result.observations === 0) return;
    await scoreAndQueue(result.patientId, { writer, scorers, store, now: new Date() });
    outbound.notify();
  };

  // Parse once: the plan built for the ACK goes to the worker in memory; the queue keeps the raw text.
  const handoff = new PlanHandoff();
  const worker = new Hl7Worker({
    store,
    logger,
    handoff,
    apply: (raw, plan) => (plan ? applyPlan(plan, writer) : applyMessage(raw, writer, planOptions)),
    onApplied,
    ...poll,
    ...(options.retryBaseMs !== undefined ? { retryBaseMs: options.retryBaseMs } : {}),
  });
  const ingest = new Ingest({ ...planOptions, store, logger, handoff, onStored: () => worker.notify() });
  let listener: MllpListener;
  try {
    listener = await startMllpListener({
      port: options.port,
      ...(options.host ? { host: options.host } : {}),
      maxMessageBytes: options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
      ingest,
      logger,
    });
  } catch (err) {
    await store.close();
    throw err;
  }
  if (!options.applyPaused) worker.start();
  outbound?.start();
  const retention = startHl7Retention({
    store,
    retentionDays: options.retentionDays ?? 0,
    logger,
    ...(options.onPurged ? { onPurged: options.onPurged } : {}),
  });
  const counts = await store.counts().catch(() => undefined);
  logger.info({ port: listener.port, durable: store.durable, shared: store.shared, counts }, 'hl7: MLLP listener started');

  return {
    port: listener.port,
    store,
    worker,
    ...(outbound ? { outbound } : {}),
    async close() {
      await listener.close();
      await worker.stop();
      handoff.clear();
      await outbound?.stop();
      await retention?.stop();
      await store.close();
    },
  };
}

/**
 * The interface as configured (HL7_PORT, DATA_DIR, DATABASE_URL, FHIR_STORE_URL, HL7_OUT_HOST/PORT…):
 * the queue in PostgreSQL when DATABASE_URL is set (shared by every replica), else in SQLite under
 * DATA_DIR (HL7_DURABLE=off: memory); writes to FHIR_STORE_URL when set, else to the sandbox's
 * in-process store. Returns undefined when HL7_PORT=off.
 */
export async function startHl7FromConfig(
  config: Config,
  deps: {
    logger: Logger;
    sandboxStore?: FhirStore;
    tokenProvider?: () => Promise<string | undefined>;
    onPatientDataChanged?: (patientId: string) => void;
    /** PostgreSQL pool to use instead of one opened on DATABASE_URL (tests: a schema of their own); the caller ends it. */
    pgPool?: PgPool;
    /** Told the rows each retention batch deleted (e.g. VigilMetrics.countHl7Purged). */
    onPurged?: (purged: { inbound: number; outbound: number }) => void;
  },
): Promise<Hl7Interface | undefined> {
  if (config.hl7Port === undefined) return undefined;
  let writer: FhirWriter;
  if (config.fhirStoreUrl) {
    const token = config.fhirStoreToken;
    writer = httpWriter({ baseUrl: config.fhirStoreUrl, token: deps.tokenProvider ?? (token ? async () => token : undefined) });
  } else if (deps.sandboxStore) {
    writer = storeWriter(deps.sandboxStore);
  } else {
    throw new Error('HL7 interface needs a FHIR store: set FHIR_STORE_URL, enable the sandbox (SANDBOX=on), or set HL7_PORT=off');
  }
  // A pool of its own: the ingest commit must not queue behind other stores' queries.
  const pool = config.hl7Durable ? (deps.pgPool ?? (config.databaseUrl ? openPgPool(config.databaseUrl, { max: 5 }) : undefined)) : undefined;
  const store = pool ? await openPgQueue(pool, { ownsPool: !deps.pgPool }) : undefined;
  return startHl7Interface({
    port: config.hl7Port,
    ...(store ? { store } : {}),
    host: config.host,
    dataDir: config.dataDir,
    durable: config.hl7Durable,
    maxMessageBytes: config.hl7MaxMessageBytes,
    writer,
    logger: deps.logger,
    ...(config.hl7LocalCodesFile ? { localCodes: loadLocalCodes(config.hl7LocalCodesFile) } : {}),
    ...(config.hl7OutHost && config.hl7OutPort ? { outbound: { host: config.hl7OutHost, port: config.hl7OutPort } } : {}),
    ...(deps.onPatientDataChanged ? { onPatientDataChanged: deps.onPatientDataChanged } : {}),
    retentionDays: config.hl7RetentionDays,
    ...(deps.onPurged ? { onPurged: deps.onPurged } : {}),
  });
}
