/**
 * Token requests of a public SMART client (no client secret; PKCE proves the code is ours):
 * SMART App Launch v2.2 §Obtain access token (authorization_code + code_verifier) and §Refresh access token
 * (RFC 6749 §6). The token response carries the launch context (`patient`, `encounter`,
 * `need_patient_banner`, `smart_style_url`) and, from CDS Hooks 2.0.1 §Link, `appContext`.
 */
import { z } from 'zod';
import { BadGatewayError, UnauthorizedError } from '../../errors.js';
import type { FetchLike } from './discovery.js';

const tokenResponseSchema = z.object({
  access_token: z.string().min(1),
  token_type: z.string().refine((t) => t.toLowerCase() === 'bearer', 'token_type must be Bearer'),
  expires_in: z.number().positive().optional(),
  scope: z.string().optional(),
  refresh_token: z.string().min(1).optional(),
  id_token: z.string().optional(),
  patient: z.string().min(1).optional(),
  encounter: z.string().min(1).optional(),
  need_patient_banner: z.boolean().optional(),
  smart_style_url: z.string().optional(),
  appContext: z.union([z.string(), z.record(z.string(), z.unknown())]).optional(),
});

export type TokenResponse = z.infer<typeof tokenResponseSchema>;

/** The authorization server refused the grant (RFC 6749 §5.2): the user must start again. */
export class GrantRefusedError extends UnauthorizedError {
  constructor(
    readonly oauthError: string,
    message: string,
  ) {
    super(message);
  }
}

export interface TokenClientOptions {
  fetch?: FetchLike;
  timeoutMs?: number;
}

async function postToken(tokenEndpoint: string, form: Record<string, string>, options: TokenClientOptions): Promise<TokenResponse> {
  const doFetch = options.fetch ?? fetch;
  let res: Response;
  try {
    res = await doFetch(tokenEndpoint, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
      body: new URLSearchParams(form).toString(),
      redirect: 'manual',
      signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
    });
  } catch (err) {
    throw new BadGatewayError('The EHR sign-in service could not be reached.', [], { cause: err });
  }
  const body = (await res.json().catch(() => undefined)) as Record<string, unknown> | undefined;
  if (res.status === 400 || res.status === 401) {
    const error = typeof body?.error === 'string' ? body.error : 'invalid_grant';
    throw new GrantRefusedError(error, 'The EHR did not accept the sign-in.');
  }
  if (!res.ok) throw new BadGatewayError(`The EHR sign-in service answered ${res.status}.`);
  const parsed = tokenResponseSchema.safeParse(body);
  if (!parsed.success) throw new BadGatewayError('The EHR sign-in service answered with an unusable token.');
  return parsed.data;
}

/** §Obtain access token: exchanges the code with its PKCE verifier. */
export function exchangeCode(
  request: { tokenEndpoint: string; code: string; redirectUri: string; clientId: string; codeVerifier: string },
  options: TokenClientOptions = {},
): Promise<TokenResponse> {
  return postToken(
    request.tokenEndpoint,
    { grant_type: 'authorization_code', code: request.code, redirect_uri: request.redirectUri, client_id: request.clientId, code_verifier: request.codeVerifier },
    options,
  );
}

/** §Refresh access token. The server may rotate the refresh token; callers keep whichever comes back. */
export function refreshAccessToken(
  request: { tokenEndpoint: string; refreshToken: string; clientId: string },
  options: TokenClientOptions = {},
): Promise<TokenResponse> {
  return postToken(request.tokenEndpoint, { grant_type: 'refresh_token', refresh_token: request.refreshToken, client_id: request.clientId }, options);
}

/** appContext as the string CDS Hooks defines; an object (some EHRs) is kept as its JSON. */
export function appContextOf(token: TokenResponse): string | undefined {
  if (token.appContext === undefined) return undefined;
  return typeof token.appContext === 'string' ? token.appContext : JSON.stringify(token.appContext);
}
