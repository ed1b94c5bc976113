/**
 * SMART Backend Services client (SMART App Launch v2.2 §Backend Services,
 * https://hl7.org/fhir/smart-app-launch/backend-services.html): discovery of the token endpoint from
 * `[fhir]/.well-known/smart-configuration`, a client assertion signed with our private key (RFC 7523
 * private_key_jwt: iss = sub = client_id, aud = token endpoint, exp ≤ 5 min, unique jti), and the
 * client_credentials grant for `system/` scopes. Tokens are reused until shortly before they expire.
 *
 * The key file is a private JWK (with `alg` RS384 or ES384 and, ideally, `kid`) or a PKCS#8 PEM (then
 * `alg` must be given). Never logged.
 */
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { SignJWT, importJWK, importPKCS8, type CryptoKey, type JWK } from 'jose';
import { z } from 'zod';
import { BadGatewayError, BadRequestError, UnauthorizedError } from '../errors.js';
import type { FetchLike } from '../smart/app-launch/discovery.js';

/** The algorithms SMART Backend Services requires servers to support (RS384, ES384). */
export const BACKEND_ALGORITHMS = ['RS384', 'ES384'] as const;
export type BackendAlgorithm = (typeof BACKEND_ALGORITHMS)[number];

export interface BackendKey {
  alg: BackendAlgorithm;
  kid?: string;
  privateKey: CryptoKey;
}

const smartConfigurationSchema = z.object({
  token_endpoint: z.string().url(),
  token_endpoint_auth_methods_supported: z.array(z.string()).optional(),
  token_endpoint_auth_signing_alg_values_supported: z.array(z.string()).optional(),
});

const tokenResponseSchema = z.object({
  access_token: z.string().min(1),
  token_type: z.string().refine((t) => t.toLowerCase() === 'bearer', 'token_type must be Bearer'),
  expires_in: z.number().positive().optional(),
  scope: z.string().optional(),
});

function isAlgorithm(value: unknown): value is BackendAlgorithm {
  return typeof value === 'string' && (BACKEND_ALGORITHMS as readonly string[]).includes(value);
}

/** Reads a private key from a JWK (.json) or PKCS#8 PEM file. */
export async function loadBackendKey(file: string, options: { alg?: string } = {}): Promise<BackendKey> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new BadRequestError(`Cannot read the key file ${file}`);
  }
  if (text.includes('-----BEGIN')) {
    if (!isAlgorithm(options.alg)) throw new BadRequestError('A PEM key needs --alg RS384 or ES384');
    return { alg: options.alg, privateKey: await importPKCS8(text, options.alg) };
  }
  let jwk: JWK;
  try {
    jwk = JSON.parse(text) as JWK;
  } catch {
    throw new BadRequestError(`The key file ${file} is neither a JWK nor a PEM key`);
  }
  const alg = options.alg ?? jwk.alg;
  if (!isAlgorithm(alg)) throw new BadRequestError(`The key's algorithm must be RS384 or ES384 (got ${alg ?? 'none'})`);
  if (jwk.d === undefined) throw new BadRequestError('The key file holds a public key; the private key is needed');
  const privateKey = await importJWK(jwk, alg);
  if (!('type' in privateKey)) throw new BadRequestError('Unexpected symmetric key');
  return { alg, ...(jwk.kid ? { kid: jwk.kid } : {}), privateKey };
}

export interface SmartConfigurationSummary {
  tokenEndpoint: string;
  signingAlgorithms?: string[];
}

/** SMART App Launch §Conformance: the FHIR server's `.well-known/smart-configuration`. */
export async function discoverTokenEndpoint(fhirBase: string, fetchFn: FetchLike): Promise<SmartConfigurationSummary> {
  const url = `${fhirBase.replace(/\/+$/, '')}/.well-known/smart-configuration`;
  let res: Response;
  try {
    res = await fetchFn(url, { headers: { Accept: 'application/json' } });
  } catch {
    throw new BadGatewayError(`Cannot reach ${url}`);
  }
  if (!res.ok) throw new BadGatewayError(`${url} answered ${res.status}; is this a SMART-enabled FHIR server?`);
  const parsed = smartConfigurationSchema.safeParse(await res.json().catch(() => undefined));
  if (!parsed.success) throw new BadGatewayError(`${url} has no usable token_endpoint`);
  const methods = parsed.data.token_endpoint_auth_methods_supported;
  if (methods && !methods.includes('private_key_jwt')) throw new BadGatewayError('The authorization server does not accept private_key_jwt (SMART Backend Services)');
  return { tokenEndpoint: parsed.data.token_endpoint, ...(parsed.data.token_endpoint_auth_signing_alg_values_supported ? { signingAlgorithms: parsed.data.token_endpoint_auth_signing_alg_values_supported } : {}) };
}

/** RFC 7523 §3 client assertion as SMART Backend Services profiles it. */
export async function signClientAssertion(key: BackendKey, clientId: string, tokenEndpoint: string, now: Date = new Date()): Promise<string> {
  const iat = Math.floor(now.getTime() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: key.alg, typ: 'JWT', ...(key.kid ? { kid: key.kid } : {}) })
    .setIssuer(clientId)
    .setSubject(clientId)
    .setAudience(tokenEndpoint)
    .setIssuedAt(iat)
    .setExpirationTime(iat + 240)
    .setJti(randomUUID())
    .sign(key.privateKey);
}

export interface BackendTokenSourceOptions {
  fhirBase: string;
  clientId: string;
  key: BackendKey;
  scope: string;
  fetch?: FetchLike;
  now?: () => Date;
}

/** A token provider for the FHIR and bulk clients: fetches a token once, renews it a minute before expiry. */
export function backendTokenSource(options: BackendTokenSourceOptions): () => Promise<string> {
  const fetchFn = options.fetch ?? fetch;
  const now = options.now ?? (() => new Date());
  let endpoint: Promise<SmartConfigurationSummary> | undefined;
  let current: { token: string; renewAt: number } | undefined;
  let pending: Promise<string> | undefined;

  const request = async (): Promise<string> => {
    endpoint ??= discoverTokenEndpoint(options.fhirBase, fetchFn).catch((err: unknown) => {
      endpoint = undefined;
      throw err;
    });
    const { tokenEndpoint, signingAlgorithms } = await endpoint;
    if (signingAlgorithms && !signingAlgorithms.includes(options.key.alg)) {
      throw new BadRequestError(`The authorization server does not accept ${options.key.alg} client assertions (it lists ${signingAlgorithms.join(', ')})`);
    }
    const form = new URLSearchParams({
      grant_type: 'client_credentials',
      scope: options.scope,
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: await signClientAssertion(options.key, options.clientId, tokenEndpoint, now()),
    });
    let res: Response;
    try {
      res = await fetchFn(tokenEndpoint, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' }, body: form.toString() });
    } catch {
      throw new BadGatewayError(`Cannot reach the token endpoint ${tokenEndpoint}`);
    }
    const body = (await res.json().catch(() => undefined)) as Record<string, unknown> | undefined;
    if (!res.ok) {
      const reason = typeof body?.error === 'string' ? `${body.error}${typeof body.error_description === 'string' ? `: ${body.error_description}` : ''}` : `HTTP ${res.status}`;
      throw new UnauthorizedError(`The authorization server refused client ${options.clientId} (${reason})`);
    }
    const parsed = tokenResponseSchema.safeParse(body);
    if (!parsed.success) throw new BadGatewayError('The token endpoint answered without a bearer access token');
    const lifetime = parsed.data.expires_in ?? 300;
    current = { token: parsed.data.access_token, renewAt: now().getTime() + Math.max(lifetime - 60, lifetime / 2) * 1000 };
    return current.token;
  };

  return async () => {
    if (current && now().getTime() < current.renewAt) return current.token;
    pending ??= request().finally(() => {
      pending = undefined;
    });
    return pending;
  };
}
