/**
 * Where the sandbox EHR learns which CDS services exist: CDS Hooks 2.0.1 §Discovery
 * (https://cds-hooks.hl7.org/2.0/#discovery). Like a real EHR it reads GET /cds-services; when the
 * app can hand over its service list in process, that is used instead (no loopback call).
 */
import { ServiceUnavailableError } from '../../errors.js';
import type { CdsServiceDefinition } from '../../cds-hooks/types.js';

/** Returns the current discovery list. `localOrigin` is this server's own loopback origin. */
export type ServiceCatalog = (localOrigin: string) => Promise<CdsServiceDefinition[]>;

function isServiceDefinition(value: unknown): value is CdsServiceDefinition {
  const v = value as Partial<CdsServiceDefinition> | null;
  return typeof v === 'object' && v !== null && typeof v.id === 'string' && typeof v.hook === 'string';
}

export interface DiscoveryOverHttpOptions {
  fetchImpl?: typeof fetch;
  timeoutMs?: number;
  /** Authorization header value for the call (a client JWT: §Trusting CDS Clients covers discovery too). */
  authorization?: (localOrigin: string) => Promise<string>;
}

/** Reads discovery over HTTP from this same server, as an EHR would from any CDS service. */
export function discoveryOverHttp(options: DiscoveryOverHttpOptions = {}): ServiceCatalog {
  const { fetchImpl = fetch, timeoutMs = 5000, authorization } = options;
  return async (localOrigin) => {
    let res: Response;
    try {
      const headers: Record<string, string> = { Accept: 'application/json' };
      if (authorization) headers.Authorization = await authorization(localOrigin);
      res = await fetchImpl(`${localOrigin}/cds-services`, { headers, signal: AbortSignal.timeout(timeoutMs) });
    } catch (err) {
      throw new ServiceUnavailableError('CDS service discovery is unreachable', [], { cause: err });
    }
    if (!res.ok) throw new ServiceUnavailableError(`CDS service discovery answered ${res.status}`);
    const body = (await res.json().catch(() => null)) as { services?: unknown } | null;
    if (!body || !Array.isArray(body.services)) throw new ServiceUnavailableError('CDS service discovery answered no services list');
    return body.services.filter(isServiceDefinition);
  };
}

/** A fixed list (tests, or the app passing its own definitions). */
export function staticCatalog(services: readonly CdsServiceDefinition[] | (() => readonly CdsServiceDefinition[])): ServiceCatalog {
  return async () => [...(typeof services === 'function' ? services() : services)];
}
