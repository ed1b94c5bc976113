/**
 * Builds the HTTP call an EHR makes to a CDS Service: URL, headers (client JWT) and the CDS Hooks
 * request body with context, fhirServer, fhirAuthorization and filled prefetch.
 * Spec: CDS Hooks 2.0.1 §Calling a CDS Service / §HTTP Request (https://cds-hooks.hl7.org/2.0/#http-request),
 * §Prefetch (…#prefetch-template), hook contexts from https://cds-hooks.hl7.org/hooks/.
 *
 * Everything here is pure apart from the injected FHIR source, filler and signer.
 */
import { randomUUID } from 'node:crypto';
import type { Bundle, FhirResource, Resource } from 'fhir/r4';
import { z } from 'zod';
import { BadRequestError, isVigilError, NotFoundError } from '../../errors.js';
import type { CdsHookRequest, CdsServiceDefinition, FeedbackEntry } from '../../cds-hooks/types.js';
import type { SandboxClientIdentity } from './client-identity.js';
import { buildDraftOrders, isDraftOrderKey, type DraftOrder } from './draft-orders.js';

export const SANDBOX_HOOKS = ['patient-view', 'order-select', 'order-sign'] as const;
export type SandboxHook = (typeof SANDBOX_HOOKS)[number];

/** The signed-in clinician the sandbox pretends to be when the page does not choose one. */
export const SANDBOX_USER_ID = 'Practitioner/sandbox-clinician';

/** OAuth client id under which this EHR knows Vigil; becomes fhirAuthorization.subject. */
export const SANDBOX_CDS_SERVICE_CLIENT_ID = 'vigil-cds-service';

/** Read access to everything about the patient in context (SMART v1 scope syntax). */
export const SANDBOX_FHIR_SCOPE = 'patient/*.read';

/** FHIR id (R4 §2.24.0.1 id datatype). */
const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;
const USER_REFERENCE = /^(Practitioner|PractitionerRole|Patient|RelatedPerson)\/[A-Za-z0-9\-.]{1,64}$/;

const hookRequestInputSchema = z.object({
  serviceId: z.string().min(1).max(128),
  hook: z.enum(SANDBOX_HOOKS),
  patientId: z.string().regex(FHIR_ID, 'must be a FHIR id'),
  userId: z.string().regex(USER_REFERENCE, 'must be a reference like Practitioner/123').optional(),
  encounterId: z.string().regex(FHIR_ID, 'must be a FHIR id').optional(),
  draftOrders: z.array(z.string()).max(10).optional(),
  /** order-select only: references ("ServiceRequest/draft-ecg") among the draft orders. */
  selections: z.array(z.string()).max(10).optional(),
  /** "none" omits prefetch so the service must query the FHIR server itself. Default "fill". */
  prefetch: z.enum(['fill', 'none']).optional(),
});

export type HookRequestInput = z.infer<typeof hookRequestInputSchema>;

/** Validates the page's request; throws BadRequestError naming each bad field. */
export function parseHookRequestInput(body: unknown): HookRequestInput {
  const parsed = hookRequestInputSchema.safeParse(body);
  if (!parsed.success) {
    throw new BadRequestError(
      'Invalid hook request',
      parsed.error.issues.map((i) => ({ field: i.path.join('.') || 'body', message: i.message })),
    );
  }
  const input = parsed.data;
  for (const key of input.draftOrders ?? []) {
    if (!isDraftOrderKey(key)) throw new BadRequestError('Unknown draft order', [{ field: 'draftOrders', message: `no canned order "${key}"` }]);
  }
  return input;
}

/** The absolute URLs this EHR uses, all derived from the public base URL. */
export interface SandboxUrls {
  /** `iss` of client JWTs and access tokens. */
  issuer: string;
  jwksUrl: string;
  fhirServer: string;
  serviceUrl(serviceId: string): string;
  feedbackUrl(serviceId: string): string;
}

export function sandboxUrls(baseUrl: string): SandboxUrls {
  const base = baseUrl.replace(/\/+$/, '');
  const serviceUrl = (id: string) => `${base}/cds-services/${encodeURIComponent(id)}`;
  return {
    issuer: `${base}/sandbox`,
    jwksUrl: `${base}/sandbox/.well-known/jwks.json`,
    fhirServer: `${base}/sandbox/fhir`,
    serviceUrl,
    feedbackUrl: (id) => `${serviceUrl(id)}/feedback`,
  };
}

/**
 * Hook context per the hook definitions: patient-view {userId, patientId, encounterId?};
 * order-select {…, selections, draftOrders}; order-sign {…, draftOrders}.
 * Order hooks default to the cardiac stress test when no order was picked, and order-select's
 * selections default to the last draft order (the one "just selected").
 */
export function buildHookContext(input: HookRequestInput, now: Date): Record<string, unknown> {
  const userId = input.userId ?? SANDBOX_USER_ID;
  const base: Record<string, unknown> = {
    userId,
    patientId: input.patientId,
    ...(input.encounterId ? { encounterId: input.encounterId } : {}),
  };
  if (input.hook === 'patient-view') return base;

  const keys = input.draftOrders?.length ? input.draftOrders : ['stress-test'];
  const draftOrders = buildDraftOrders(keys, { patientId: input.patientId, encounterId: input.encounterId, userId, now });
  if (input.hook === 'order-sign') return { ...base, draftOrders };

  const references = referencesOf(draftOrders);
  const selections = input.selections?.length ? input.selections : references.slice(-1);
  for (const s of selections) {
    if (!references.includes(s)) {
      throw new BadRequestError('Selection is not among the draft orders', [{ field: 'selections', message: `"${s}" is not a draft order` }]);
    }
  }
  return { ...base, selections, draftOrders };
}

function referencesOf(bundle: Bundle<DraftOrder>): string[] {
  return (bundle.entry ?? []).flatMap((e) => (e.resource ? [`${e.resource.resourceType}/${e.resource.id}`] : []));
}

/**
 * Replaces a prefetch template's tokens from the hook context; null when a token cannot be filled.
 * Production passes fillPrefetchTemplate from src/cds-hooks/prefetch-template.ts, so EHR and service agree.
 */
export type PrefetchTemplateFiller = (template: string, context: Record<string, unknown>) => string | null;

/** Where prefetch is read from: the sandbox FhirStore (its `get` answers a read or a search). */
export interface FhirResourceSource {
  get(relativeUrl: string, opts: { baseUrl: string }): Resource | Promise<Resource>;
}

/**
 * Runs each prefetch template against the FHIR source, as an EHR does before calling.
 * §Prefetch: a key whose template cannot be filled (or whose query fails) is omitted, so the service
 * may fetch it itself; a read of a resource that does not exist is sent as null.
 */
export async function fillPrefetch(
  templates: Record<string, string>,
  context: Record<string, unknown>,
  deps: { fill: PrefetchTemplateFiller; source: FhirResourceSource; fhirServer: string },
): Promise<Record<string, FhirResource | null>> {
  const prefetch: Record<string, FhirResource | null> = {};
  for (const [key, template] of Object.entries(templates)) {
    const url = deps.fill(template, context);
    if (url === null) continue;
    try {
      const resource = await deps.source.get(url.replace(/^\/+/, ''), { baseUrl: deps.fhirServer });
      prefetch[key] = resource as FhirResource;
    } catch (err) {
      if (err instanceof NotFoundError) prefetch[key] = null;
      else if (!isVigilError(err)) throw err;
      // Other typed errors (bad search parameter, …): leave the key out, as an EHR that could not run it would.
    }
  }
  return prefetch;
}

export interface HookCall {
  url: string;
  headers: { Authorization: string; 'Content-Type': 'application/json' };
  body: CdsHookRequest;
}

export interface HookCallDeps {
  identity: SandboxClientIdentity;
  source: FhirResourceSource;
  fill: PrefetchTemplateFiller;
  now?: Date;
  newHookInstance?: () => string;
}

/** Assembles the complete hook call for one service; throws BadRequestError if the service is on another hook. */
export async function buildHookCall(
  input: HookRequestInput,
  target: { baseUrl: string; service: CdsServiceDefinition },
  deps: HookCallDeps,
): Promise<HookCall> {
  const { service } = target;
  if (service.hook !== input.hook) {
    throw new BadRequestError('Service does not listen on this hook', [
      { field: 'hook', message: `service "${service.id}" is invoked on ${service.hook}, not ${input.hook}` },
    ]);
  }
  const context = buildHookContext(input, deps.now ?? new Date());
  return signHookCall({ context, patientId: input.patientId, prefetch: input.prefetch ?? 'fill' }, target, deps);
}

/**
 * The signed call to `target.service` on its own hook with a context the caller built (any hook, e.g.
 * Vigil's filed-ECG hook): fhirServer, a patient-scoped fhirAuthorization, filled prefetch unless "none",
 * and a client JWT whose aud is the service URL.
 */
export async function signHookCall(
  call: { context: Record<string, unknown>; patientId: string; prefetch: 'fill' | 'none' },
  target: { baseUrl: string; service: CdsServiceDefinition },
  deps: HookCallDeps,
): Promise<HookCall> {
  const { service } = target;
  const { context } = call;
  const now = deps.now ?? new Date();
  const urls = sandboxUrls(target.baseUrl);
  const url = urls.serviceUrl(service.id);

  const access = await deps.identity.issueAccessToken({
    issuer: urls.issuer,
    audience: urls.fhirServer,
    subject: SANDBOX_CDS_SERVICE_CLIENT_ID,
    scope: SANDBOX_FHIR_SCOPE,
    patient: call.patientId,
    now,
  });
  const body: CdsHookRequest = {
    hook: service.hook,
    hookInstance: (deps.newHookInstance ?? randomUUID)(),
    fhirServer: urls.fhirServer,
    fhirAuthorization: {
      access_token: access.token,
      token_type: 'Bearer',
      expires_in: access.expiresIn,
      scope: SANDBOX_FHIR_SCOPE,
      subject: SANDBOX_CDS_SERVICE_CLIENT_ID,
      patient: call.patientId,
    },
    context,
  };
  if (call.prefetch !== 'none' && service.prefetch && Object.keys(service.prefetch).length) {
    body.prefetch = await fillPrefetch(service.prefetch, context, { fill: deps.fill, source: deps.source, fhirServer: urls.fhirServer });
  }
  const jwt = await deps.identity.signClientJwt({ issuer: urls.issuer, audience: url, jwksUrl: urls.jwksUrl, now });
  return { url, headers: { Authorization: `Bearer ${jwt}`, 'Content-Type': 'application/json' }, body };
}

const feedbackInputSchema = z.object({
  serviceId: z.string().min(1).max(128),
  feedback: z
    .array(
      z.object({
        card: z.string().min(1),
        outcome: z.enum(['accepted', 'overridden']),
        acceptedSuggestions: z.array(z.object({ id: z.string().min(1) })).optional(),
        overrideReason: z
          .object({
            reason: z.object({ system: z.string().optional(), code: z.string(), display: z.string().optional() }).optional(),
            userComment: z.string().max(2000).optional(),
          })
          .optional(),
        outcomeTimestamp: z.string().optional(),
      }),
    )
    .min(1)
    .max(20),
});

export interface FeedbackCall {
  url: string;
  headers: HookCall['headers'];
  body: { feedback: FeedbackEntry[] };
}

/**
 * The feedback POST for cards the user acted on (CDS Hooks 2.0.1 §Feedback), signed like a hook call
 * but with the feedback endpoint as audience.
 */
export async function buildFeedbackCall(
  body: unknown,
  baseUrl: string,
  deps: { identity: SandboxClientIdentity; now?: Date },
): Promise<FeedbackCall> {
  const parsed = feedbackInputSchema.safeParse(body);
  if (!parsed.success) {
    throw new BadRequestError(
      'Invalid feedback request',
      parsed.error.issues.map((i) => ({ field: i.path.join('.') || 'body', message: i.message })),
    );
  }
  const now = deps.now ?? new Date();
  const urls = sandboxUrls(baseUrl);
  const url = urls.feedbackUrl(parsed.data.serviceId);
  const feedback: FeedbackEntry[] = parsed.data.feedback.map((f) => ({
    ...f,
    outcomeTimestamp: f.outcomeTimestamp ?? now.toISOString(),
  }));
  const jwt = await deps.identity.signClientJwt({ issuer: urls.issuer, audience: url, jwksUrl: urls.jwksUrl, now });
  return { url, headers: { Authorization: `Bearer ${jwt}`, 'Content-Type': 'application/json' }, body: { feedback } };
}
