/**
 * SMART App Launch v2.2 §Discovery of Server Capabilities and Configuration
 * (https://hl7.org/fhir/smart-app-launch/conformance.html): the app reads `{iss}/.well-known/smart-configuration`
 * to find the authorization and token endpoints — but only for issuers on an allow-list, because `iss` arrives
 * in a URL anyone can craft (SMART §EHR launch: "the app SHALL verify that iss is a trusted FHIR server").
 */
import { z } from 'zod';
import { BadGatewayError, ForbiddenError } from '../../errors.js';

/** The fields this client relies on; REQUIRED ones per the spec are not optional. */
const smartConfigurationSchema = z.object({
  /** REQUIRED */
  authorization_endpoint: z.url({ protocol: /^https?$/ }),
  /** REQUIRED */
  token_endpoint: z.url({ protocol: /^https?$/ }),
  /** REQUIRED */
  capabilities: z.array(z.string()),
  /** REQUIRED */
  code_challenge_methods_supported: z.array(z.string()),
  /** REQUIRED */
  grant_types_supported: z.array(z.string()).optional(),
  issuer: z.string().optional(),
  jwks_uri: z.string().optional(),
  scopes_supported: z.array(z.string()).optional(),
});

export type DiscoveredSmartConfiguration = z.infer<typeof smartConfigurationSchema>;

/** A FHIR base without trailing slashes, so "…/fhir" and "…/fhir/" are one issuer. */
export function normalizeIssuer(iss: string): string {
  return iss.trim().replace(/\/+$/, '');
}

/**
 * Throws ForbiddenError unless `iss` is an absolute http(s) URL on the allow-list (exact match after
 * normalisation: no prefix or host-suffix tricks).
 */
export function assertAllowedIssuer(iss: string | undefined, allowed: readonly string[]): string {
  if (!iss) throw new ForbiddenError('The launch did not say which EHR it came from (iss is missing).');
  let url: URL;
  try {
    url = new URL(iss);
  } catch {
    throw new ForbiddenError('The launch came from an address that is not a FHIR server.');
  }
  const normalized = normalizeIssuer(iss);
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.username || url.password || url.hash || url.search) {
    throw new ForbiddenError('The launch came from an address that is not a FHIR server.');
  }
  if (!allowed.map(normalizeIssuer).includes(normalized)) {
    throw new ForbiddenError('This EHR is not on the list of systems Vigil trusts, so the app was not opened.');
  }
  return normalized;
}

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export interface DiscoveryOptions {
  fetch?: FetchLike;
  timeoutMs?: number;
}

/**
 * Fetches and validates `{iss}/.well-known/smart-configuration`. Redirects are not followed (the document
 * must come from the issuer itself); a server without PKCE S256 is refused, since this client is public.
 */
export async function discoverSmartConfiguration(iss: string, options: DiscoveryOptions = {}): Promise<DiscoveredSmartConfiguration> {
  const doFetch = options.fetch ?? fetch;
  let res: Response;
  try {
    res = await doFetch(`${normalizeIssuer(iss)}/.well-known/smart-configuration`, {
      headers: { Accept: 'application/json' },
      redirect: 'manual',
      signal: AbortSignal.timeout(options.timeoutMs ?? 5000),
    });
  } catch (err) {
    throw new BadGatewayError('The EHR sign-in service could not be reached.', [], { cause: err });
  }
  if (res.status !== 200) throw new BadGatewayError(`The EHR sign-in service answered ${res.status} to discovery.`);
  const parsed = smartConfigurationSchema.safeParse(await res.json().catch(() => undefined));
  if (!parsed.success) throw new BadGatewayError('The EHR sign-in service published an unusable configuration.');
  if (!parsed.data.code_challenge_methods_supported.includes('S256')) {
    throw new BadGatewayError('The EHR sign-in service does not support PKCE (S256), which this app requires.');
  }
  return parsed.data;
}

/** Caches discovery per issuer (the document changes rarely; re-reading it on every launch adds a round trip). */
export class DiscoveryCache {
  private readonly entries = new Map<string, { config: DiscoveredSmartConfiguration; expiresAt: number }>();

  constructor(
    private readonly options: DiscoveryOptions & { maxAgeMs?: number; now?: () => number } = {},
  ) {}

  async get(iss: string): Promise<DiscoveredSmartConfiguration> {
    const now = (this.options.now ?? Date.now)();
    const hit = this.entries.get(iss);
    if (hit && hit.expiresAt > now) return hit.config;
    const config = await discoverSmartConfiguration(iss, this.options);
    if (this.entries.size > 100) this.entries.clear();
    this.entries.set(iss, { config, expiresAt: now + (this.options.maxAgeMs ?? 300_000) });
    return config;
  }
}
