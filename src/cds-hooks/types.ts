/**
 * CDS Hooks 2.0.1 wire types (https://cds-hooks.hl7.org/2.0/) and Vigil's service contract.
 * Field optionality follows the spec: REQUIRED fields are non-optional here.
 */
import type { Bundle, FhirResource } from 'fhir/r4';
import type { Logger } from '../logger.js';

/** §Discovery — one entry of GET /cds-services. */
export interface CdsServiceDefinition {
  /** REQUIRED. The hook this service should be invoked on. */
  hook: string;
  /** OPTIONAL. Human-friendly name. */
  title?: string;
  /** REQUIRED. Description of this service. */
  description: string;
  /** REQUIRED. {id} portion of the URL to this service (…/cds-services/{id}). */
  id: string;
  /** OPTIONAL. Key → FHIR query template the EHR should run and send as prefetch. */
  prefetch?: Record<string, string>;
  /** OPTIONAL. Human-friendly description of pre-requisites (e.g. agreements, configuration). */
  usageRequirements?: string;
}

/** §HTTP Request — fhirAuthorization. */
export interface FhirAuthorization {
  access_token: string;
  /** Fixed value "Bearer". */
  token_type: string;
  expires_in: number;
  scope: string;
  subject: string;
  /** OPTIONAL. Patient in context for this token. */
  patient?: string;
}

/** §HTTP Request — the body the EHR POSTs to /cds-services/{id}. */
export interface CdsHookRequest {
  hook: string;
  hookInstance: string;
  fhirServer?: string;
  fhirAuthorization?: FhirAuthorization;
  context: Record<string, unknown>;
  prefetch?: Record<string, FhirResource | null>;
  /** §Extensions — pre-coordinated custom data; passed through untouched. */
  extension?: Record<string, unknown>;
}

export type Indicator = 'info' | 'warning' | 'critical';

/** §Source. */
export interface CardSource {
  label: string;
  url?: string;
  icon?: string;
  topic?: Coding;
}

export interface Coding {
  system?: string;
  code: string;
  display?: string;
}

/** §Action. */
export interface CardAction {
  type: 'create' | 'update' | 'delete';
  description: string;
  resource?: FhirResource;
  resourceId?: string;
}

/** §Suggestion. */
export interface CardSuggestion {
  label: string;
  uuid?: string;
  isRecommended?: boolean;
  actions?: CardAction[];
}

/** §Link. */
export interface CardLink {
  label: string;
  url: string;
  type: 'absolute' | 'smart';
  appContext?: string;
}

/** §Card Attributes. */
export interface Card {
  uuid?: string;
  /** REQUIRED, < 140 characters. */
  summary: string;
  /** OPTIONAL, GitHub Flavored Markdown. */
  detail?: string;
  indicator: Indicator;
  source: CardSource;
  suggestions?: CardSuggestion[];
  selectionBehavior?: 'at-most-one' | 'any';
  overrideReasons?: Coding[];
  links?: CardLink[];
}

/** §HTTP Response. */
export interface CdsResponse {
  cards: Card[];
  systemActions?: CardAction[];
}

/** §Feedback. */
export interface FeedbackEntry {
  card: string;
  outcome: 'accepted' | 'overridden';
  acceptedSuggestions?: { id: string }[];
  overrideReason?: { reason?: Coding; userComment?: string };
  outcomeTimestamp: string;
}

export interface FeedbackRequest {
  feedback: FeedbackEntry[];
}

/** Reads FHIR resources on behalf of a hook, using only the fhirAuthorization the EHR gave us. */
export interface FhirReader {
  /** GET a relative FHIR URL (e.g. "Observation?patient=123&code=…") and return the resource or Bundle. */
  get(relativeUrl: string): Promise<FhirResource>;
}

/** What a service handler receives: the validated request with every prefetch key resolved. */
export interface HookInvocation {
  request: CdsHookRequest;
  /** Prefetch key → resource (null when neither the EHR nor the FHIR server had it). */
  prefetch: Record<string, FhirResource | null>;
  /** A reader bound to request.fhirServer + fhirAuthorization, when the request has a fhirServer. */
  fhir?: FhirReader;
  /** Absolute base URL of this service, for building card links. */
  baseUrl: string;
  logger: Logger;
  now: Date;
  /** Aborted when the hook deadline (HOOK_DEADLINE_MS) passes; long-running work should stop then. */
  signal?: AbortSignal;
}

/**
 * A Vigil CDS service: its discovery definition plus one handler. Adding a service means writing one
 * folder under src/cds-hooks/services/<id>/ that exports one of these and registering it in
 * src/cds-hooks/services/index.ts.
 */
export interface CdsService {
  definition: CdsServiceDefinition;
  /**
   * Prefetch keys without which the service cannot answer; if unobtainable the call gets 412. A key the
   * EHR explicitly sent as null (its "no data", §Prefetch Template) still reaches the handler as null.
   */
  requiredPrefetch?: string[];
  handle(invocation: HookInvocation): Promise<CdsResponse>;
}

export type PrefetchBundle = Bundle;
