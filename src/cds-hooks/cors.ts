/**
 * CORS for browser-based CDS Clients — CDS Hooks 2.0.1 §Cross-Origin Resource Sharing
 * (https://cds-hooks.hl7.org/2.0/#cross-origin-resource-sharing): "CDS Services and browser-based CDS
 * Clients will require CORS support." Applied to discovery, service and feedback routes.
 *
 * The caller's Origin is echoed (with `Vary: Origin`) or `*` when there is none. No credentials mode:
 * CDS Clients authenticate with a JWT in the Authorization header (§Trusting CDS Clients), which CORS
 * allows through Allow-Headers without cookies, so echoing does not hand any origin ambient authority.
 */
import type { RequestHandler } from 'express';

export const CORS_ALLOW_METHODS = 'GET, POST, OPTIONS';
export const CORS_ALLOW_HEADERS = 'Authorization, Content-Type, Accept, X-Request-Id';
export const CORS_EXPOSE_HEADERS = 'X-Request-Id, WWW-Authenticate';
/** Browsers may cache a preflight answer this long (seconds). */
const PREFLIGHT_MAX_AGE = '600';

/** Sets the CORS headers and answers preflight `OPTIONS` requests with 204. */
export function cdsCors(): RequestHandler {
  return (req, res, next) => {
    const origin = req.get('origin');
    res.setHeader('Access-Control-Allow-Origin', origin ?? '*');
    if (origin) res.vary('Origin');
    res.setHeader('Access-Control-Allow-Methods', CORS_ALLOW_METHODS);
    res.setHeader('Access-Control-Allow-Headers', CORS_ALLOW_HEADERS);
    res.setHeader('Access-Control-Expose-Headers', CORS_EXPOSE_HEADERS);
    if (req.method === 'OPTIONS') {
      res.setHeader('Access-Control-Max-Age', PREFLIGHT_MAX_AGE);
      res.status(204).end();
      return;
    }
    next();
  };
}
