/**
 * One CDS service call, end to end — CDS Hooks 2.0.1 §Calling a CDS Service and §CDS Service Response:
 * validate the request → resolve prefetch (412 when required data cannot be had) → run the handler within
 * the hook deadline → guard its cards. Kept out of the route handler so it is testable without HTTP.
 *
 * Deadline: the whole call gets HOOK_DEADLINE_MS. When it passes, FHIR reads are aborted and the EHR gets
 * 200 with one degraded `info` card saying no assessment was made (issue 9: a slow or hung FHIR server must
 * never turn into a 5xx or a hang). The spec names no status for a slow service (it only says services
 * SHOULD answer in ~500 ms); a bare `{ cards: [] }` would claim there was nothing to say, and a 5xx is
 * dropped silently by most EHRs, so the card makes the absence of a score visible without alarming.
 *
 * Handler failures: a PreconditionFailedError (or a FHIR read failure) from the handler becomes 412, as
 * the spec uses 412 for "unable to retrieve the necessary FHIR data … directly calling the FHIR server";
 * other 4xx VigilErrors pass through; anything else is logged by class and message only and answered as a
 * generic 500 so no internals reach the EHR.
 */
import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import type { Config } from '../config.js';
import { PreconditionFailedError, VigilError, isVigilError } from '../errors.js';
import { currentMetrics } from '../observability/metrics.js';
import type { Logger } from '../logger.js';
import { FhirReadError, createFhirReader, type FhirReaderFactory } from '../fhir/fhir-reader.js';
import { ServiceOutputError, guardCdsResponse } from './cards.js';
import { resolvePrefetch } from './prefetch-resolver.js';
import type { CdsResponse, CdsService, CdsServiceDefinition, HookInvocation } from './types.js';
import { parseHookRequest } from './validation.js';
import { wellFormedPrefetch } from '../fhir/shape.js';

export interface InvokeOptions {
  config: Pick<Config, 'prefetchTimeoutMs' | 'hookDeadlineMs'>;
  logger: Logger;
  /** Absolute base URL of this service, for card links. */
  baseUrl: string;
  fhirReaderFactory?: FhirReaderFactory;
  /** Clock, for tests. */
  now?: () => Date;
}

class DeadlineExceeded extends Error {}
const DEADLINE = Symbol('deadline');

/** Rejects with DeadlineExceeded when `signal` aborts first. */
function beforeDeadline<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new DeadlineExceeded());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new DeadlineExceeded());
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

/**
 * The answer when HOOK_DEADLINE_MS passes: one `info` card (§Card Attributes) stating that no assessment
 * was made. It carries no patient data and says plainly that a missing score is not a low score.
 */
export function deadlineResponse(definition: CdsServiceDefinition): CdsResponse {
  const name = definition.title ?? definition.id;
  return {
    cards: [
      {
        uuid: randomUUID(),
        summary: `${name}: not available this time (no answer within the time limit)`.slice(0, 139),
        indicator: 'info',
        detail:
          'Vigil could not finish this assessment in time, usually because patient data could not be read quickly enough. ' +
          '**No score was calculated: this is not a low-risk result.** Reopen the record to try again.',
        source: { label: 'Vigil' },
      },
    ],
  };
}

/**
 * Tells the clinician that data were left out: a resource dropped as malformed (src/fhir/shape.ts) may be a
 * reading the score would otherwise have used, and a log line alone reaches nobody at the bedside.
 */
export function withDroppedNote(response: CdsResponse, dropped: number): CdsResponse {
  const note =
    `_${dropped === 1 ? 'One resource' : `${dropped} resources`} sent by the EHR for this assessment ` +
    `${dropped === 1 ? 'was' : 'were'} malformed (wrong data types) and ${dropped === 1 ? 'was' : 'were'} not used._`;
  return { ...response, cards: response.cards.map((card) => ({ ...card, detail: card.detail ? `${card.detail}\n\n${note}` : note })) };
}

function handlerFailure(err: unknown, signal: AbortSignal, logger: Logger, serviceId: string): VigilError | typeof DEADLINE {
  if (err instanceof DeadlineExceeded || signal.aborted) return DEADLINE;
  if (err instanceof FhirReadError) {
    return new PreconditionFailedError('The CDS service could not obtain the FHIR data it needs', [
      { field: 'fhirServer', message: err.upstreamStatus ? `FHIR server answered ${err.upstreamStatus}` : err.message },
    ]);
  }
  if (isVigilError(err) && err.status < 500) return err;
  const e = err instanceof Error ? err : undefined;
  logger.error({ serviceId, errName: e?.name ?? typeof err, errMessage: e?.message }, 'CDS service handler failed');
  return new VigilError('The CDS service failed to process this request');
}

/**
 * Validates `body` for `service`, resolves its prefetch, runs it and returns guarded cards.
 * Past the deadline it resolves to deadlineResponse() instead of throwing.
 * @throws BadRequestError (400), PreconditionFailedError (412) or a generic VigilError (500).
 */
export async function invokeService(service: CdsService, body: unknown, opts: InvokeOptions): Promise<CdsResponse> {
  const { config, logger } = opts;
  const serviceId = service.definition.id;
  const request = parseHookRequest(body, service.definition.hook);
  const started = performance.now();

  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), config.hookDeadlineMs);
  const { signal } = controller;
  // Every concurrent FHIR read listens on the deadline (and removes its listener when done); a service
  // with a dozen prefetch keys is normal, not a leak.
  setMaxListeners(0, signal);
  try {
    const factory = opts.fhirReaderFactory ?? createFhirReader;
    const fhir = request.fhirServer
      ? factory(request.fhirServer, request.fhirAuthorization, { timeoutMs: config.prefetchTimeoutMs, signal })
      : undefined;

    const degraded = (stage: string): CdsResponse => {
      logger.warn({ serviceId, hookInstance: request.hookInstance, stage, ms: Math.round(performance.now() - started) }, 'hook deadline passed; degraded card');
      currentMetrics()?.countDegraded(serviceId, 'deadline');
      return deadlineResponse(service.definition);
    };

    let resolved;
    try {
      resolved = await beforeDeadline(resolvePrefetch({ service, request, reader: fhir, logger }), signal);
    } catch (err) {
      if (err instanceof DeadlineExceeded) return degraded('prefetch');
      throw err;
    }

    // Handlers are written against the fhir/r4 types; nothing else guarantees them (src/fhir/shape.ts).
    const { prefetch, dropped } = wellFormedPrefetch(resolved.prefetch);
    if (dropped) logger.warn({ serviceId, hookInstance: request.hookInstance, dropped }, 'malformed prefetch resources dropped');
    const invocation: HookInvocation = {
      request,
      prefetch,
      baseUrl: opts.baseUrl,
      logger: logger.child({ serviceId }),
      now: opts.now?.() ?? new Date(),
      signal,
    };
    if (fhir) invocation.fhir = fhir;

    let raw: unknown;
    try {
      raw = await beforeDeadline(Promise.resolve().then(() => service.handle(invocation)), signal);
    } catch (err) {
      const failure = handlerFailure(err, signal, logger, serviceId);
      if (failure === DEADLINE) return degraded('handler');
      throw failure;
    }

    let response: CdsResponse;
    try {
      response = guardCdsResponse(raw, { logger, serviceId });
    } catch (err) {
      if (!(err instanceof ServiceOutputError)) throw err;
      logger.error({ serviceId, errName: err.name, errMessage: err.message }, 'CDS service returned an invalid response');
      throw new VigilError('The CDS service failed to process this request');
    }
    if (dropped) response = withDroppedNote(response, dropped);
    logger.info(
      {
        serviceId,
        hookInstance: request.hookInstance,
        cards: response.cards.length,
        prefetchSources: resolved.outcomes.map((o) => `${o.key}:${o.source}`),
        ms: Math.round(performance.now() - started),
      },
      'hook answered',
    );
    return response;
  } finally {
    clearTimeout(timer);
  }
}
