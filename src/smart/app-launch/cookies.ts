/**
 * The explanation view's session cookie (RFC 6265bis): httpOnly (scripts cannot read it), SameSite=Lax (not
 * sent on cross-site sub-requests, but sent on the top-level redirect back from the authorization server),
 * Secure everywhere but on localhost (browsers drop Secure cookies over plain http, and localhost is the
 * only plain-http origin we accept), Path=/app.
 */
import type { Request, Response } from 'express';

export const SESSION_COOKIE = 'vigil_app_sid';
const SESSION_ID = /^[A-Za-z0-9_-]{32,64}$/;

/** The session id from the Cookie header, when one well-formed value is present. */
export function sessionIdFrom(cookieHeader: string | undefined): string | undefined {
  for (const part of (cookieHeader ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== SESSION_COOKIE) continue;
    const value = part.slice(eq + 1).trim();
    return SESSION_ID.test(value) ? value : undefined;
  }
  return undefined;
}

/** True for the loopback host names where a plain-http cookie is acceptable. */
export function isLocalhost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h.endsWith('.localhost') || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

export interface CookieOptions {
  /** Absolute origin the app is reached at (decides Secure). */
  baseUrl: string;
  maxAgeSeconds: number;
}

export function setSessionCookie(res: Response, id: string, options: CookieOptions): void {
  const url = new URL(options.baseUrl);
  res.cookie(SESSION_COOKIE, id, {
    httpOnly: true,
    sameSite: 'lax',
    secure: url.protocol === 'https:' || !isLocalhost(url.hostname),
    path: '/app',
    maxAge: options.maxAgeSeconds * 1000,
  });
}

export function clearSessionCookie(res: Response): void {
  res.clearCookie(SESSION_COOKIE, { path: '/app' });
}

export function sessionIdOf(req: Request): string | undefined {
  return sessionIdFrom(req.get('cookie'));
}
