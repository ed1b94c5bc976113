/**
 * SANDBOX ONLY — the demo SMART Backend Services client (SMART App Launch v2.2 §Backend Services,
 * https://hl7.org/fhir/smart-app-launch/backend-services.html) that `npm run score-population` uses
 * against the embedded sandbox EHR out of the box. Its private key is committed in
 * data/sandbox-keys/population-demo.private.jwk.json, so anyone can sign as this client: the sandbox
 * authorization server registers it, nothing else may. A real EHR registers your own public key.
 */
import type { SmartClientRegistration } from './server.js';

export const POPULATION_DEMO_CLIENT_ID = 'vigil-population-demo';

/** The public half of the committed demo key (ES384, P-384). */
export const POPULATION_DEMO_CLIENT: SmartClientRegistration = {
  clientId: POPULATION_DEMO_CLIENT_ID,
  redirectUris: [],
  jwks: {
    keys: [
      {
        kty: 'EC',
        crv: 'P-384',
        x: 'e2jtBQ-yIxiPwzmDvR94OvxwktzLUoINubA8Pr8PYqI1cQ3QoWh79xFmmdJrIcEW',
        y: 'X_EOhEaeJPkkssDvSw5Flnwf5Z12jKSFmWtojgWi0Srt-O9GevK5zpyP45C2yZFz',
        kid: '54itts3Tiwd_GtSCYKjF1mTlEjOY7r4TcJEVCLhBH8E',
        alg: 'ES384',
        use: 'sig',
      },
    ],
  },
};
