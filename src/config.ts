/**
 * Every environment variable Vigil reads, its default and its meaning, in one place.
 * The README's configuration table mirrors this file; keep them in step.
 */
import path from 'node:path';

export interface Config {
  /** PORT — HTTP port for the CDS service, the sandbox EHR and the explanation view. Default 8080. */
  port: number;
  /** HOST — interface to bind. Default 0.0.0.0. */
  host: string;
  /**
   * PUBLIC_BASE_URL — the absolute URL at which EHRs reach this service (used for card links, the
   * sandbox's fhirServer and JWT audiences). Default: derived per request from its Host header,
   * which is right for a single host; set it behind a proxy or load balancer.
   */
  publicBaseUrl: string | undefined;
  /** SANDBOX — "on" mounts the embedded sandbox EHR under /sandbox; "off" for production. Default on. */
  sandbox: boolean;
  /** DATA_DIR — directory for durable state (SQLite files). Default ./var. */
  dataDir: string;
  /**
   * DATABASE_URL — PostgreSQL connection URL (postgres://user:password@host:5432/db). When set, feedback,
   * audit events, the jti replay cache, HL7 queues and explanation records live there, shared by every
   * replica; when unset, in SQLite files under DATA_DIR (one instance). Default unset.
   */
  databaseUrl: string | undefined;
  /** DATABASE_POOL_MAX — most PostgreSQL connections one replica opens (DATABASE_URL). Default 10. */
  databasePoolMax: number;
  /** LOG_LEVEL — pino level (fatal, error, warn, info, debug, trace, silent). Default info. */
  logLevel: string;
  /**
   * CDS_CLIENTS_FILE — JSON file listing trusted CDS clients (issuer, JWKS URL or inline JWKS,
   * allowed services). Default: none (only the sandbox, when enabled, is trusted).
   */
  cdsClientsFile: string | undefined;
  /** PREFETCH_TIMEOUT_MS — time-out for each FHIR read made when a prefetch key is missing. Default 5000. */
  prefetchTimeoutMs: number;
  /** HOOK_DEADLINE_MS — overall budget for answering one hook call. Default 10000. */
  hookDeadlineMs: number;
  /** BODY_LIMIT — maximum JSON request body size. Default 5mb (prefetch bundles can be large). */
  bodyLimit: string;
  /**
   * RATE_LIMIT_RPS — sustained requests per second allowed per client (the verified CDS client issuer,
   * else the IP address) on /cds-services; over it → 429 with Retry-After. 0 turns it off. Default 100.
   * Per replica: behind a load balancer the effective budget is replicas × this (docs/deploy.md).
   */
  rateLimitRps: number;
  /** RATE_LIMIT_BURST — requests a client may send at once after a quiet period. Default 2 × RATE_LIMIT_RPS. */
  rateLimitBurst: number;
  /**
   * TRUST_PROXY — which proxies' X-Forwarded-For/-Proto to believe (express "trust proxy": loopback,
   * a comma-separated list of addresses/CIDRs, or a hop count). Sets req.ip for rate limits and the
   * protocol for derived URLs. Default loopback.
   */
  trustProxy: string | number;
  /**
   * HTTP_KEEP_ALIVE_MS — how long an idle keep-alive connection stays open. Must exceed the load
   * balancer's idle time-out (60 s on common cloud balancers), or the balancer reuses a socket Node has
   * just closed and the EHR gets a 502. Default 65000.
   */
  httpKeepAliveMs: number;
  /**
   * VIGIL_BACKEND — TensorFlow.js back end for the models: tensorflow-gpu, tensorflow (native CPU), wasm,
   * cpu, or auto. Default auto = the first of that list that loads (src/models/backend); a forced back end
   * that cannot load stops start-up instead of falling back.
   */
  backend: 'auto' | 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';
  /**
   * WASM_FAST_KERNELS — on the wasm back end, run transposed matrix products and 1-D convolution input
   * gradients on XNNPACK (src/models/backend/wasm-matmul.ts, src/models/ecg/wasm-conv-grad.ts) in the serving
   * process and its explanation thread; training never installs them. Explanations were identical with and
   * without on the sandbox patients and cost less (docs/performance.md, cold path). Default on.
   */
  wasmFastKernels: boolean;
  /** MODELS_DIR — folder with one sub-folder of weights and metadata per model. Default ./models. */
  modelsDir: string;
  /** MODEL_MAX_BATCH — most concurrent predictions merged into one forward pass. Default 32. */
  modelMaxBatch: number;
  /** MODEL_MAX_WAIT_MS — longest a prediction waits for others to join its batch. Default 2. */
  modelMaxWaitMs: number;
  /**
   * CDS_JWT_ALGORITHMS — comma-separated JWS algorithms accepted on CDS client JWTs. Default
   * ES384,RS384,ES256,RS256. Only asymmetric algorithms (ES*, RS*, PS*, EdDSA) may be listed: `none` and HMAC are refused
   * at start-up (CDS Hooks 2.0.1 §JWT Signing Algorithm).
   */
  cdsJwtAlgorithms: string[];
  /** CDS_JWT_CLOCK_SKEW_S — seconds of clock difference tolerated on exp, nbf and iat. Default 60. */
  cdsJwtClockSkewSeconds: number;
  /** CDS_JWT_MAX_AGE_S — oldest `iat` accepted, in seconds; also bounds how long a jti is remembered. Default 300. */
  cdsJwtMaxAgeSeconds: number;
  /** JWKS_COOLDOWN_S — least time between two fetches of one client's JWKS URL (unknown-kid refresh). Default 30. */
  jwksCooldownSeconds: number;
  /** JWKS_MAX_AGE_S — how long a fetched JWKS is used before it is fetched again. Default 600. */
  jwksMaxAgeSeconds: number;
  /**
   * SANDBOX_FHIR_AUTH — "on": the sandbox FHIR server requires an access token from the sandbox SMART
   * authorization server (/sandbox/auth) and enforces its scopes and patient. "off" leaves it open. Default on.
   */
  sandboxFhirAuth: boolean;
  /**
   * ADMIN_TOKEN — bearer token for GET /admin/audit (the AuditEvent trail). Default: none, and the admin
   * routes are not mounted. Use a long random value; it is compared in constant time.
   */
  adminToken: string | undefined;
  /** HL7_PORT — TCP port of the HL7 v2 MLLP listener; "off" disables it. Default 2575 (docs/hl7.md). */
  hl7Port: number | undefined;
  /**
   * HL7_DURABLE — "on": every inbound message is committed to SQLite (DATA_DIR/hl7.sqlite, fsynced), or
   * to PostgreSQL when DATABASE_URL is set, before its ACK. "off" keeps the queue in memory — benchmarks only, ACKed messages die with the process. Default on.
   */
  hl7Durable: boolean;
  /** HL7_MAX_MESSAGE_BYTES — largest accepted HL7 message; larger frames are answered AR. Default 1048576. */
  hl7MaxMessageBytes: number;
  /** HL7_LOCAL_CODES_FILE — local OBX-3 code / assigning-authority map. Default: the shipped src/hl7/local-codes.json. */
  hl7LocalCodesFile: string | undefined;
  /** HL7_OUT_HOST — where ORU^R01 results are sent over MLLP. Default: none (outbound off). */
  hl7OutHost: string | undefined;
  /** HL7_OUT_PORT — port for HL7_OUT_HOST. Default: none (outbound off). */
  hl7OutPort: number | undefined;
  /**
   * HL7_RETENTION_DAYS — applied and dead-lettered inbound messages, and sent or failed outbound results, are
   * deleted this many days after arrival (at start-up, then hourly; one replica at a time on PostgreSQL);
   * pending messages never are. A message resent after that is applied again (docs/hl7.md "Retention").
   * 0 keeps them forever. Default 7.
   */
  hl7RetentionDays: number;
  /** FHIR_STORE_URL — FHIR R4 server HL7 data are written to. Default: the sandbox's in-process FHIR store. */
  fhirStoreUrl: string | undefined;
  /** FHIR_STORE_TOKEN — static bearer token for FHIR_STORE_URL (a SMART token provider replaces it when wired). Default none. */
  fhirStoreToken: string | undefined;
  /**
   * SMART_CLIENT_ID — OAuth client id of the explanation view (/app), a public SMART client using PKCE that
   * keeps its tokens server-side. Register it with each EHR's authorization server (redirect URI
   * <PUBLIC_BASE_URL>/app/callback). Default vigil-explain (registered with the sandbox automatically).
   */
  smartClientId: string;
  /**
   * SMART_ALLOWED_ISSUERS — comma-separated FHIR base URLs (`iss`) the explanation view may be launched from.
   * The sandbox FHIR base is always allowed when SANDBOX=on; any other issuer is refused. Default none.
   */
  smartAllowedIssuers: string[];
  /** APP_SESSION_TTL_S — idle lifetime of an explanation-view session (server-side, cookie bound). Default 28800 (8 h). */
  appSessionTtlSeconds: number;
  /**
   * SESSION_KEYS — comma-separated base64 32-byte keys (`openssl rand -base64 32`) that seal the explanation
   * view's sessions (they hold SMART access and refresh tokens) with AES-256-GCM in PostgreSQL. The first seals,
   * every one opens (rotation: add the new key last, then move it first, then drop the old one after
   * APP_SESSION_TTL_S; docs/deploy.md). Required with DATABASE_URL (start-up fails without it); unused
   * without it (sessions stay in memory). Default none.
   */
  sessionKeys: Buffer[];
  /**
   * EXPLANATION_RETENTION_DAYS — explanation records older than this many days are deleted (at start-up, then
   * hourly, by every replica); 0 keeps them forever. Default 30.
   */
  explanationRetentionDays: number;
  /**
   * PRECOMPUTE — "on": score and explain the deterioration model in the background when a patient's data
   * change (HL7 ORU applied to the FHIR store), so patient-view serves a cached explanation of exactly
   * its data (docs/explanations.md). Needs the sandbox store or FHIR_STORE_URL to read from. Default on.
   */
  precompute: boolean;
  /** PRECOMPUTE_POLL_S — re-score patients the worker has seen this often (the window moves each hour); 0 = off. Default 600. */
  precomputePollSeconds: number;
  /**
   * EXPLAIN_THREAD — where explanations are computed: "precompute" (default) runs the precompute worker's on
   * a worker thread with its own tfjs back end (src/precompute/thread-executor.ts, started on first use), so
   * they never stall hook calls on the main event loop, while a hook's own cache miss is explained on the
   * main thread; "all" sends the hooks' misses to that thread too; "off" computes everything on the main thread.
   */
  explainThread: 'off' | 'precompute' | 'all';
  /** EXPLANATION_CACHE_SIZE — explanations kept in memory for reuse (exact data-version match only). Default 1000. */
  explanationCacheSize: number;
  /**
   * EHR_TOKEN_AUDIENCE — comma-separated `aud` values accepted on access tokens from the EHRs in
   * SMART_ALLOWED_ISSUERS (our own endpoints, src/smart/token-verifier). Default: the issuing EHR's FHIR base,
   * which is what a SMART app (the explanation view) asks for; set it to our resource identifier when the
   * EHR's authorization server issues tokens for Vigil itself.
   */
  ehrTokenAudience: string[] | undefined;
  /** EHR_INTROSPECTION_CLIENT_ID — our client id at the EHR's RFC 7662 introspection endpoint. Default: none (opaque tokens refused). */
  ehrIntrospectionClientId: string | undefined;
  /** EHR_INTROSPECTION_CLIENT_SECRET — secret for client_secret_basic at the introspection endpoint (from a Secret). Default none. */
  ehrIntrospectionClientSecret: string | undefined;
  /** EHR_INTROSPECTION_CLIENT_SECRET_FILE — file holding that secret (a mounted Secret); wins over the variable. Default none. */
  ehrIntrospectionClientSecretFile: string | undefined;
  /** EHR_INTROSPECTION_PRIVATE_KEY_FILE — private JWK (with alg RS256/RS384/ES256/ES384, kid) for private_key_jwt; wins over a secret. Default none. */
  ehrIntrospectionPrivateKeyFile: string | undefined;
  /** EHR_INTROSPECTION_CACHE_S — how long an "active" introspection answer is reused (never past the token's exp); 0 = never. Default 60. */
  ehrIntrospectionCacheSeconds: number;
}

type Env = Record<string, string | undefined>;

function intFrom(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) {
    throw new Error(`Environment variable ${name} must be a non-negative integer, got "${raw}"`);
  }
  return value;
}

function flagFrom(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name]?.trim().toLowerCase();
  if (raw === undefined || raw === '') return fallback;
  if (['on', 'true', '1', 'yes'].includes(raw)) return true;
  if (['off', 'false', '0', 'no'].includes(raw)) return false;
  throw new Error(`Environment variable ${name} must be on or off, got "${env[name]}"`);
}

const EXPLAIN_THREADS = ['off', 'precompute', 'all'] as const;

function explainThreadFrom(env: Env): Config['explainThread'] {
  const raw = env.EXPLAIN_THREAD?.trim().toLowerCase() || 'precompute';
  if (!(EXPLAIN_THREADS as readonly string[]).includes(raw)) throw new Error(`EXPLAIN_THREAD must be one of ${EXPLAIN_THREADS.join(', ')}, got "${env.EXPLAIN_THREAD}"`);
  return raw as Config['explainThread'];
}

const BACKENDS = ['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] as const;

function backendFrom(env: Env): Config['backend'] {
  const raw = env.VIGIL_BACKEND?.trim().toLowerCase() || 'auto';
  const found = BACKENDS.find((b) => b === raw);
  if (!found) throw new Error(`Environment variable VIGIL_BACKEND must be one of ${BACKENDS.join(', ')}, got "${raw}"`);
  return found;
}

/** Asymmetric JWS algorithms only: a symmetric or unsigned JWT cannot identify a CDS client. */
const ASYMMETRIC_JWS = /^(ES(256|384|512)|RS(256|384|512)|PS(256|384|512)|EdDSA|Ed25519)$/;

function jwsAlgorithmsFrom(env: Env): string[] {
  const raw = env.CDS_JWT_ALGORITHMS?.trim() || 'ES384,RS384,ES256,RS256';
  const algs = raw.split(',').map((a) => a.trim()).filter(Boolean);
  const bad = algs.filter((a) => !ASYMMETRIC_JWS.test(a));
  if (bad.length || !algs.length) {
    throw new Error(`Environment variable CDS_JWT_ALGORITHMS may list only asymmetric JWS algorithms, got "${bad.join(',') || raw}"`);
  }
  return algs;
}

function portOrOff(env: Env, name: string, fallback: number | undefined): number | undefined {
  const raw = env[name]?.trim().toLowerCase();
  if (raw === 'off') return undefined;
  const port = intFrom(env, name, fallback ?? -1);
  if (port === -1) return undefined;
  if (port > 65535) throw new Error(`Environment variable ${name} must be a TCP port or off, got "${env[name]}"`);
  return port;
}

/** SESSION_KEYS as 32-byte keys; the error names the position of a bad key, never its text. */
function sessionKeysFrom(env: Env): Buffer[] {
  const raw = (env.SESSION_KEYS ?? '').split(',').map((k) => k.trim()).filter(Boolean);
  const keys = raw.map((text, i) => {
    const key = /^[A-Za-z0-9+/_-]{43}=?$/.test(text) ? Buffer.from(text, text.includes('-') || text.includes('_') ? 'base64url' : 'base64') : undefined;
    if (key?.length !== 32) throw new Error(`SESSION_KEYS: key ${i + 1} is not a base64-encoded 32-byte key (make one with: openssl rand -base64 32)`);
    return key;
  });
  if (env.DATABASE_URL && !keys.length) {
    throw new Error('SESSION_KEYS is required with DATABASE_URL: explanation-view sessions (SMART tokens) are stored encrypted in PostgreSQL (make a key with: openssl rand -base64 32)');
  }
  return keys;
}

function trustProxyFrom(env: Env): string | number {
  const raw = env.TRUST_PROXY?.trim() || 'loopback';
  return /^\d+$/.test(raw) ? Number(raw) : raw;
}

/** Reads the configuration from an environment (process.env by default). Throws on malformed values. */
export function loadConfig(env: Env = process.env): Config {
  const port = intFrom(env, 'PORT', 8080);
  return {
    port,
    host: env.HOST || '0.0.0.0',
    publicBaseUrl: env.PUBLIC_BASE_URL ? env.PUBLIC_BASE_URL.replace(/\/+$/, '') : undefined,
    sandbox: flagFrom(env, 'SANDBOX', true),
    dataDir: path.resolve(env.DATA_DIR || 'var'),
    databaseUrl: env.DATABASE_URL || undefined,
    databasePoolMax: Math.max(1, intFrom(env, 'DATABASE_POOL_MAX', 10)),
    logLevel: env.LOG_LEVEL || 'info',
    cdsClientsFile: env.CDS_CLIENTS_FILE || undefined,
    prefetchTimeoutMs: intFrom(env, 'PREFETCH_TIMEOUT_MS', 5000),
    hookDeadlineMs: intFrom(env, 'HOOK_DEADLINE_MS', 10000),
    bodyLimit: env.BODY_LIMIT || '5mb',
    rateLimitRps: intFrom(env, 'RATE_LIMIT_RPS', 100),
    rateLimitBurst: Math.max(1, intFrom(env, 'RATE_LIMIT_BURST', 2 * intFrom(env, 'RATE_LIMIT_RPS', 100))),
    trustProxy: trustProxyFrom(env),
    httpKeepAliveMs: intFrom(env, 'HTTP_KEEP_ALIVE_MS', 65000),
    backend: backendFrom(env),
    wasmFastKernels: flagFrom(env, 'WASM_FAST_KERNELS', true),
    modelsDir: path.resolve(env.MODELS_DIR || 'models'),
    modelMaxBatch: Math.max(1, intFrom(env, 'MODEL_MAX_BATCH', 32)),
    modelMaxWaitMs: intFrom(env, 'MODEL_MAX_WAIT_MS', 2),
    cdsJwtAlgorithms: jwsAlgorithmsFrom(env),
    cdsJwtClockSkewSeconds: intFrom(env, 'CDS_JWT_CLOCK_SKEW_S', 60),
    cdsJwtMaxAgeSeconds: intFrom(env, 'CDS_JWT_MAX_AGE_S', 300),
    jwksCooldownSeconds: intFrom(env, 'JWKS_COOLDOWN_S', 30),
    jwksMaxAgeSeconds: intFrom(env, 'JWKS_MAX_AGE_S', 600),
    sandboxFhirAuth: flagFrom(env, 'SANDBOX_FHIR_AUTH', true),
    adminToken: env.ADMIN_TOKEN || undefined,
    hl7Port: portOrOff(env, 'HL7_PORT', 2575),
    hl7Durable: flagFrom(env, 'HL7_DURABLE', true),
    hl7MaxMessageBytes: Math.max(1024, intFrom(env, 'HL7_MAX_MESSAGE_BYTES', 1024 * 1024)),
    hl7LocalCodesFile: env.HL7_LOCAL_CODES_FILE ? path.resolve(env.HL7_LOCAL_CODES_FILE) : undefined,
    hl7OutHost: env.HL7_OUT_HOST || undefined,
    hl7OutPort: portOrOff(env, 'HL7_OUT_PORT', undefined),
    hl7RetentionDays: Math.max(0, intFrom(env, 'HL7_RETENTION_DAYS', 7)),
    fhirStoreUrl: env.FHIR_STORE_URL ? env.FHIR_STORE_URL.replace(/\/+$/, '') : undefined,
    fhirStoreToken: env.FHIR_STORE_TOKEN || undefined,
    smartClientId: env.SMART_CLIENT_ID || 'vigil-explain',
    smartAllowedIssuers: (env.SMART_ALLOWED_ISSUERS ?? '').split(',').map((s) => s.trim().replace(/\/+$/, '')).filter(Boolean),
    appSessionTtlSeconds: Math.max(60, intFrom(env, 'APP_SESSION_TTL_S', 8 * 3600)),
    sessionKeys: sessionKeysFrom(env),
    explanationRetentionDays: intFrom(env, 'EXPLANATION_RETENTION_DAYS', 30),
    precompute: flagFrom(env, 'PRECOMPUTE', true),
    precomputePollSeconds: intFrom(env, 'PRECOMPUTE_POLL_S', 600),
    explainThread: explainThreadFrom(env),
    explanationCacheSize: Math.max(1, intFrom(env, 'EXPLANATION_CACHE_SIZE', 1000)),
    ehrTokenAudience: env.EHR_TOKEN_AUDIENCE?.trim()
      ? env.EHR_TOKEN_AUDIENCE.split(',').map((s) => s.trim()).filter(Boolean)
      : undefined,
    ehrIntrospectionClientId: env.EHR_INTROSPECTION_CLIENT_ID || undefined,
    ehrIntrospectionClientSecret: env.EHR_INTROSPECTION_CLIENT_SECRET || undefined,
    ehrIntrospectionClientSecretFile: env.EHR_INTROSPECTION_CLIENT_SECRET_FILE ? path.resolve(env.EHR_INTROSPECTION_CLIENT_SECRET_FILE) : undefined,
    ehrIntrospectionPrivateKeyFile: env.EHR_INTROSPECTION_PRIVATE_KEY_FILE ? path.resolve(env.EHR_INTROSPECTION_PRIVATE_KEY_FILE) : undefined,
    ehrIntrospectionCacheSeconds: intFrom(env, 'EHR_INTROSPECTION_CACHE_S', 60),
  };
}
