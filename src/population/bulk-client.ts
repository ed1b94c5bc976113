/**
 * Client side of FHIR Bulk Data Access IG v2.0.0 export (https://hl7.org/fhir/uv/bulkdata/STU2/export.html):
 * §Bulk Data Kick-off Request (Group or Patient level, `Prefer: respond-async`, `_type`, `_since`,
 * `_outputFormat`), §Bulk Data Status Request polled with backoff honouring `Retry-After` (429 too),
 * §Bulk Data Output File Request streamed line by line, and §Bulk Data Delete Request.
 *
 * Security: the access token is sent only to the FHIR server's own origin. Output files elsewhere (a
 * bucket) are fetched without it, and a manifest that requires a token for a foreign file is refused.
 */
import type { FhirResource } from 'fhir/r4';
import { z } from 'zod';
import { BadGatewayError, ForbiddenError, NotFoundError, UnauthorizedError } from '../errors.js';
import { abortableSleep } from '../fhir/deadline.js';
import { retryAfterMs } from '../fhir/fhir-client.js';
import type { FetchLike } from '../smart/app-launch/discovery.js';
import { ndjsonLines, parseResourceLine } from './ndjson.js';

const manifestFileSchema = z.object({ type: z.string(), url: z.string().url(), count: z.number().int().nonnegative().optional() });

const manifestSchema = z.object({
  transactionTime: z.string(),
  request: z.string(),
  requiresAccessToken: z.boolean(),
  output: z.array(manifestFileSchema),
  error: z.array(manifestFileSchema).default([]),
});

/** IG §Response - Complete Status: the manifest. */
export type ExportManifest = z.infer<typeof manifestSchema>;

export interface KickoffParams {
  /** Group id; absent → Patient-level export (all patients). */
  group?: string;
  types: readonly string[];
  since?: string;
}

export interface ExportProgress {
  /** The server's X-Progress text, when it sent one. */
  text?: string;
  /** Time until the next poll. */
  waitMs: number;
}

export interface BulkClientOptions {
  fhirBase: string;
  token: () => Promise<string | undefined>;
  fetch?: FetchLike;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  signal?: AbortSignal;
  /** Longest wait between two polls, whatever the server says. Default 60 s. */
  maxPollWaitMs?: number;
  /** First wait when the server gives no Retry-After; doubles to maxPollWaitMs. Default 1 s. */
  initialPollWaitMs?: number;
}

/** The status URL answered 404: the job expired or was deleted; a new export is needed. */
export class ExportGoneError extends NotFoundError {}

async function outcomeText(res: Response): Promise<string> {
  const body = (await res.json().catch(() => undefined)) as { issue?: Array<{ diagnostics?: string }> } | undefined;
  const text = body?.issue?.map((i) => i.diagnostics).filter(Boolean).join('; ');
  return text ? `${res.status}: ${text}` : `HTTP ${res.status}`;
}

function failure(status: number, message: string): Error {
  if (status === 401) return new UnauthorizedError(message);
  if (status === 403) return new ForbiddenError(message);
  if (status === 404) return new NotFoundError(message);
  return new BadGatewayError(message);
}

export interface BulkClient {
  /** Starts an export; resolves the absolute status URL. */
  kickOff(params: KickoffParams): Promise<string>;
  /** Polls until complete; resolves the manifest. @throws ExportGoneError when the job no longer exists. */
  waitForManifest(statusUrl: string, onProgress?: (p: ExportProgress) => void): Promise<ExportManifest>;
  /** Streams the resources of one output file. */
  resources(fileUrl: string): AsyncGenerator<FhirResource>;
  /** Deletes the job and its files on the server (best effort after a finished run). */
  remove(statusUrl: string): Promise<void>;
}

export function createBulkClient(options: BulkClientOptions): BulkClient {
  const base = options.fhirBase.replace(/\/+$/, '');
  const origin = new URL(base).origin;
  const fetchFn = options.fetch ?? fetch;
  const sleep = options.sleep ?? abortableSleep;
  const maxWait = options.maxPollWaitMs ?? 60_000;
  const firstWait = options.initialPollWaitMs ?? 1000;

  const ownOrigin = (url: string): boolean => new URL(url).origin === origin;
  const authHeaders = async (url: string): Promise<Record<string, string>> => {
    if (!ownOrigin(url)) return {};
    const token = await options.token();
    return token ? { Authorization: `Bearer ${token}` } : {};
  };
  const call = async (url: string, init: RequestInit & { headers?: Record<string, string> }): Promise<Response> => {
    try {
      return await fetchFn(url, { ...init, headers: { ...(await authHeaders(url)), ...init.headers }, ...(options.signal ? { signal: options.signal } : {}) });
    } catch (err) {
      if (options.signal?.aborted) throw err;
      throw new BadGatewayError(`Cannot reach ${new URL(url).origin}`, [], { cause: err });
    }
  };

  return {
    async kickOff(params) {
      const url = new URL(params.group ? `${base}/Group/${encodeURIComponent(params.group)}/$export` : `${base}/Patient/$export`);
      url.searchParams.set('_outputFormat', 'application/fhir+ndjson');
      if (params.types.length) url.searchParams.set('_type', params.types.join(','));
      if (params.since) url.searchParams.set('_since', params.since);
      for (let attempt = 0; ; attempt++) {
        const res = await call(url.href, { headers: { Accept: 'application/fhir+json', Prefer: 'respond-async' } });
        if (res.status === 202) {
          const location = res.headers.get('content-location');
          if (!location) throw new BadGatewayError('The export was accepted without a Content-Location status URL');
          return new URL(location, `${base}/`).href;
        }
        if (res.status === 429 && attempt < 5) {
          await sleep(Math.min(maxWait, retryAfterMs(res.headers.get('retry-after')) ?? firstWait * 2 ** attempt), options.signal);
          continue;
        }
        throw failure(res.status, `Bulk export kick-off refused (${await outcomeText(res)})`);
      }
    },

    async waitForManifest(statusUrl, onProgress) {
      let backoff = firstWait;
      for (;;) {
        const res = await call(statusUrl, { headers: { Accept: 'application/json' } });
        if (res.status === 200) {
          const parsed = manifestSchema.safeParse(await res.json().catch(() => undefined));
          if (!parsed.success) throw new BadGatewayError('The export manifest is malformed');
          for (const file of [...parsed.data.output, ...parsed.data.error]) {
            if (parsed.data.requiresAccessToken && !ownOrigin(file.url)) {
              throw new BadGatewayError('The manifest asks for the access token on a file outside the FHIR server; refused');
            }
          }
          return parsed.data;
        }
        if (res.status === 404 || res.status === 410) throw new ExportGoneError('The export job no longer exists on the server');
        if (res.status === 202 || res.status === 429 || res.status === 503) {
          const told = retryAfterMs(res.headers.get('retry-after'));
          const waitMs = Math.min(maxWait, told ?? backoff);
          backoff = Math.min(maxWait, backoff * 2);
          const text = res.headers.get('x-progress') ?? undefined;
          onProgress?.({ ...(text ? { text } : {}), waitMs });
          await res.body?.cancel();
          await sleep(waitMs, options.signal);
          continue;
        }
        throw failure(res.status, `Bulk export failed (${await outcomeText(res)})`);
      }
    },

    async *resources(fileUrl) {
      const res = await call(fileUrl, { headers: { Accept: 'application/fhir+ndjson' } });
      if (!res.ok || !res.body) throw failure(res.status, `Cannot download ${new URL(fileUrl).pathname} (${await outcomeText(res)})`);
      const where = new URL(fileUrl).pathname.split('/').pop() ?? 'file';
      for await (const line of ndjsonLines(res.body as unknown as AsyncIterable<Uint8Array>)) yield parseResourceLine(line, where);
    },

    async remove(statusUrl) {
      const res = await call(statusUrl, { method: 'DELETE' });
      await res.body?.cancel();
      if (!res.ok && res.status !== 404) throw failure(res.status, `Deleting the export job failed (HTTP ${res.status})`);
    },
  };
}
