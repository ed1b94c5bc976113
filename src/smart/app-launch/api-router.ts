/**
 * The explanation view's back end, /app/api. The page never holds a token: each call names its launch
 * (X-Vigil-Context header, from the URL fragment the callback set) and the server attaches that launch's
 * SMART access token — refreshed when due — to the upstream call:
 *
 *   GET  /app/api/context                the launch context (patient, banner, style, appContext), no tokens
 *   GET  /app/api/fhir/<Type>[/<id>]?…   read/search on the EHR's FHIR server (the `iss`), GET only
 *   GET  /app/api/explanations/<id>      our GET /explanations/{id}, with the same token
 *   GET  /app/api/explanations/<id>/trend  our GET /explanations/{id}/trend, with the same token
 *   GET  /app/api/patients/<id>/explanations/latest  our GET /patients/{id}/explanations/latest, same token
 *   GET  /app/api/models/<id>/card       our GET /models/{id}/card
 *   GET  /app/api/style                  the launch's smart_style_url document (JSON), fetched server-side
 *   POST /app/api/feedback               agree / override, stored in the CDS feedback store (see feedback.ts)
 *
 * Upstream refusals keep their status (401 → the page asks for a re-launch, 403 → "not this patient"),
 * bodies of FHIR errors pass through; nothing here logs a body, a token or a patient id.
 */
import express, { type Request, type Response, type Router } from 'express';
import { BadGatewayError, BadRequestError, UnauthorizedError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import type { FeedbackStore } from '../../storage/feedback-store.js';
import { sessionIdOf } from './cookies.js';
import type { FetchLike } from './discovery.js';
import { FEEDBACK_REASONS, feedbackEntryFrom, parseAppFeedback, feedbackTargetOf } from './feedback.js';
import { grantAfterRefresh, needsRefresh } from './grant.js';
import type { AppGrant, SessionStore } from './session-store.js';
import { refreshAccessToken, type TokenClientOptions } from './token-client.js';

export const CONTEXT_HEADER = 'x-vigil-context';
const CONTEXT_ID = /^[A-Za-z0-9_-]{16,64}$/;
/** FHIR paths the view may read: a type, optionally an id. No operations, no history, no _search POSTs. */
const FHIR_PATH = /^[A-Z][A-Za-z]{1,63}(\/[A-Za-z0-9\-.]{1,64})?$/;
const SAFE_ID = /^[A-Za-z0-9\-._]{1,128}$/;

/** The session's launch has ended (no session, unknown context, or a token that cannot be refreshed). */
export class SessionExpiredError extends UnauthorizedError {
  constructor() {
    super("Your Vigil session has ended. Open Vigil again from the patient's chart.", 'Bearer realm="vigil-app"');
  }
}

export interface ApiRouterOptions {
  sessions: SessionStore;
  sessionTtlSeconds: number;
  /** Absolute origin of this service for the request: where /explanations and /models live. */
  selfBaseUrlOf(req: Request): string;
  feedbackStore: FeedbackStore;
  fetch?: FetchLike;
  tokenClient?: TokenClientOptions;
  logger: Logger;
  now?: () => number;
  upstreamTimeoutMs?: number;
}

interface Located {
  sessionId: string;
  ctx: string;
  grant: AppGrant;
}

export function createApiRouter(options: ApiRouterOptions): Router {
  const now = options.now ?? Date.now;
  const doFetch = options.fetch ?? fetch;
  const timeoutMs = options.upstreamTimeoutMs ?? 10_000;
  const refreshing = new Map<string, Promise<AppGrant>>();
  const router = express.Router();
  router.use(express.json({ limit: '16kb' }));
  router.use((_req, res, next) => {
    res.setHeader('Cache-Control', 'no-store');
    next();
  });

  const locate = async (req: Request): Promise<Located> => {
    const sessionId = sessionIdOf(req);
    const ctx = req.get(CONTEXT_HEADER);
    if (!sessionId || !ctx || !CONTEXT_ID.test(ctx)) throw new SessionExpiredError();
    const session = await options.sessions.get(sessionId);
    const grant = session?.contexts[ctx];
    if (!session || !grant) throw new SessionExpiredError();
    // Sliding expiry: a session in use stays alive (its content untouched: another replica may be refreshing it).
    await options.sessions.touch(sessionId, options.sessionTtlSeconds);
    return { sessionId, ctx, grant };
  };

  /** Refreshes once per launch even when several calls find the token due at the same moment. */
  const refresh = (located: Located): Promise<AppGrant> => {
    const key = `${located.sessionId}:${located.ctx}`;
    const inFlight = refreshing.get(key);
    if (inFlight) return inFlight;
    // Replicas sharing the store take turns (SessionStore.exclusive): refresh tokens rotate and a reused one may
    // revoke the whole grant, so whoever comes second uses the grant the first stored instead of refreshing.
    const exclusive = options.sessions.exclusive?.bind(options.sessions) ?? ((_: string, work: () => Promise<AppGrant>) => work());
    const run = exclusive(key, async () => {
      const grant = (await options.sessions.get(located.sessionId))?.contexts[located.ctx];
      if (!grant) throw new SessionExpiredError();
      if (grant.accessToken !== located.grant.accessToken) return grant;
      if (!grant.refreshToken) throw new SessionExpiredError();
      let next: AppGrant;
      try {
        const token = await refreshAccessToken({ tokenEndpoint: grant.tokenEndpoint, refreshToken: grant.refreshToken, clientId: grant.clientId }, options.tokenClient);
        next = grantAfterRefresh(grant, token, now());
      } catch (err) {
        options.logger.info({ reason: (err as Error).name }, 'app: token refresh failed');
        await dropContext(located);
        throw new SessionExpiredError();
      }
      const session = await options.sessions.get(located.sessionId);
      if (!session || !session.contexts[located.ctx]) throw new SessionExpiredError();
      session.contexts[located.ctx] = next;
      await options.sessions.save(session, options.sessionTtlSeconds);
      return next;
    }).finally(() => refreshing.delete(key));
    refreshing.set(key, run);
    return run;
  };

  const dropContext = async (located: Located): Promise<void> => {
    const session = await options.sessions.get(located.sessionId);
    if (!session) return;
    delete session.contexts[located.ctx];
    session.order = session.order.filter((c) => c !== located.ctx);
    await options.sessions.save(session, options.sessionTtlSeconds);
  };

  /** A grant whose access token is good for the next call. */
  const freshGrant = async (req: Request): Promise<{ located: Located; grant: AppGrant }> => {
    const located = await locate(req);
    const grant = needsRefresh(located.grant, now()) ? await refresh(located) : located.grant;
    return { located, grant };
  };

  /** GET with the grant's token; on 401 the token is refreshed once and the call repeated. */
  const upstreamGet = async (req: Request, url: (grant: AppGrant) => string, accept: string): Promise<globalThis.Response> => {
    let { located, grant } = await freshGrant(req);
    for (let attempt = 0; ; attempt++) {
      let res: globalThis.Response;
      try {
        res = await doFetch(url(grant), {
          headers: { Authorization: `Bearer ${grant.accessToken}`, Accept: accept },
          redirect: 'manual',
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (err) {
        throw new BadGatewayError('The record system could not be reached.', [], { cause: err });
      }
      if (res.status !== 401 || attempt > 0 || !grant.refreshToken) {
        if (res.status === 401) throw new SessionExpiredError();
        return res;
      }
      located = { ...located, grant };
      grant = await refresh(located);
    }
  };

  const relay = async (res: Response, upstream: globalThis.Response, fallbackType: string): Promise<void> => {
    const type = upstream.headers.get('content-type') ?? fallbackType;
    res.status(upstream.status).type(type).send(Buffer.from(await upstream.arrayBuffer()));
  };

  router.get('/context', async (req, res) => {
    const { grant } = await locate(req);
    res.json({
      patient: grant.patient,
      ...(grant.encounter ? { encounter: grant.encounter } : {}),
      needPatientBanner: grant.needPatientBanner,
      hasStyle: grant.smartStyleUrl !== undefined,
      ...(grant.appContext !== undefined ? { appContext: grant.appContext } : {}),
      scope: grant.scope,
      fhirBase: grant.iss,
      feedbackReasons: FEEDBACK_REASONS,
    });
  });

  router.get('/fhir/*path', async (req, res) => {
    const path = ([] as string[]).concat((req.params as { path?: string | string[] }).path ?? []).join('/');
    if (!FHIR_PATH.test(path)) throw new BadRequestError('Only reads and searches of one resource type are allowed.');
    const query = req.originalUrl.includes('?') ? req.originalUrl.slice(req.originalUrl.indexOf('?')) : '';
    const upstream = await upstreamGet(req, (g) => `${g.iss}/${path}${query}`, 'application/fhir+json');
    await relay(res, upstream, 'application/fhir+json');
  });

  router.get('/explanations/:id', async (req, res) => {
    const id = String(req.params.id);
    if (!SAFE_ID.test(id)) throw new BadRequestError('Malformed explanation id.');
    const upstream = await upstreamGet(req, () => `${options.selfBaseUrlOf(req)}/explanations/${encodeURIComponent(id)}`, 'application/json');
    await relay(res, upstream, 'application/json');
  });

  router.get('/explanations/:id/trend', async (req, res) => {
    const id = String(req.params.id);
    if (!SAFE_ID.test(id)) throw new BadRequestError('Malformed explanation id.');
    const upstream = await upstreamGet(req, () => `${options.selfBaseUrlOf(req)}/explanations/${encodeURIComponent(id)}/trend`, 'application/json');
    await relay(res, upstream, 'application/json');
  });

  router.get('/patients/:id/explanations/latest', async (req, res) => {
    const id = String(req.params.id);
    if (!SAFE_ID.test(id)) throw new BadRequestError('Malformed patient id.');
    const upstream = await upstreamGet(req, () => `${options.selfBaseUrlOf(req)}/patients/${encodeURIComponent(id)}/explanations/latest`, 'application/json');
    await relay(res, upstream, 'application/json');
  });

  router.get('/models/:id/card', async (req, res) => {
    const id = String(req.params.id);
    if (!SAFE_ID.test(id)) throw new BadRequestError('Malformed model id.');
    const upstream = await upstreamGet(req, () => `${options.selfBaseUrlOf(req)}/models/${encodeURIComponent(id)}/card`, 'application/json');
    await relay(res, upstream, 'application/json');
  });

  router.get('/style', async (req, res) => {
    const { grant } = await locate(req);
    if (!grant.smartStyleUrl || !/^https?:\/\//.test(grant.smartStyleUrl)) {
      res.json({});
      return;
    }
    try {
      const upstream = await doFetch(grant.smartStyleUrl, { headers: { Accept: 'application/json' }, redirect: 'manual', signal: AbortSignal.timeout(3000) });
      const text = upstream.ok ? await upstream.text() : '{}';
      const parsed: unknown = text.length <= 16_384 ? JSON.parse(text) : {};
      res.json(parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? parsed : {});
    } catch {
      // A style is a nicety: without it the view keeps its own accessible defaults.
      res.json({});
    }
  });

  router.post('/feedback', async (req, res) => {
    const input = parseAppFeedback(req.body);
    // Reading the explanation with the launch's token is the access check: another patient's id is refused.
    const upstream = await upstreamGet(req, () => `${options.selfBaseUrlOf(req)}/explanations/${encodeURIComponent(input.explanationId)}`, 'application/json');
    if (!upstream.ok) {
      await relay(res, upstream, 'application/json');
      return;
    }
    const record = (await upstream.json().catch(() => undefined)) as unknown;
    const target = feedbackTargetOf(record, input);
    const receivedAt = new Date(now()).toISOString();
    await options.feedbackStore.add(target.serviceId, [feedbackEntryFrom(input, target.card, receivedAt)], { receivedAt });
    options.logger.info({ serviceId: target.serviceId, outcome: input.outcome }, 'app feedback stored');
    res.status(201).json({ stored: true, serviceId: target.serviceId, card: target.card, outcome: input.outcome });
  });

  return router;
}
