/**
 * Security headers for the HTML pages we serve (sandbox EHR, explanation view): a Content-Security-Policy
 * built from the page's own directives, plus no MIME sniffing and no referrer (URLs can carry launch ids).
 */
import type { RequestHandler } from 'express';

/** Directive name → value, e.g. { 'default-src': "'self'", 'frame-ancestors': "'none'" }. */
export type CspDirectives = Readonly<Record<string, string>>;

export function pageSecurityHeaders(directives: CspDirectives): RequestHandler {
  const csp = Object.entries(directives)
    .map(([name, value]) => `${name} ${value}`)
    .join('; ');
  return (_req, res, next) => {
    res.setHeader('Content-Security-Policy', csp);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    next();
  };
}
