/**
 * Public keys of JWT issuers published as a JWK Set at a URL (RFC 7517 §5; CDS Hooks 2.0.1 §Trusting CDS
 * Clients: "The CDS Client MAY make its JWK Set available via a URL identified by the jku header field").
 *
 * Keys are cached per URL for `maxAgeSeconds`. A `kid` the cached set lacks triggers one refetch (the
 * client may have rotated keys), but never more often than once per `cooldownSeconds` per URL, so a flood
 * of tokens with made-up kids cannot turn us into a load generator against the client's JWKS host.
 * Concurrent misses share one fetch. Only URLs from our own configuration reach this cache: a token's `jku`
 * is compared with the configured URL, never dereferenced on its own say-so.
 */
import {
  createLocalJWKSet,
  errors as joseErrors,
  type CryptoKey,
  type FlattenedJWSInput,
  type JSONWebKeySet,
  type JWSHeaderParameters,
} from 'jose';

/** Fetches and parses a JWK Set; throws on any transport, status or shape problem. */
export type JwksFetcher = (url: string, signal: AbortSignal) => Promise<JSONWebKeySet>;

type KeyResolver = (header: JWSHeaderParameters, token?: FlattenedJWSInput) => Promise<CryptoKey>;

/** The JWK Set could not be obtained (and no earlier copy is cached). */
export class JwksUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'JwksUnavailableError';
  }
}

/** No key (or more than one) in the issuer's JWK Set matches the token's kid and alg. */
export class UnknownKeyError extends Error {
  constructor(message = 'No key in the JWK Set matches the token') {
    super(message);
    this.name = 'UnknownKeyError';
  }
}

/** Largest JWK Set body accepted; real sets are a few kilobytes. */
const MAX_JWKS_BYTES = 256 * 1024;

function isJwkSet(value: unknown): value is JSONWebKeySet {
  return (
    typeof value === 'object' &&
    value !== null &&
    Array.isArray((value as { keys?: unknown }).keys) &&
    (value as { keys: unknown[] }).keys.every((k) => typeof k === 'object' && k !== null && !Array.isArray(k))
  );
}

/** GET over HTTP(S) with no redirects (a redirect could point the key source elsewhere) and a size cap. */
export const fetchJwksOverHttp: JwksFetcher = async (url, signal) => {
  const res = await fetch(url, { signal, redirect: 'error', headers: { Accept: 'application/json, application/jwk-set+json' } });
  if (res.status !== 200) throw new Error(`JWKS answered ${res.status}`);
  const declared = Number(res.headers.get('content-length') ?? '0');
  if (declared > MAX_JWKS_BYTES) throw new Error('JWKS too large');
  const text = await res.text();
  if (text.length > MAX_JWKS_BYTES) throw new Error('JWKS too large');
  const json: unknown = JSON.parse(text);
  if (!isJwkSet(json)) throw new Error('JWKS is not a JWK Set');
  return json;
};

export interface RemoteJwksCacheOptions {
  /** Least time between two fetches of the same URL. */
  cooldownSeconds: number;
  /** How long a fetched set is used before it is fetched again. */
  maxAgeSeconds: number;
  /** Time-out of one fetch. Default 5000 ms. */
  timeoutMs?: number;
  fetchJwks?: JwksFetcher;
  /** Clock in milliseconds (tests). */
  now?: () => number;
}

interface Entry {
  resolve?: KeyResolver;
  fetchedAt: number;
  lastAttempt: number;
  inflight?: Promise<void>;
}

export class RemoteJwksCache {
  readonly #entries = new Map<string, Entry>();
  readonly #opts: Required<RemoteJwksCacheOptions>;
  /** How many fetches were started, per URL (observability and tests). */
  readonly fetchCount = new Map<string, number>();

  constructor(options: RemoteJwksCacheOptions) {
    this.#opts = { timeoutMs: 5000, fetchJwks: fetchJwksOverHttp, now: Date.now, ...options };
  }

  /**
   * The public key at `url` for this JWS header (kid and alg).
   * @throws UnknownKeyError when no single key matches, even after a permitted refresh.
   * @throws JwksUnavailableError when the set was never obtained.
   */
  async keyFor(url: string, header: JWSHeaderParameters): Promise<CryptoKey> {
    const entry = this.#entry(url);
    const now = this.#opts.now();
    if (!entry.resolve || now - entry.fetchedAt >= this.#opts.maxAgeSeconds * 1000) await this.#refresh(url, entry);
    if (!entry.resolve) throw new JwksUnavailableError('JWK Set unavailable');
    try {
      return await entry.resolve(header);
    } catch (err) {
      if (!(err instanceof joseErrors.JWKSNoMatchingKey)) throw asKeyError(err);
    }
    // Unknown kid: perhaps rotated since we fetched. Refetch once, unless we did so very recently.
    await this.#refresh(url, entry);
    try {
      return await entry.resolve(header);
    } catch (err) {
      throw asKeyError(err);
    }
  }

  #entry(url: string): Entry {
    let entry = this.#entries.get(url);
    if (!entry) {
      entry = { fetchedAt: 0, lastAttempt: -Infinity };
      this.#entries.set(url, entry);
    }
    return entry;
  }

  async #refresh(url: string, entry: Entry): Promise<void> {
    if (entry.inflight) return entry.inflight;
    const now = this.#opts.now();
    if (now - entry.lastAttempt < this.#opts.cooldownSeconds * 1000) return;
    entry.lastAttempt = now;
    this.fetchCount.set(url, (this.fetchCount.get(url) ?? 0) + 1);
    entry.inflight = (async () => {
      try {
        const jwks = await this.#opts.fetchJwks(url, AbortSignal.timeout(this.#opts.timeoutMs));
        entry.resolve = createLocalJWKSet(jwks);
        entry.fetchedAt = this.#opts.now();
      } catch (err) {
        // Keep serving the previous set, if any: a JWKS host blip should not lock every client out.
        if (!entry.resolve) throw new JwksUnavailableError('JWK Set unavailable', { cause: err });
      } finally {
        entry.inflight = undefined;
      }
    })();
    return entry.inflight;
  }
}

/** Resolves keys from a JWK Set communicated out of band (inline in the trust list). */
export function inlineKeyResolver(jwks: JSONWebKeySet): (header: JWSHeaderParameters) => Promise<CryptoKey> {
  const resolve = createLocalJWKSet(jwks);
  return async (header) => {
    try {
      return await resolve(header);
    } catch (err) {
      throw asKeyError(err);
    }
  };
}

function asKeyError(err: unknown): Error {
  if (err instanceof joseErrors.JWKSNoMatchingKey || err instanceof joseErrors.JWKSMultipleMatchingKeys) return new UnknownKeyError();
  if (err instanceof joseErrors.JOSENotSupported || err instanceof joseErrors.JWKSInvalid) return new UnknownKeyError('No usable key for this algorithm');
  return err instanceof Error ? err : new Error(String(err));
}
