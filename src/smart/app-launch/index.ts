/**
 * The explanation view as one express router for /app: SMART App Launch client (launch-router.ts), the
 * token-holding API the page calls (api-router.ts) and the built page (static.ts). Assembled here so
 * src/app.ts mounts it in one line. Spec map: docs/explanation-view.md.
 */
import express, { type Request, type Router } from 'express';
import type { Config } from '../../config.js';
import { baseUrlOf } from '../../http/base-url.js';
import type { Logger } from '../../logger.js';
import type { FeedbackStore } from '../../storage/feedback-store.js';
import { createApiRouter } from './api-router.js';
import { DiscoveryCache, normalizeIssuer, type FetchLike } from './discovery.js';
import { createLaunchRouter, launchErrorHandler } from './launch-router.js';
import { MemorySessionStore, type SessionStore } from './session-store.js';
import { createStaticRouter, viewSecurityHeaders, webDistDir } from './static.js';
import { jsonErrorHandler } from '../../http/error-handler.js';

export { MemorySessionStore, type SessionStore, type AppSession, type AppGrant, type PendingLaunch } from './session-store.js';
export { APP_SCOPES, scopesFor, buildAuthorizeUrl } from './authorize.js';
export { assertAllowedIssuer, discoverSmartConfiguration } from './discovery.js';
export { exchangeCode, refreshAccessToken } from './token-client.js';
export { FEEDBACK_REASONS, VIGIL_EXPLANATION_OVERRIDE_REASON } from './feedback.js';
export { SESSION_COOKIE } from './cookies.js';
export { CONTEXT_HEADER } from './api-router.js';

export interface ExplanationAppOptions {
  config: Pick<Config, 'publicBaseUrl' | 'sandbox' | 'smartClientId' | 'smartAllowedIssuers' | 'appSessionTtlSeconds'>;
  logger: Logger;
  feedbackStore: FeedbackStore;
  /** Default: in memory (one process). */
  sessions?: SessionStore;
  /** Folder of the built page. Default <repo>/dist/web. */
  webDir?: string;
  /** For tests: the HTTP client used for discovery, token and upstream calls. */
  fetch?: FetchLike;
  now?: () => number;
}

export interface ExplanationApp {
  router: Router;
  sessions: SessionStore;
}

/** The SMART client registration the sandbox authorization server needs for this app. */
export function explanationAppClient(clientId: string): { clientId: string; redirectUris: string[] } {
  return { clientId, redirectUris: ['/app/callback'] };
}

/** This server as reached on this connection's local socket. */
export function loopbackOrigin(req: Request): string {
  const addr = req.socket.localAddress ?? '127.0.0.1';
  const host = addr === '::' || addr === '0.0.0.0' ? '127.0.0.1' : addr.startsWith('::ffff:') ? addr.slice(7) : addr.includes(':') ? `[${addr}]` : addr;
  return `http://${host}:${req.socket.localPort}`;
}

export function createExplanationApp(options: ExplanationAppOptions): ExplanationApp {
  const { config, logger } = options;
  const sessions = options.sessions ?? new MemorySessionStore();
  const base = (req: Request) => baseUrlOf(req, config.publicBaseUrl);
  const allowed = config.smartAllowedIssuers.map(normalizeIssuer);
  const fetchOpts = options.fetch ? { fetch: options.fetch } : {};
  const now = options.now ? { now: options.now } : {};

  const router = express.Router();
  router.use(viewSecurityHeaders(allowed.map((iss) => new URL(iss).origin)));
  const launch = express.Router();
  launch.use(
    createLaunchRouter({
      clientId: config.smartClientId,
      baseUrlOf: base,
      // The sandbox's FHIR base follows the Host it is reached at, like every sandbox URL.
      allowedIssuers: (req) => (config.sandbox ? [...allowed, `${base(req)}/sandbox/fhir`] : allowed),
      discovery: new DiscoveryCache(fetchOpts),
      sessions,
      sessionTtlSeconds: config.appSessionTtlSeconds,
      tokenClient: fetchOpts,
      logger,
      ...now,
    }),
  );
  launch.use(launchErrorHandler(logger));
  router.use(launch);

  const api = express.Router();
  api.use(
    createApiRouter({
      sessions,
      sessionTtlSeconds: config.appSessionTtlSeconds,
      // Our own /explanations and /models: with PUBLIC_BASE_URL the token audience does not depend on the Host, so
      // call ourselves over loopback (no hairpin through a proxy); without it, the Host-derived base reached us.
      selfBaseUrlOf: (req) => (config.publicBaseUrl ? loopbackOrigin(req) : base(req)),
      feedbackStore: options.feedbackStore,
      tokenClient: fetchOpts,
      logger,
      ...fetchOpts,
      ...now,
    }),
  );
  api.use(jsonErrorHandler(logger));
  router.use('/api', api);
  router.use(createStaticRouter(webDistDir(options.webDir)));
  return { router, sessions };
}
