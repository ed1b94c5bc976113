/**
 * Reads from the EHR's FHIR server on behalf of one hook call (CDS Hooks 2.0.1 §FHIR Resource Access),
 * using exactly the access token the EHR passed in `fhirAuthorization` — never widened, refreshed or
 * swapped — or no token at all when the EHR sent none. Built on fhir-kit-client.
 *
 * Security notes: only relative URLs are accepted (fhir-kit-client would follow an absolute URL to any
 * host, taking the token with it); fhirServer must be http(s). fhir-kit-client's `debug` logging
 * (DEBUG=fhir-kit-client:*) prints request headers, so never enable it where real tokens flow.
 */
import { Client } from 'fhir-kit-client';
import type { FhirResource } from 'fhir/r4';
import { BadGatewayError, BadRequestError } from '../errors.js';
import type { FhirAuthorization, FhirReader } from '../cds-hooks/types.js';
import { startDeadline } from './deadline.js';

export type FhirReaderFactory = (
  fhirServer: string,
  auth: FhirAuthorization | undefined,
  opts: { timeoutMs: number; signal?: AbortSignal },
) => FhirReader;

/** Why a read failed, for callers that treat failures differently (e.g. prefetch → 412 or null). */
export type FhirReadFailure =
  | 'unauthorized'
  | 'forbidden'
  | 'not-found'
  | 'http-error'
  | 'timeout'
  | 'aborted'
  | 'network'
  | 'invalid-response'
  /** The URL asked for was not a relative FHIR URL; nothing was sent. */
  | 'invalid-url'
  /** 429 Too Many Requests after the retries allowed (src/fhir/fhir-client.ts). */
  | 'throttled'
  /** The server's CapabilityStatement is not FHIR R4 (src/fhir/fhir-client.ts). */
  | 'unsupported-version';

/** A FHIR read that did not yield a resource. `upstreamStatus` is the FHIR server's HTTP status, if any. */
export class FhirReadError extends BadGatewayError {
  constructor(
    message: string,
    readonly failure: FhirReadFailure,
    readonly upstreamStatus?: number,
  ) {
    super(message);
  }
}

function failureForStatus(status: number): FhirReadFailure {
  if (status === 401) return 'unauthorized';
  if (status === 403) return 'forbidden';
  if (status === 404 || status === 410) return 'not-found';
  return 'http-error';
}

/** Refuses anything but an absolute http(s) base URL. @throws BadRequestError */
export function assertHttpBaseUrl(fhirServer: string): URL {
  let url: URL;
  try {
    url = new URL(fhirServer);
  } catch {
    throw new BadRequestError('fhirServer is not an absolute URL', [{ field: 'fhirServer', message: 'not a URL' }]);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new BadRequestError('fhirServer must use http or https', [{ field: 'fhirServer', message: 'scheme not allowed' }]);
  }
  return url;
}

/** A relative FHIR URL may not carry a scheme, authority or leading slash (which would leave fhirServer). */
function assertRelative(relativeUrl: string): void {
  const refused =
    relativeUrl === '' ||
    /^[a-z][a-z0-9+.-]*:/i.test(relativeUrl) ||
    // fhir-kit-client treats anything starting with "http" as absolute.
    relativeUrl.toLowerCase().startsWith('http') ||
    relativeUrl.startsWith('/') ||
    relativeUrl.startsWith('\\') ||
    // Dot segments would climb out of the FHIR base path on the same host.
    relativeUrl.split('?')[0]!.split('/').some((seg) => seg === '.' || seg === '..' || /^%2e/i.test(seg));
  if (refused) throw new FhirReadError('Only relative FHIR URLs may be read', 'invalid-url');
}

function isResource(value: unknown): value is FhirResource {
  return typeof value === 'object' && value !== null && typeof (value as { resourceType?: unknown }).resourceType === 'string';
}

/** Maps whatever fhir-kit-client or fetch threw onto a FhirReadError. */
function toReadError(err: unknown, timedOut: boolean, aborted: boolean): FhirReadError {
  if (timedOut) return new FhirReadError('FHIR server did not answer in time', 'timeout');
  if (aborted) return new FhirReadError('FHIR read aborted', 'aborted');
  const response = (err as { response?: { status?: unknown; data?: unknown } } | undefined)?.response;
  if (response && typeof response.status === 'number') {
    const { status } = response;
    // fhir-kit-client throws with the raw text as data when a 2xx body is not JSON.
    if (status >= 200 && status < 300) {
      return new FhirReadError('FHIR server answered with a non-JSON body', 'invalid-response', status);
    }
    return new FhirReadError(`FHIR server answered ${status}`, failureForStatus(status), status);
  }
  return new FhirReadError('FHIR server could not be reached', 'network');
}

/**
 * The default reader: fhir-kit-client GETs with `Accept: application/fhir+json`, `Authorization: Bearer`
 * (only when the EHR gave a token) and a per-request time-out.
 */
export const createFhirReader: FhirReaderFactory = (fhirServer, auth, opts) => {
  const base = assertHttpBaseUrl(fhirServer);
  const baseUrl = base.href.replace(/\/+$/, '');
  const client = new Client({ baseUrl });
  return {
    async get(relativeUrl: string): Promise<FhirResource> {
      assertRelative(relativeUrl);
      const deadline = startDeadline(opts.timeoutMs, [opts.signal]);
      try {
        const headers: Record<string, string> = { accept: 'application/fhir+json' };
        if (auth) headers.authorization = `Bearer ${auth.access_token}`;
        const result: unknown = await client.request(relativeUrl, { options: { headers, signal: deadline.signal } });
        if (!isResource(result)) throw new FhirReadError('FHIR server answered JSON that is not a resource', 'invalid-response');
        return result;
      } catch (err) {
        if (err instanceof FhirReadError) throw err;
        throw toReadError(err, deadline.timedOut, deadline.signal.aborted);
      } finally {
        deadline.dispose();
      }
    },
  };
};
