import type { Request } from 'express';

/** The absolute origin callers reach us at: PUBLIC_BASE_URL when configured, else this request's own. */
export function baseUrlOf(req: Request, publicBaseUrl: string | undefined): string {
  if (publicBaseUrl) return publicBaseUrl;
  return `${req.protocol}://${req.get('host') ?? 'localhost'}`;
}
