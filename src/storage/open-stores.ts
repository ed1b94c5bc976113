/**
 * The one place a storage back end is chosen (issue 9 §State that scales): PostgreSQL when DATABASE_URL
 * is set — feedback, audit events, the jti replay cache and explanation records shared by every replica —
 * else SQLite files in DATA_DIR (one instance, nothing to set up). Both implement the same interfaces and
 * pass the same tests (test/storage). The explanation view's sessions follow: sealed in PostgreSQL under
 * SESSION_KEYS (shared by the replicas), else in memory (one process).
 *
 * PostgreSQL tables are created at start-up (advisory-locked, idempotent). A database that is down at
 * start-up does not stop the process: /readyz reports it and each store creates its tables on first use
 * once the database answers.
 */
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { ExplanationStore } from '../explanations/store.js';
import { openSqliteExplanationStore } from '../explanations/sqlite-store.js';
import { EXPLANATION_PG_SCHEMA, openPgExplanationStore } from '../explanations/pg-store.js';
import type { ReplayCache } from '../smart/replay-cache.js';
import { MemorySessionStore, type SessionStore } from '../smart/app-launch/session-store.js';
import { createAuditStore, type AuditStore } from './audit-store.js';
import { AUDIT_PG_SCHEMA, openPgAuditStore } from './audit-store-pg.js';
import { openFeedbackStore, type FeedbackStore } from './feedback-store.js';
import { FEEDBACK_PG_SCHEMA, openPgFeedbackStore } from './feedback-store-pg.js';
import { pgCall } from './pg-errors.js';
import { ensureSchema, openPgPool, type PgPool } from './postgres.js';
import { PgReplayCache, REPLAY_PG_SCHEMA } from './replay-cache-pg.js';
import { openSecurityDatabase, SqliteReplayCache } from './replay-cache-sqlite.js';
import { PgSessionStore, SESSION_PG_SCHEMA } from './session-store-pg.js';

export interface Stores {
  backend: 'sqlite' | 'postgresql';
  feedback: FeedbackStore;
  audit: AuditStore;
  replayCache: ReplayCache;
  explanations: ExplanationStore;
  /** The explanation view's server-side sessions (they hold SMART tokens). */
  appSessions: SessionStore;
  /** Named reachability probes for /readyz; each rejects while its store cannot be used. */
  probes: Record<string, () => Promise<void>>;
  /** Runs every probe. */
  ping(): Promise<void>;
  /** Flushes the audit buffer and closes everything opened here. */
  close(): Promise<void>;
}

export interface OpenStoresOptions {
  logger?: Logger;
  /**
   * PostgreSQL pool to use instead of one opened on config.databaseUrl (tests give each suite its own
   * schema). Setting it selects PostgreSQL; the caller keeps ownership and ends it.
   */
  pgPool?: PgPool;
  /** Audit group-commit window (AuditStoreOptions.flushMs). Default 5 ms. */
  auditFlushMs?: number;
}

export type StoreConfig = Pick<Config, 'dataDir' | 'databaseUrl' | 'databasePoolMax'> & Partial<Pick<Config, 'sessionKeys'>>;

export async function openStores(config: StoreConfig, options: OpenStoresOptions = {}): Promise<Stores> {
  const { logger } = options;
  // What is logged about a failed audit batch: counts, the error class and code, never the events (they name
  // patients). A server error's message can quote a value, so it is logged only for client-side errors,
  // which carry no code and no data (pool time-out, connection lost).
  const onFlushError = (err: unknown, pending: number) => {
    const code = (err as { code?: unknown } | undefined)?.code;
    const message = code === undefined && err instanceof Error ? err.message : undefined;
    logger?.error({ errName: err instanceof Error ? err.name : typeof err, errCode: code, errMessage: message, pending }, 'audit flush failed; will retry');
  };
  const auditOptions = { ...(options.auditFlushMs !== undefined ? { flushMs: options.auditFlushMs } : {}), onFlushError };

  if (options.pgPool || config.databaseUrl) {
    if (config.databaseUrl && !config.sessionKeys?.length) {
      throw new Error('SESSION_KEYS is required with DATABASE_URL (explanation-view sessions are stored encrypted in PostgreSQL)');
    }
    const ownsPool = !options.pgPool;
    const pool = options.pgPool ?? openPgPool(config.databaseUrl!, { max: config.databasePoolMax });
    try {
      await ensureSchema(pool, [FEEDBACK_PG_SCHEMA, AUDIT_PG_SCHEMA, REPLAY_PG_SCHEMA, EXPLANATION_PG_SCHEMA, SESSION_PG_SCHEMA].join('\n'));
    } catch (err) {
      logger?.warn({ errName: err instanceof Error ? err.name : typeof err, errCode: (err as { code?: unknown }).code }, 'PostgreSQL not usable at start-up; tables will be created once it answers');
    }
    logger?.info({ storage: 'postgresql', poolMax: ownsPool ? config.databasePoolMax : undefined }, 'shared state in PostgreSQL');
    const feedback = openPgFeedbackStore(pool);
    const audit = openPgAuditStore(pool, auditOptions);
    const replayCache = new PgReplayCache(pool);
    const explanations = openPgExplanationStore(pool);
    const appSessions = pgSessions(pool, config, logger);
    const probes = {
      database: () =>
        pgCall(async () => {
          await pool.query('SELECT 1');
        }),
    };
    return {
      backend: 'postgresql',
      feedback,
      audit,
      replayCache,
      explanations,
      appSessions,
      probes,
      ping: () => probes.database(),
      async close() {
        replayCache.close();
        if (appSessions instanceof PgSessionStore) appSessions.close();
        try {
          await audit.close();
        } catch (err) {
          onFlushError(err, 0);
        }
        await feedback.close();
        await explanations.close();
        if (ownsPool) await pool.end();
      },
    };
  }

  logger?.info({ storage: 'sqlite' }, 'state in SQLite files under DATA_DIR (one instance)');
  const feedback = openFeedbackStore(config.dataDir);
  const explanations = openSqliteExplanationStore(config.dataDir);
  // One file for the security tables: the jti replay cache and the audit trail (DATA_DIR/security.sqlite).
  const securityDb = openSecurityDatabase(config.dataDir);
  const audit = createAuditStore(securityDb, auditOptions);
  const replayCache = new SqliteReplayCache(securityDb);
  const probes = {
    'feedback-store': async () => {
      await feedback.list({ card: '' });
    },
    'security-store': async () => {
      securityDb.prepare('SELECT 1').get();
    },
  };
  return {
    backend: 'sqlite',
    feedback,
    audit,
    replayCache,
    explanations,
    appSessions: new MemorySessionStore(),
    probes,
    async ping() {
      for (const probe of Object.values(probes)) await probe();
    },
    async close() {
      try {
        await audit.close();
      } catch (err) {
        onFlushError(err, 0);
      }
      replayCache.close();
      if (securityDb.open) securityDb.close();
      await feedback.close();
      await explanations.close();
    },
  };
}

/**
 * Sessions in PostgreSQL, sealed under SESSION_KEYS. loadConfig refuses DATABASE_URL without keys; a pool
 * handed in without them (tests, benches that do not use the view) keeps sessions in memory, as before.
 */
function pgSessions(pool: PgPool, config: StoreConfig, logger: Logger | undefined): SessionStore {
  const keys = config.sessionKeys ?? [];
  if (keys.length) return new PgSessionStore(pool, { keys, ...(logger ? { logger } : {}) });
  logger?.warn('no SESSION_KEYS: explanation-view sessions stay in this process (route /app to one replica)');
  return new MemorySessionStore();
}
