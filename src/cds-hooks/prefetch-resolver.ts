/**
 * Prefetch resolution — CDS Hooks 2.0.1 §Providing FHIR Resources to a CDS Service
 * (https://cds-hooks.hl7.org/2.0/#providing-fhir-resources-to-a-cds-service): "It is the CDS Service's
 * responsibility to check prefetched data against its template … and to programmatically retrieve any
 * additional necessary data. If the CDS Service is unable to obtain required data … the service SHALL
 * respond with an HTTP 412 Precondition Failed status code."
 *
 * For each key of the service's templates: the EHR's value when present and non-null; otherwise the
 * filled template read from `fhirServer` through the injected reader (all keys in parallel). A key the
 * EHR sent as null (its "no data") is re-read when a FHIR server is available — EHRs are known to send
 * null for "did not try" too — and stays null if that read fails. Keys listed in `requiredPrefetch`
 * that end with no resource → PreconditionFailedError naming each; optional ones become null.
 * Logs key names, sources and failure kinds only — never URLs (they carry ids), tokens or data.
 */
import type { FhirResource } from 'fhir/r4';
import { PreconditionFailedError, type ErrorDetail } from '../errors.js';
import type { Logger } from '../logger.js';
import { FhirReadError, type FhirReadFailure } from '../fhir/fhir-reader.js';
import { fillPrefetchTemplate } from './prefetch-template.js';
import type { CdsHookRequest, CdsService, FhirReader } from './types.js';

export type PrefetchSource = 'request' | 'fhir' | 'none';

export interface PrefetchOutcome {
  key: string;
  source: PrefetchSource;
  /** Why the key has no resource: the read failure, 'unfillable' template, 'no-fhir-server' or 'empty' (EHR said null). */
  missing?: FhirReadFailure | 'unfillable' | 'no-fhir-server' | 'empty';
  upstreamStatus?: number;
  ms?: number;
}

export interface ResolvedPrefetch {
  prefetch: Record<string, FhirResource | null>;
  outcomes: PrefetchOutcome[];
}

export interface ResolvePrefetchOptions {
  service: CdsService;
  request: CdsHookRequest;
  /** Bound to request.fhirServer + fhirAuthorization, with the per-read time-out and deadline signal; absent without fhirServer. */
  reader?: FhirReader;
  logger?: Logger;
}

function describeMissing(outcome: PrefetchOutcome): string {
  switch (outcome.missing) {
    case 'no-fhir-server':
      return 'not in the request prefetch and no fhirServer was given';
    case 'unfillable':
      return 'not in the request prefetch and its template cannot be filled from this context';
    case 'timeout':
    case 'aborted':
      return 'not in the request prefetch and the FHIR server did not answer in time';
    case 'network':
      return 'not in the request prefetch and the FHIR server could not be reached';
    default:
      return outcome.upstreamStatus
        ? `not in the request prefetch and the FHIR server answered ${outcome.upstreamStatus}`
        : 'not in the request prefetch and the FHIR server did not return a resource';
  }
}

async function readKey(
  key: string,
  template: string,
  request: CdsHookRequest,
  reader: FhirReader,
): Promise<{ value: FhirResource | null; outcome: PrefetchOutcome }> {
  const url = fillPrefetchTemplate(template, request.context);
  if (url === null) return { value: null, outcome: { key, source: 'none', missing: 'unfillable' } };
  const started = performance.now();
  try {
    const value = await reader.get(url);
    return { value, outcome: { key, source: 'fhir', ms: Math.round(performance.now() - started) } };
  } catch (err) {
    const ms = Math.round(performance.now() - started);
    if (err instanceof FhirReadError) {
      const outcome: PrefetchOutcome = { key, source: 'none', missing: err.failure, ms };
      if (err.upstreamStatus !== undefined) outcome.upstreamStatus = err.upstreamStatus;
      return { value: null, outcome };
    }
    return { value: null, outcome: { key, source: 'none', missing: 'network', ms } };
  }
}

/**
 * Resolves every prefetch key of `service` for `request`.
 * @throws PreconditionFailedError when a key in `service.requiredPrefetch` cannot be obtained.
 */
export async function resolvePrefetch(opts: ResolvePrefetchOptions): Promise<ResolvedPrefetch> {
  const { service, request, reader, logger } = opts;
  const templates = service.definition.prefetch ?? {};
  const sent = request.prefetch ?? {};

  const results = await Promise.all(
    Object.entries(templates).map(async ([key, template]) => {
      const hasKey = Object.prototype.hasOwnProperty.call(sent, key);
      const sentValue = hasKey ? sent[key] : undefined;
      if (sentValue) return { value: sentValue, outcome: { key, source: 'request' as const } };
      if (!reader) {
        const missing = sentValue === null ? ('empty' as const) : ('no-fhir-server' as const);
        return { value: null, outcome: { key, source: 'none' as const, missing } };
      }
      const read = await readKey(key, template, request, reader);
      // The EHR's explicit null is an answer ("no data"): keep it when our own read fails.
      if (read.value === null && sentValue === null) read.outcome.missing = 'empty';
      return read;
    }),
  );

  const prefetch: Record<string, FhirResource | null> = {};
  for (const { value, outcome } of results) prefetch[outcome.key] = value;
  const outcomes = results.map((r) => r.outcome);
  logger?.debug({ prefetchKeys: outcomes }, 'prefetch resolved');

  const required = new Set(service.requiredPrefetch ?? []);
  const failed: ErrorDetail[] = outcomes
    .filter((o) => required.has(o.key) && prefetch[o.key] === null && o.missing !== 'empty')
    .map((o) => ({ field: `prefetch.${o.key}`, message: describeMissing(o) }));
  // A required key with no template at all can never be obtained: a service definition bug, but say so.
  for (const key of required) {
    if (!Object.prototype.hasOwnProperty.call(templates, key)) {
      failed.push({ field: `prefetch.${key}`, message: 'required but the service has no prefetch template for it' });
    }
  }
  if (failed.length) {
    throw new PreconditionFailedError(
      `Required prefetch data could not be obtained: ${failed.map((f) => f.field!.slice('prefetch.'.length)).join(', ')}`,
      failed,
    );
  }
  return { prefetch, outcomes };
}
