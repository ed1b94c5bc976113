/**
 * Replay protection for one-time tokens: CDS Hooks 2.0.1 §Trusting CDS Clients makes `jti` "a nonce …
 * used to protect against replay attacks" (https://cds-hooks.hl7.org/2.0/#trusting-cds-clients); SMART
 * Backend Services asks the same of client assertions. A key is remembered until the token it came from
 * expires, after which the token is refused on `exp` anyway.
 *
 * One interface, one file per back end: this in-memory cache (single process) and the SQLite one in
 * src/storage/replay-cache-sqlite.ts (survives restarts, shared by processes on one host).
 */

export interface ReplayCache {
  /**
   * Records `key` until `expiresAt` (epoch seconds). True when the key was new; false when it was already
   * recorded and has not yet expired — the caller must then refuse the token.
   */
  firstUse(key: string, expiresAt: number, now?: number): boolean | Promise<boolean>;
  close?(): void;
}

/** Namespaces a jti by its issuer: two clients may well pick the same nonce. */
export function replayKey(issuer: string, jti: string): string {
  return `${issuer}\u0000${jti}`;
}

export interface MemoryReplayCacheOptions {
  /**
   * Most keys held. Only tokens that passed signature checks are recorded, so this bounds memory against a
   * trusted client gone wrong; when full, the cache refuses new keys (fails closed) rather than forgetting.
   */
  maxEntries?: number;
}

export class MemoryReplayCache implements ReplayCache {
  readonly #expiries = new Map<string, number>();
  readonly #maxEntries: number;

  constructor(options: MemoryReplayCacheOptions = {}) {
    this.#maxEntries = options.maxEntries ?? 100_000;
  }

  firstUse(key: string, expiresAt: number, now = Math.floor(Date.now() / 1000)): boolean {
    const known = this.#expiries.get(key);
    if (known !== undefined && known > now) return false;
    if (this.#expiries.size >= this.#maxEntries) this.#prune(now);
    if (this.#expiries.size >= this.#maxEntries) return false;
    this.#expiries.set(key, expiresAt);
    return true;
  }

  get size(): number {
    return this.#expiries.size;
  }

  #prune(now: number): void {
    for (const [key, expiry] of this.#expiries) if (expiry <= now) this.#expiries.delete(key);
  }
}
