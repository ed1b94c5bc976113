/**
 * The embedded sandbox EHR, mounted at /sandbox: a FHIR R4 server holding the shipped synthetic
 * patients (/sandbox/fhir), the EHR's CDS client identity (/sandbox/.well-known/jwks.json), the JSON
 * API its page uses (/sandbox/api) and the page itself (/sandbox). It plays the EHR exactly as a real
 * one would, so the CDS service can be tried and tested end to end. Not for production (SANDBOX=off).
 */
import express, { type RequestHandler, type Router } from 'express';
import type { Bundle, Practitioner } from 'fhir/r4';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { fillPrefetchTemplate } from '../cds-hooks/prefetch-template.js';
import type { CdsClient, CdsClientRegistry } from '../cds-hooks/clients.js';
import type { CdsServiceDefinition } from '../cds-hooks/types.js';
import { FhirStore } from './fhir/store.js';
import { createFhirRouter } from './fhir/router.js';
import { loadSandboxData, readSandboxIndex, type SandboxPatientSummary } from './patients.js';
import { sandboxGroups } from './groups.js';
import { pageSecurityHeaders } from '../http/page-security-headers.js';
import { createSandboxApiRouter } from './ehr/api.js';
import { createSandboxClientIdentity, type SandboxClientIdentity } from './ehr/client-identity.js';
import { SANDBOX_USER_ID, sandboxUrls } from './ehr/hook-request.js';
import { sandboxUiDir } from './ehr/paths.js';
import { discoveryOverHttp, staticCatalog, type ServiceCatalog } from './ehr/service-catalog.js';
import { createSandboxSecurity } from '../smart/sandbox-auth/index.js';
import type { SandboxAuthServer } from '../smart/sandbox-auth/server.js';


/** Colours of the sandbox page (src/sandbox/ui/style.css), in SMART styling's vocabulary. */
const SANDBOX_SMART_STYLE = {
  color_background: '#ffffff',
  color_error: '#a10018',
  color_highlight: '#0b4f9c',
  color_success: '#1b6b2f',
  color_text: '#1a1a1a',
  dim_border_radius: '4px',
  dim_font_size: '16px',
  dim_spacing_size: '16px',
  font_family_body: 'system-ui, "Segoe UI", Roboto, sans-serif',
  font_family_heading: 'system-ui, "Segoe UI", Roboto, sans-serif',
} as const;

export interface SandboxOptions {
  config: Config;
  logger: Logger;
  /** The instant the shipped data are shifted to (default: now). */
  now?: Date;
  /** Directory of the shipped patient bundles (default: <repo>/data/sandbox). */
  dataDir?: string;
  /**
   * The CDS services to offer (discovery entries). Default: GET /cds-services on this same server,
   * as an EHR would; the app passes its own list to skip the loopback call.
   */
  services?: readonly CdsServiceDefinition[] | (() => readonly CdsServiceDefinition[]);
  /** Where the CDS service keeps its trusted clients; the sandbox registers itself there. */
  clients?: Pick<CdsClientRegistry, 'add'>;
}

export interface Sandbox {
  router: Router;
  patientCount: number;
  store: FhirStore;
  identity: SandboxClientIdentity;
  /** The SMART authorization server at /sandbox/auth (src/smart/sandbox-auth). */
  auth: SandboxAuthServer;
  /** The trusted-client entry for the sandbox as reached at `baseUrl` (iss `<base>/sandbox`, inline JWKS, all services). */
  trustedClientFor(baseUrl: string): CdsClient;
  close(): Promise<void>;
}

/**
 * Without PUBLIC_BASE_URL the issuer follows each request's Host, so the sandbox registers issuers as
 * it first signs for them. Forged Host headers could only add issuers that our own key signs for; the
 * cap keeps them from growing the registry without bound.
 */
const MAX_REGISTERED_ISSUERS = 16;

/** The clinician the sandbox signs in as; stored so `{{userPractitionerId}}` reads resolve. */
function sandboxPractitioner(): Practitioner {
  return {
    resourceType: 'Practitioner',
    id: SANDBOX_USER_ID.split('/')[1]!,
    active: true,
    name: [{ use: 'official', family: 'Sandbox', given: ['Demo'], prefix: ['Dr'] }],
  };
}

/**
 * The bundle without entries of types the sandbox FHIR server cannot hold, so one unsupported type in
 * the shipped data does not stop the EHR from starting; `skipped` counts what was left out per type.
 */
export function keepSupported(bundle: Bundle, supported: ReadonlySet<string>, skipped: Map<string, number>): Bundle {
  const entry = (bundle.entry ?? []).filter((e) => {
    const type = e.resource?.resourceType;
    if (type === undefined || supported.has(type)) return true;
    skipped.set(type, (skipped.get(type) ?? 0) + 1);
    return false;
  });
  return { ...bundle, entry };
}

export async function createSandbox(options: SandboxOptions): Promise<Sandbox> {
  const { config, logger } = options;
  const now = options.now ?? new Date();

  const store = new FhirStore();
  const { bundles, patients } = loadSandboxData(options.dataDir, now);
  const skipped = new Map<string, number>();
  for (const bundle of bundles) store.loadBundle(keepSupported(bundle, new Set(store.resourceTypes), skipped));
  if (skipped.size) logger.warn({ skipped: Object.fromEntries(skipped) }, 'sandbox: resource types the FHIR server does not support were not loaded');
  if (store.resourceTypes.includes('Practitioner')) store.update(sandboxPractitioner());
  for (const group of sandboxGroups(readSandboxIndex(options.dataDir))) store.update(group);
  const patientList: readonly SandboxPatientSummary[] = patients;

  const identity = await createSandboxClientIdentity();

  const trustedClientFor = (baseUrl: string): CdsClient => ({
    issuer: sandboxUrls(baseUrl).issuer,
    jwks: { keys: identity.jwks.keys.map((k) => ({ ...k, kty: k.kty ?? 'EC' })) },
    // The jku its client JWTs carry; allow-listed, never fetched (the keys are inline).
    jku: sandboxUrls(baseUrl).jwksUrl,
    services: ['*'],
  });
  const registered = new Set<string>();
  const trust = (baseUrl: string): void => {
    if (!options.clients) return;
    const client = trustedClientFor(baseUrl);
    if (registered.has(client.issuer)) return;
    if (registered.size >= MAX_REGISTERED_ISSUERS) {
      logger.warn({ registered: registered.size }, 'sandbox: too many public base URLs; set PUBLIC_BASE_URL');
      return;
    }
    options.clients.add(client);
    registered.add(client.issuer);
  };
  if (config.publicBaseUrl) trust(config.publicBaseUrl);

  // Without an in-process list, read discovery over loopback with a client JWT whose aud is the URL the
  // service believes it was called at (PUBLIC_BASE_URL when set, else the loopback origin itself).
  const catalog: ServiceCatalog = options.services
    ? staticCatalog(options.services)
    : discoveryOverHttp({
        authorization: async (localOrigin) => {
          const base = config.publicBaseUrl ?? localOrigin;
          const urls = sandboxUrls(base);
          trust(base);
          const jwt = await identity.signClientJwt({ issuer: urls.issuer, audience: `${base}/cds-services`, jwksUrl: urls.jwksUrl });
          return `Bearer ${jwt}`;
        },
      });

  // SMART: authorization server, discovery, FHIR token enforcement, hook tokens from that server.
  const security = await createSandboxSecurity({
    config,
    logger,
    patients: () => patientList,
    users: [{ reference: SANDBOX_USER_ID, name: 'Dr Demo Sandbox' }],
  });
  const router = express.Router();
  router.get('/fhir/.well-known/smart-configuration', security.smartConfiguration);
  router.use('/fhir', createFhirRouter({ store, logger, smartOAuthUris: security.oauthUris, ...(security.authorizeFhir ? { authorize: security.authorizeFhir } : {}) }));
  router.use('/auth', security.auth.router);
  // SMART App Launch §Styling: the document the sandbox's token responses name as smart_style_url, so a
  // launched app can blend into this EHR (the app applies only values that keep WCAG AA contrast).
  router.get('/smart-style.json', (_req, res) => {
    res.setHeader('Cache-Control', 'public, max-age=300');
    res.json(SANDBOX_SMART_STYLE);
  });
  router.get('/.well-known/jwks.json', (_req, res) => {
    res.setHeader('Cache-Control', 'public, max-age=60');
    res.json(identity.jwks);
  });
  router.use(
    '/api',
    createSandboxApiRouter({ config, identity: security.withHookTokens(identity), source: store, store, fill: fillPrefetchTemplate, catalog, patients: () => patientList, trust }),
  );
  router.use(sandboxPageHeaders(config.publicBaseUrl));
  router.use(express.static(sandboxUiDir(), { index: 'index.html' }));

  return {
    router,
    patientCount: patientList.length,
    store,
    identity,
    auth: security.auth,
    trustedClientFor,
    async close() {
      // Everything lives in memory; nothing to release.
    },
  };
}

/**
 * The page runs only its own scripts and styles; it may call this origin and, when configured, the
 * public base URL's origin (where the CDS service is reached).
 */
function sandboxPageHeaders(publicBaseUrl: string | undefined): RequestHandler {
  const connect = ["'self'", ...(publicBaseUrl ? [new URL(publicBaseUrl).origin] : [])].join(' ');
  return pageSecurityHeaders({
    'default-src': "'self'",
    'script-src': "'self'",
    'style-src': "'self'",
    'img-src': "'self' https: data:",
    'connect-src': connect,
    'frame-ancestors': "'none'",
    'base-uri': "'none'",
    'form-action': "'none'",
    'object-src': "'none'",
  });
}
