/**
 * What a resource server needs from a trusted EHR's SMART configuration
 * (SMART App Launch v2.2 §Conformance, https://hl7.org/fhir/smart-app-launch/conformance.html): the
 * authorization server's `issuer` (what its JWT access tokens carry in `iss`), its `jwks_uri` and its
 * `introspection_endpoint`. Fetched from `{iss}/.well-known/smart-configuration` with no redirects (the
 * document must come from the FHIR server itself) and only over https outside localhost.
 */
import { z } from 'zod';

/** Fields this resource server reads; SMART marks them as below. */
const resourceServerConfigSchema = z.object({
  /** CONDITIONAL (REQUIRED with sso-openid-connect): needed here to check a JWT's `iss`. */
  issuer: z.string().min(1).optional(),
  /** CONDITIONAL: needed to verify JWT access tokens. */
  jwks_uri: z.string().min(1).optional(),
  /** RECOMMENDED: needed to verify opaque access tokens (RFC 7662). */
  introspection_endpoint: z.string().min(1).optional(),
  /** REQUIRED: used as the audience of a private_key_jwt client assertion (RFC 7523 §3). */
  token_endpoint: z.string().min(1).optional(),
});

export type ResourceServerConfig = z.infer<typeof resourceServerConfigSchema>;

/** Thrown when a trusted issuer's configuration cannot be obtained or is unsafe to use. */
export class DiscoveryError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DiscoveryError';
  }
}

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

/**
 * True for https URLs, and for http ones on a loopback host (development and tests). Any other scheme,
 * or credentials in the URL, is refused: keys and token verdicts must not travel in the clear.
 */
export function isSecureUrl(raw: string): boolean {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return false;
  }
  if (url.username || url.password) return false;
  if (url.protocol === 'https:') return true;
  return url.protocol === 'http:' && (LOOPBACK_HOSTS.has(url.hostname) || url.hostname.endsWith('.localhost'));
}

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

const MAX_CONFIG_BYTES = 256 * 1024;

/** Reads `{fhirBase}/.well-known/smart-configuration`; throws DiscoveryError on any transport, status or shape problem. */
export async function fetchResourceServerConfig(fhirBase: string, options: { fetch?: FetchLike; timeoutMs?: number } = {}): Promise<ResourceServerConfig> {
  const url = `${fhirBase.replace(/\/+$/, '')}/.well-known/smart-configuration`;
  if (!isSecureUrl(url)) throw new DiscoveryError('the FHIR base is not https (only loopback may use http)');
  let res: Response;
  try {
    res = await (options.fetch ?? fetch)(url, {
      headers: { Accept: 'application/json' },
      redirect: 'error',
      signal: AbortSignal.timeout(options.timeoutMs ?? 5000),
    });
  } catch (err) {
    throw new DiscoveryError('smart-configuration could not be fetched', { cause: err });
  }
  if (res.status !== 200) throw new DiscoveryError(`smart-configuration answered ${res.status}`);
  const text = await res.text();
  if (text.length > MAX_CONFIG_BYTES) throw new DiscoveryError('smart-configuration is too large');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new DiscoveryError('smart-configuration is not JSON');
  }
  const parsed = resourceServerConfigSchema.safeParse(json);
  if (!parsed.success) throw new DiscoveryError('smart-configuration has unusable fields');
  for (const field of ['jwks_uri', 'introspection_endpoint', 'token_endpoint'] as const) {
    const value = parsed.data[field];
    if (value !== undefined && !isSecureUrl(value)) throw new DiscoveryError(`${field} is not https (only loopback may use http)`);
  }
  return parsed.data;
}

export interface ResourceServerDiscoveryOptions {
  /** How long a fetched document is used. */
  maxAgeSeconds: number;
  /** After a failed fetch, how long to wait before trying that issuer again (failures are not hammered). */
  retryAfterFailureSeconds?: number;
  fetch?: FetchLike;
  timeoutMs?: number;
  now?: () => number;
}

interface Entry {
  config?: ResourceServerConfig;
  expiresAt: number;
  failedAt?: number;
  inflight?: Promise<ResourceServerConfig>;
}

/** Discovery per trusted FHIR base, cached with a TTL; concurrent misses share one fetch. */
export class ResourceServerDiscovery {
  readonly #entries = new Map<string, Entry>();
  /** Fetches started per FHIR base (tests and observability). */
  readonly fetchCount = new Map<string, number>();

  constructor(private readonly options: ResourceServerDiscoveryOptions) {}

  /** @throws DiscoveryError when the document cannot be obtained (a stale copy is served if there is one). */
  async get(fhirBase: string): Promise<ResourceServerConfig> {
    const now = (this.options.now ?? Date.now)();
    const entry = this.#entries.get(fhirBase) ?? { expiresAt: 0 };
    this.#entries.set(fhirBase, entry);
    if (entry.config && entry.expiresAt > now) return entry.config;
    if (entry.inflight) return entry.inflight;
    const retryMs = (this.options.retryAfterFailureSeconds ?? 10) * 1000;
    if (entry.failedAt !== undefined && now - entry.failedAt < retryMs) {
      if (entry.config) return entry.config;
      throw new DiscoveryError('smart-configuration failed recently; not retrying yet');
    }
    this.fetchCount.set(fhirBase, (this.fetchCount.get(fhirBase) ?? 0) + 1);
    entry.inflight = (async () => {
      try {
        const config = await fetchResourceServerConfig(fhirBase, {
          ...(this.options.fetch ? { fetch: this.options.fetch } : {}),
          ...(this.options.timeoutMs ? { timeoutMs: this.options.timeoutMs } : {}),
        });
        entry.config = config;
        entry.expiresAt = (this.options.now ?? Date.now)() + this.options.maxAgeSeconds * 1000;
        delete entry.failedAt;
        return config;
      } catch (err) {
        entry.failedAt = (this.options.now ?? Date.now)();
        // A server that was fine a minute ago keeps its last document through a blip.
        if (entry.config) return entry.config;
        throw err;
      } finally {
        delete entry.inflight;
      }
    })();
    return entry.inflight;
  }
}
