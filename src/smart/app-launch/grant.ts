/**
 * Turning token responses into the session's grant, and deciding when to refresh. Pure.
 */
import { appContextOf, type TokenResponse } from './token-client.js';
import type { AppGrant, PendingLaunch } from './session-store.js';

/** Refresh this long before the access token's expiry, so a request never goes out with a dying token. */
export const REFRESH_MARGIN_MS = 30_000;
/** Used when the server omits `expires_in` (RECOMMENDED, not REQUIRED): assume a short life. */
const DEFAULT_LIFETIME_S = 300;

export function grantFromTokenResponse(token: TokenResponse, pending: Pick<PendingLaunch, 'iss' | 'tokenEndpoint' | 'clientId'>, now: number): AppGrant {
  const grant: AppGrant = {
    iss: pending.iss,
    tokenEndpoint: pending.tokenEndpoint,
    clientId: pending.clientId,
    accessToken: token.access_token,
    accessTokenExpiresAt: now + (token.expires_in ?? DEFAULT_LIFETIME_S) * 1000,
    scope: token.scope ?? '',
    // SMART §Launch context: only an explicit `false` lets the app leave the banner out.
    needPatientBanner: token.need_patient_banner !== false,
  };
  if (token.refresh_token) grant.refreshToken = token.refresh_token;
  if (token.patient) grant.patient = token.patient;
  if (token.encounter) grant.encounter = token.encounter;
  if (token.smart_style_url) grant.smartStyleUrl = token.smart_style_url;
  const appContext = appContextOf(token);
  if (appContext !== undefined) grant.appContext = appContext;
  return grant;
}

/**
 * The grant after a refresh: new access token (and refresh token, when rotated). The launch context stays
 * the one the user launched with — a refresh must not move the app to another patient.
 */
export function grantAfterRefresh(grant: AppGrant, token: TokenResponse, now: number): AppGrant {
  if (token.patient && grant.patient && token.patient !== grant.patient) {
    throw new Error('refresh changed the patient context');
  }
  return {
    ...grant,
    accessToken: token.access_token,
    accessTokenExpiresAt: now + (token.expires_in ?? DEFAULT_LIFETIME_S) * 1000,
    scope: token.scope ?? grant.scope,
    ...(token.refresh_token ? { refreshToken: token.refresh_token } : {}),
  };
}

export function needsRefresh(grant: AppGrant, now: number): boolean {
  return grant.accessTokenExpiresAt - REFRESH_MARGIN_MS <= now;
}
