/**
 * Server-side sessions of the explanation view. The browser holds only an opaque session id in an httpOnly
 * cookie; access and refresh tokens never leave the server (SMART App Launch v2.2 §App Protection: a
 * browser-resident app is exposed to script injection, a server-held token is not).
 *
 * One session per browser; inside it, one grant per launch (`contexts`, keyed by a random context id the page
 * carries), so two charts open in two tabs never see each other's patient.
 * The store is an interface so a shared back end can replace the in-memory one when the service runs on
 * several processes (PostgreSQL, sealed: src/storage/session-store-pg.ts); values are plain JSON for that reason.
 */

/** A launch between the redirect to the authorization server and the callback (keyed by `state`). */
export interface PendingLaunch {
  iss: string;
  tokenEndpoint: string;
  redirectUri: string;
  clientId: string;
  codeVerifier: string;
  /** Epoch ms; a callback after this is refused. */
  expiresAt: number;
}

/** What one completed launch granted: tokens plus the SMART launch context (§Launch context arrives with the token). */
export interface AppGrant {
  iss: string;
  tokenEndpoint: string;
  clientId: string;
  accessToken: string;
  refreshToken?: string;
  /** Epoch ms at which the access token expires. */
  accessTokenExpiresAt: number;
  scope: string;
  patient?: string;
  encounter?: string;
  /** SMART `need_patient_banner`; absent in the token response means the app must show one. */
  needPatientBanner: boolean;
  smartStyleUrl?: string;
  /** CDS Hooks 2.0.1 §Link `appContext` (the explanation id), passed through the token response. */
  appContext?: string;
}

export interface AppSession {
  id: string;
  pending: Record<string, PendingLaunch>;
  contexts: Record<string, AppGrant>;
  /** Context ids, oldest first, so the oldest grant is dropped when a browser opens many charts. */
  order: string[];
}

export interface SessionStore {
  get(id: string): Promise<AppSession | undefined>;
  /** Stores (or replaces) the session; it lives `ttlSeconds` from now unless saved again. */
  save(session: AppSession, ttlSeconds: number): Promise<void>;
  delete(id: string): Promise<void>;
  /**
   * Extends a live session to `ttlSeconds` from now without writing its content (sliding expiry): on a shared
   * store a whole-session save here could put back a grant another replica has just refreshed.
   */
  touch(id: string, ttlSeconds: number): Promise<void>;
  /**
   * Runs `work` while no other user of this store — another replica — runs work under the same `key`, so a
   * single-use refresh token is spent once. Shared stores implement it; one process needs nothing more than
   * its own in-memory de-duplication.
   */
  exclusive?<T>(key: string, work: () => Promise<T>): Promise<T>;
}

export interface MemorySessionStoreOptions {
  /** Most sessions kept; the least recently saved go first. Default 10,000. */
  maxSessions?: number;
  now?: () => number;
}

/** In-process session store: right for one process (the default deployment); lost on restart (users re-launch). */
export class MemorySessionStore implements SessionStore {
  private readonly sessions = new Map<string, { json: string; expiresAt: number }>();
  private readonly max: number;
  private readonly now: () => number;

  constructor(options: MemorySessionStoreOptions = {}) {
    this.max = options.maxSessions ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  async get(id: string): Promise<AppSession | undefined> {
    const entry = this.sessions.get(id);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.now()) {
      this.sessions.delete(id);
      return undefined;
    }
    // A copy, as a networked store would return: callers must save() to change anything.
    return JSON.parse(entry.json) as AppSession;
  }

  async save(session: AppSession, ttlSeconds: number): Promise<void> {
    this.sessions.delete(session.id);
    this.sessions.set(session.id, { json: JSON.stringify(session), expiresAt: this.now() + ttlSeconds * 1000 });
    if (this.sessions.size > this.max) {
      const t = this.now();
      for (const [k, v] of this.sessions) if (v.expiresAt <= t) this.sessions.delete(k);
      for (const k of this.sessions.keys()) {
        if (this.sessions.size <= this.max) break;
        this.sessions.delete(k);
      }
    }
  }

  async delete(id: string): Promise<void> {
    this.sessions.delete(id);
  }

  async touch(id: string, ttlSeconds: number): Promise<void> {
    const entry = this.sessions.get(id);
    if (!entry || entry.expiresAt <= this.now()) return;
    // Re-inserted, so the least recently used session is the first dropped at the bound.
    this.sessions.delete(id);
    this.sessions.set(id, { json: entry.json, expiresAt: this.now() + ttlSeconds * 1000 });
  }

  get size(): number {
    return this.sessions.size;
  }
}
