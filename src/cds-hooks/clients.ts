/**
 * Trusted CDS Clients — CDS Hooks 2.0.1 §Trusting CDS Clients (https://cds-hooks.hl7.org/2.0/#trusting-cds-clients):
 * "CDS Services SHOULD maintain an allowlist of the iss and jku fields to only the CDS Clients they trust."
 * Each entry names an issuer, where its public keys are (a JWKS URL or an inline JWK Set), which services
 * it may call and, optionally, its tenant. Loaded from CDS_CLIENTS_FILE; the sandbox adds itself at start.
 * JWT verification itself is not here (see the router's `authenticate` seam).
 *
 * File format: `[{ "issuer": "...", "jwksUrl": "https://…" | "jwks": { "keys": [...] }, "jku"?: "https://…" (with jwks only),
 *   "services": ["*" | id…], "tenant"?: "..." }]`
 */
import fs from 'node:fs';
import { VigilError, type ErrorDetail } from '../errors.js';
import { isNonEmptyString, isRecord } from './json-guards.js';

/** A JSON Web Key as published in a JWK Set (RFC 7517); only `kty` is required there. */
export interface Jwk {
  kty: string;
  kid?: string;
  alg?: string;
  use?: string;
  [member: string]: unknown;
}

export interface CdsClient {
  /** JWT `iss` this client signs with (compared exactly). */
  issuer: string;
  /** Where the client's JWK Set is published. Exactly one of jwksUrl / jwks. */
  jwksUrl?: string;
  /** The client's JWK Set, communicated out of band (§Trusting CDS Clients: when `jku` is omitted). */
  jwks?: { keys: Jwk[] };
  /**
   * With an inline `jwks` only: the `jku` header value this client sends, allow-listed so its tokens are
   * accepted; never fetched (the inline keys are used). With `jwksUrl`, the allowed `jku` is jwksUrl itself.
   */
  jku?: string;
  /** Service ids this client may call; "*" means all. */
  services: string[];
  /** Expected JWT `tenant`, when the deployment is per-organisation. */
  tenant?: string;
}

/** CDS_CLIENTS_FILE is unreadable or invalid; details name the entry and field (e.g. "[1].jwksUrl"). */
export class CdsClientsConfigError extends VigilError {
  override readonly code = 'invalid_cds_clients';
}

function isHttpUrl(value: string): boolean {
  try {
    const { protocol } = new URL(value);
    return protocol === 'https:' || protocol === 'http:';
  } catch {
    return false;
  }
}

/** Problems with one client entry; `at` prefixes field paths (e.g. "[2]"). */
export function cdsClientIssues(value: unknown, at = ''): ErrorDetail[] {
  if (!isRecord(value)) return [{ field: at || '(entry)', message: 'must be an object' }];
  const issues: ErrorDetail[] = [];
  const field = (name: string) => (at ? `${at}.${name}` : name);
  if (!isNonEmptyString(value.issuer)) issues.push({ field: field('issuer'), message: 'is required (non-empty string)' });

  const hasUrl = value.jwksUrl !== undefined;
  const hasSet = value.jwks !== undefined;
  if (hasUrl === hasSet) {
    issues.push({ field: field('jwksUrl'), message: 'exactly one of jwksUrl or jwks is required' });
  }
  if (hasUrl && (typeof value.jwksUrl !== 'string' || !isHttpUrl(value.jwksUrl))) {
    issues.push({ field: field('jwksUrl'), message: 'must be an absolute http(s) URL' });
  }
  if (hasSet) {
    const jwks = value.jwks;
    if (!isRecord(jwks) || !Array.isArray(jwks.keys) || jwks.keys.length === 0) {
      issues.push({ field: field('jwks.keys'), message: 'must be a non-empty array of JWKs' });
    } else {
      jwks.keys.forEach((key: unknown, i) => {
        if (!isRecord(key) || !isNonEmptyString(key.kty)) {
          issues.push({ field: field(`jwks.keys[${i}].kty`), message: 'is required' });
        } else if (key.d !== undefined) {
          // A private key in a trust list is a leak waiting to happen.
          issues.push({ field: field(`jwks.keys[${i}].d`), message: 'private key material is not allowed' });
        }
      });
    }
  }

  if (!Array.isArray(value.services) || value.services.length === 0) {
    issues.push({ field: field('services'), message: 'must be a non-empty array of service ids or "*"' });
  } else {
    value.services.forEach((s: unknown, i) => {
      if (!isNonEmptyString(s)) issues.push({ field: field(`services[${i}]`), message: 'must be a service id or "*"' });
    });
  }
  if (value.jku !== undefined && (hasUrl || typeof value.jku !== 'string' || !isHttpUrl(value.jku))) {
    issues.push({ field: field('jku'), message: 'must be an absolute http(s) URL, and only with an inline jwks' });
  }
  if (value.tenant !== undefined && !isNonEmptyString(value.tenant)) {
    issues.push({ field: field('tenant'), message: 'must be a non-empty string when present' });
  }
  return issues;
}

function toClient(value: Record<string, unknown>): CdsClient {
  const client: CdsClient = { issuer: value.issuer as string, services: [...(value.services as string[])] };
  if (typeof value.jwksUrl === 'string') client.jwksUrl = value.jwksUrl;
  if (isRecord(value.jwks)) client.jwks = { keys: (value.jwks.keys as Jwk[]).map((k) => ({ ...k })) };
  if (typeof value.jku === 'string') client.jku = value.jku;
  if (typeof value.tenant === 'string') client.tenant = value.tenant;
  return client;
}

/** Validates parsed JSON as a client list. @throws CdsClientsConfigError naming every bad entry/field. */
export function parseCdsClients(json: unknown, source = 'CDS clients'): CdsClient[] {
  if (!Array.isArray(json)) {
    throw new CdsClientsConfigError(`${source}: must be a JSON array of clients`, [{ field: '(root)', message: 'must be an array' }]);
  }
  const issues = json.flatMap((entry: unknown, i) => cdsClientIssues(entry, `[${i}]`));
  const seen = new Map<string, number>();
  json.forEach((entry: unknown, i) => {
    if (!isRecord(entry) || !isNonEmptyString(entry.issuer)) return;
    const first = seen.get(entry.issuer);
    if (first !== undefined) issues.push({ field: `[${i}].issuer`, message: `duplicates entry [${first}]` });
    else seen.set(entry.issuer, i);
  });
  if (issues.length) {
    const list = issues.map((d) => `${d.field}: ${d.message}`).join('; ');
    throw new CdsClientsConfigError(`${source} is invalid: ${list}`, issues);
  }
  return (json as Record<string, unknown>[]).map(toClient);
}

/** Reads and validates CDS_CLIENTS_FILE. @throws CdsClientsConfigError */
export function loadCdsClients(file: string): CdsClient[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new CdsClientsConfigError(`CDS clients file ${file} cannot be read: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new CdsClientsConfigError(`CDS clients file ${file} is not valid JSON: ${(err as Error).message}`);
  }
  return parseCdsClients(json, `CDS clients file ${file}`);
}

/** The trusted clients in effect: loaded from the file, plus any added at run time (the sandbox). */
export class CdsClientRegistry {
  readonly #byIssuer = new Map<string, CdsClient>();

  constructor(clients: CdsClient[] = []) {
    for (const client of clients) this.add(client);
  }

  /** Adds or replaces the client for its issuer. @throws CdsClientsConfigError when the entry is invalid. */
  add(client: CdsClient): void {
    const issues = cdsClientIssues(client);
    if (issues.length) {
      throw new CdsClientsConfigError(`Invalid CDS client ${client.issuer ?? ''}`.trim(), issues);
    }
    this.#byIssuer.set(client.issuer, client);
  }

  byIssuer(issuer: string): CdsClient | undefined {
    return this.#byIssuer.get(issuer);
  }

  /** True when `issuer` is trusted and may call `serviceId` ("*" allows every service). */
  allows(issuer: string, serviceId: string): boolean {
    const client = this.#byIssuer.get(issuer);
    return client !== undefined && (client.services.includes('*') || client.services.includes(serviceId));
  }

  list(): CdsClient[] {
    return [...this.#byIssuer.values()];
  }
}
