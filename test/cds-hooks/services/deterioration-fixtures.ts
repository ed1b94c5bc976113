/**
 * Shared set-up for the model service tests: the shipped sandbox patients in an in-memory sandbox
 * FhirStore (times moved to NOW, as the sandbox does), prefetch filled from it exactly as the sandbox EHR
 * fills it, the shipped model registry, and hook invocations through invokeService (validation, prefetch
 * resolution, handler, output guard) without HTTP, and the explanation id a card's SMART link carries.
 */
import { randomUUID } from 'node:crypto';
import type { Bundle, FhirResource, Observation } from 'fhir/r4';
import { invokeService } from '../../../src/cds-hooks/invoke.js';
import { fillPrefetchTemplate } from '../../../src/cds-hooks/prefetch-template.js';
import type { Card, CdsResponse, CdsService } from '../../../src/cds-hooks/types.js';
import { fillPrefetch } from '../../../src/sandbox/ehr/hook-request.js';
import { FhirStore } from '../../../src/sandbox/fhir/store.js';
import { keepSupported } from '../../../src/sandbox/index.js';
import { loadSandboxData, readSandboxIndex, type SandboxIndexEntry } from '../../../src/sandbox/patients.js';
import { initBackend, ModelRegistry } from '../../../src/models/index.js';
import { silentLogger, testConfig } from '../helpers.js';

/** A fixed "now" so runs are reproducible: the sandbox anchor plus a few minutes. */
export const NOW = new Date('2026-01-01T12:20:00Z');
export const BASE_URL = 'http://vigil.test';
export const FHIR_BASE = 'http://ehr.test/fhir';

export interface SandboxFixture {
  store: FhirStore;
  index: SandboxIndexEntry[];
  bundles: Bundle[];
}

export function loadSandboxFixture(now: Date = NOW): SandboxFixture {
  const store = new FhirStore();
  const { bundles } = loadSandboxData(undefined, now);
  const skipped = new Map<string, number>();
  for (const bundle of bundles) store.loadBundle(keepSupported(bundle, new Set(store.resourceTypes), skipped));
  return { store, index: readSandboxIndex().patients, bundles };
}

export async function openShippedRegistry(): Promise<ModelRegistry> {
  await initBackend();
  return ModelRegistry.open({ dir: 'models', maxWaitMs: 0 });
}

/** Every resource of one patient's shipped bundle (times moved), for "evidence exists" checks. */
export function patientResources(fixture: SandboxFixture, patientId: string): FhirResource[] {
  const bundle = fixture.bundles.find((b) => b.entry?.some((e) => e.resource?.resourceType === 'Patient' && e.resource.id === patientId));
  return (bundle?.entry ?? []).map((e) => e.resource).filter((r): r is FhirResource => r !== undefined);
}

export function observationIds(resources: readonly FhirResource[]): Set<string> {
  return new Set(resources.filter((r): r is Observation => r.resourceType === 'Observation').map((o) => `Observation/${o.id}`));
}

export async function sandboxPrefetch(service: CdsService, store: FhirStore, context: Record<string, unknown>): Promise<Record<string, FhirResource | null>> {
  return fillPrefetch(service.definition.prefetch ?? {}, context, { fill: fillPrefetchTemplate, source: store, fhirServer: FHIR_BASE });
}

export interface CallOptions {
  context?: Record<string, unknown>;
  /** Replace the prefetch entirely. */
  prefetch?: Record<string, FhirResource | null>;
  now?: Date;
}

/** Calls a service as the sandbox EHR would (prefetch filled from the store), without HTTP. */
export async function callService(service: CdsService, store: FhirStore, patientId: string, options: CallOptions = {}): Promise<CdsResponse> {
  const context = { userId: 'Practitioner/sandbox-clinician', patientId, ...options.context };
  const prefetch = options.prefetch ?? (await sandboxPrefetch(service, store, context));
  const body = { hook: service.definition.hook, hookInstance: randomUUID(), context, prefetch };
  return invokeService(service, body, {
    config: testConfig({ hookDeadlineMs: 20_000 }),
    logger: silentLogger,
    baseUrl: BASE_URL,
    now: () => options.now ?? NOW,
  });
}

/** The explanation id in the card's SMART link appContext, if it has one. */
export function explanationIdOf(card: Card): string | undefined {
  const link = card.links?.find((l) => l.type === 'smart');
  return link?.appContext ? (JSON.parse(link.appContext) as { explanationId: string }).explanationId : undefined;
}
