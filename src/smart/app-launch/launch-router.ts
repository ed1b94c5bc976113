/**
 * SMART App Launch v2.2 client routes of the explanation view (https://hl7.org/fhir/smart-app-launch/app-launch.html):
 *
 *   GET /app/launch?iss=…&launch=…   EHR launch (§Launch App: EHR Launch)
 *   GET /app/launch?iss=…            standalone launch (§Launch App: Standalone Launch), asks `launch/patient`
 *   GET /app/callback?code=…&state=… §Obtain authorization code (redirect back), then §Obtain access token
 *
 * Client type: a *public* client with PKCE S256 whose OAuth work happens on the server: no client secret to
 * provision per EHR, and the tokens still never reach the browser (held in the server-side session; the page
 * talks to /app/api). `state` is 256 random bits bound to the browser's session cookie; a callback whose
 * state this browser did not start is refused before any token request.
 */
import { randomBytes } from 'node:crypto';
import express, { type ErrorRequestHandler, type Request, type Response, type Router } from 'express';
import { BadRequestError, ForbiddenError, UnauthorizedError, isVigilError, VigilError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { newPkcePair } from '../pkce.js';
import { buildAuthorizeUrl, scopesFor } from './authorize.js';
import { sessionIdOf, setSessionCookie } from './cookies.js';
import { assertAllowedIssuer, type DiscoveryCache } from './discovery.js';
import { grantFromTokenResponse } from './grant.js';
import { launchErrorPage, RELAUNCH_ACTION, type LaunchProblem } from './pages.js';
import type { AppSession, SessionStore } from './session-store.js';
import { exchangeCode, GrantRefusedError, type TokenClientOptions } from './token-client.js';

/** A launch must come back from the authorization server within this time (sign-in + picker). */
const PENDING_TTL_MS = 10 * 60_000;
/** Launches a browser may have in flight at once; more means something is looping. */
const MAX_PENDING = 8;
/** Grants (open charts) kept per browser session; the oldest is dropped beyond this. */
export const MAX_CONTEXTS = 6;

export interface LaunchRouterOptions {
  clientId: string;
  /** Absolute origin this app is reached at, for the request (PUBLIC_BASE_URL or the Host). */
  baseUrlOf(req: Request): string;
  /** FHIR bases allowed to launch the app, for the request (the sandbox's depends on the Host). */
  allowedIssuers(req: Request): string[];
  discovery: DiscoveryCache;
  sessions: SessionStore;
  sessionTtlSeconds: number;
  tokenClient?: TokenClientOptions;
  logger: Logger;
  now?: () => number;
}

const random = (bytes: number) => randomBytes(bytes).toString('base64url');

export function newSession(): AppSession {
  return { id: random(32), pending: {}, contexts: {}, order: [] };
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function prunePending(session: AppSession, now: number): void {
  const entries = Object.entries(session.pending).filter(([, p]) => p.expiresAt > now);
  session.pending = Object.fromEntries(entries.slice(-MAX_PENDING + 1));
}

export function createLaunchRouter(options: LaunchRouterOptions): Router {
  const now = options.now ?? Date.now;
  const router = express.Router();

  router.get('/launch', async (req, res) => {
    const q = req.query as Record<string, unknown>;
    const iss = assertAllowedIssuer(str(q.iss), options.allowedIssuers(req));
    const launch = str(q.launch);
    const smart = await options.discovery.get(iss);
    const kind = launch ? 'ehr' : 'standalone';
    const baseUrl = options.baseUrlOf(req);
    const t = now();

    const existingId = sessionIdOf(req);
    const session = (existingId ? await options.sessions.get(existingId) : undefined) ?? newSession();
    prunePending(session, t);
    const state = random(32);
    const pkce = newPkcePair();
    const redirectUri = `${baseUrl}/app/callback`;
    session.pending[state] = {
      iss,
      tokenEndpoint: smart.token_endpoint,
      redirectUri,
      clientId: options.clientId,
      codeVerifier: pkce.verifier,
      expiresAt: t + PENDING_TTL_MS,
    };
    await options.sessions.save(session, options.sessionTtlSeconds);
    setSessionCookie(res, session.id, { baseUrl, maxAgeSeconds: options.sessionTtlSeconds });
    res.setHeader('Cache-Control', 'no-store');
    res.redirect(
      302,
      buildAuthorizeUrl({
        authorizationEndpoint: smart.authorization_endpoint,
        clientId: options.clientId,
        redirectUri,
        scopes: scopesFor(kind),
        state,
        aud: iss,
        codeChallenge: pkce.challenge,
        ...(launch ? { launch } : {}),
      }),
    );
  });

  router.get('/callback', async (req, res) => {
    const q = req.query as Record<string, unknown>;
    const state = str(q.state);
    const sessionId = sessionIdOf(req);
    const session = sessionId ? await options.sessions.get(sessionId) : undefined;
    if (!session) throw new UnauthorizedError('No sign-in was started from this browser, or it has expired.');
    const pending = state ? session.pending[state] : undefined;
    if (!pending || !state) {
      options.logger.warn({ reqId: req.id, reason: 'state_mismatch' }, 'app launch: callback refused');
      throw new ForbiddenError('The sign-in answer does not belong to a sign-in started from this browser.');
    }
    // state is single-use: whatever happens next, this answer cannot be replayed.
    delete session.pending[state];
    await options.sessions.save(session, options.sessionTtlSeconds);
    const t = now();
    if (pending.expiresAt <= t) throw new UnauthorizedError('The sign-in took too long and has expired.');
    const oauthError = str(q.error);
    if (oauthError) {
      options.logger.info({ reqId: req.id, oauthError }, 'app launch: authorization refused');
      throw new ForbiddenError(
        oauthError === 'access_denied' ? 'Access to the patient record was not allowed.' : 'The EHR did not allow the app to open.',
      );
    }
    const code = str(q.code);
    if (!code) throw new BadRequestError('The EHR sign-in answer had no authorization code.');

    const token = await exchangeCode(
      { tokenEndpoint: pending.tokenEndpoint, code, redirectUri: pending.redirectUri, clientId: pending.clientId, codeVerifier: pending.codeVerifier },
      options.tokenClient,
    );
    const grant = grantFromTokenResponse(token, pending, t);
    if (!grant.patient) throw new BadRequestError('The EHR did not say which patient to show.');

    const ctx = random(16);
    session.contexts[ctx] = grant;
    session.order = [...session.order.filter((c) => c in session.contexts), ctx];
    while (session.order.length > MAX_CONTEXTS) delete session.contexts[session.order.shift()!];
    await options.sessions.save(session, options.sessionTtlSeconds);
    setSessionCookie(res, session.id, { baseUrl: options.baseUrlOf(req), maxAgeSeconds: options.sessionTtlSeconds });
    res.setHeader('Cache-Control', 'no-store');
    // The context id rides in the fragment: never sent to a server, so not in access logs or Referer headers.
    res.redirect(303, `${options.baseUrlOf(req)}/app/#ctx=${ctx}`);
  });

  return router;
}

/** Clinician-facing wording for each way a launch can fail. */
export function launchProblemFor(err: VigilError): LaunchProblem {
  if (err instanceof GrantRefusedError) {
    return { title: 'Sign-in was not completed', message: 'The EHR did not accept the sign-in (it may have been used already or has expired).', action: RELAUNCH_ACTION };
  }
  if (err.status === 401) return { title: 'Your session has ended', message: err.message, action: RELAUNCH_ACTION };
  if (err.status === 403) return { title: 'The app could not be opened', message: err.message, action: RELAUNCH_ACTION };
  if (err.status === 400) return { title: 'The app could not be opened', message: err.message, action: RELAUNCH_ACTION };
  if (err.status === 502 || err.status === 503 || err.status === 504) {
    return { title: 'The EHR could not be reached', message: err.message, action: 'Try again in a minute; if it keeps failing, contact the help desk.' };
  }
  return { title: 'Something went wrong', message: 'Vigil could not open the explanation view.', action: 'Try again; if it keeps failing, contact the help desk.' };
}

/** Errors on the launch routes become a page, not JSON: a person is looking at this window. */
export function launchErrorHandler(logger: Logger): ErrorRequestHandler {
  return (original, req, res: Response, next) => {
    if (res.headersSent) return next(original);
    const err = isVigilError(original) ? original : new VigilError('Internal server error', [], { cause: original });
    if (err.status >= 500 && !isVigilError(original)) {
      const cause = original instanceof Error ? original : undefined;
      logger.error({ reqId: req.id, errName: cause?.name, errMessage: cause?.message, stack: cause?.stack }, 'app launch failed');
    }
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'self'; base-uri 'none'");
    res.status(err.status).type('html').send(launchErrorPage(launchProblemFor(err)));
  };
}
