/**
 * The authorization request of SMART App Launch v2.2 §Obtain authorization code
 * (https://hl7.org/fhir/smart-app-launch/app-launch.html#obtain-authorization-code). Pure: the caller supplies
 * the random values.
 */

/**
 * Scopes the explanation view asks for (§Scopes for requesting clinical data, v2 syntax). `online_access`
 * brings a refresh token that lives while the user's EHR session does, so the view can outlast the access
 * token without a new sign-in; `launch/patient` asks a standalone launch for a patient picker.
 */
export const APP_SCOPES = ['launch', 'openid', 'fhirUser', 'online_access', 'patient/Patient.r', 'patient/Observation.rs', 'patient/RiskAssessment.rs'] as const;

export type LaunchKind = 'ehr' | 'standalone';

export function scopesFor(kind: LaunchKind): string[] {
  // EHR launch: `launch` binds the request to the EHR's context. Standalone: no launch id, so ask for a patient.
  return kind === 'ehr' ? [...APP_SCOPES] : [...APP_SCOPES.filter((s) => s !== 'launch'), 'launch/patient'];
}

export interface AuthorizeRequest {
  authorizationEndpoint: string;
  clientId: string;
  redirectUri: string;
  scopes: readonly string[];
  state: string;
  /** The FHIR base URL the token is for (REQUIRED `aud`). */
  aud: string;
  codeChallenge: string;
  /** EHR launch only: the opaque `launch` value from the launch URL. */
  launch?: string;
}

/** The URL the browser is sent to: response_type=code, client_id, redirect_uri, launch, scope, state, aud, PKCE S256. */
export function buildAuthorizeUrl(request: AuthorizeRequest): string {
  const url = new URL(request.authorizationEndpoint);
  const params: Record<string, string> = {
    response_type: 'code',
    client_id: request.clientId,
    redirect_uri: request.redirectUri,
    scope: request.scopes.join(' '),
    state: request.state,
    aud: request.aud,
    code_challenge: request.codeChallenge,
    code_challenge_method: 'S256',
  };
  if (request.launch !== undefined) params.launch = request.launch;
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  return url.toString();
}
