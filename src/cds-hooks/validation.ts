/**
 * Request validation for CDS Hooks 2.0.1 — pure functions that return every problem with the JSON path
 * of the offending field, so a 400 tells the EHR developer exactly what to fix.
 *
 * - §Calling a CDS Service / HTTP Request: hook, hookInstance, fhirServer, fhirAuthorization, context, prefetch.
 * - §Passing the Access Token to the CDS Service: fhirAuthorization fields.
 * - Hook context per the hook catalogue (src/cds-hooks/hooks.ts).
 * - §Feedback: feedback entries, AcceptedSuggestion, OverrideReason, Coding.
 *
 * Deliberate choices: `fhirServer` may be http (the spec only demands https "when production data is
 * exchanged" — TLS is the deployment's job); `token_type` is compared case-insensitively (RFC 6749 §5.1);
 * unknown hooks are checked for the base fields only.
 */
import type { FhirResource } from 'fhir/r4';
import { BadRequestError, type ErrorDetail } from '../errors.js';
import { hookSpec, type ContextFieldSpec } from './hooks.js';
import type { CdsHookRequest, FeedbackEntry, FeedbackRequest, FhirAuthorization } from './types.js';
import { isNonEmptyString, isRecord } from './json-guards.js';

/** RFC 4122 textual form, any version. */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** FHIR R4 `id` datatype. */
const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;
const RELATIVE_REFERENCE = /^([A-Z][A-Za-z]{0,63})\/([A-Za-z0-9\-.]{1,64})$/;
/** ISO 8601 date-time with seconds optional and a mandatory zone (§Feedback outcomeTimestamp). */
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

type Issues = ErrorDetail[];

function requireString(obj: Record<string, unknown>, key: string, path: string, issues: Issues): void {
  const value = obj[key];
  if (value === undefined) issues.push({ field: path, message: 'is required' });
  else if (!isNonEmptyString(value)) issues.push({ field: path, message: 'must be a non-empty string' });
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

function isFhirResource(value: unknown): value is FhirResource {
  return isRecord(value) && isNonEmptyString(value.resourceType);
}

function checkFhirAuthorization(value: unknown, issues: Issues): void {
  const path = 'fhirAuthorization';
  if (!isRecord(value)) {
    issues.push({ field: path, message: 'must be an object' });
    return;
  }
  requireString(value, 'access_token', `${path}.access_token`, issues);
  if (value.token_type === undefined) issues.push({ field: `${path}.token_type`, message: 'is required' });
  else if (typeof value.token_type !== 'string' || value.token_type.toLowerCase() !== 'bearer') {
    issues.push({ field: `${path}.token_type`, message: 'must be "Bearer"' });
  }
  if (value.expires_in === undefined) issues.push({ field: `${path}.expires_in`, message: 'is required' });
  else if (!Number.isInteger(value.expires_in) || (value.expires_in as number) < 0) {
    issues.push({ field: `${path}.expires_in`, message: 'must be a non-negative integer (seconds)' });
  }
  requireString(value, 'scope', `${path}.scope`, issues);
  requireString(value, 'subject', `${path}.subject`, issues);
  if (value.patient !== undefined && !isNonEmptyString(value.patient)) {
    issues.push({ field: `${path}.patient`, message: 'must be a non-empty string when present' });
  }
}

function checkBundle(value: unknown, path: string, issues: Issues): void {
  if (!isRecord(value) || value.resourceType !== 'Bundle') {
    issues.push({ field: path, message: 'must be a FHIR Bundle' });
    return;
  }
  if (value.entry === undefined) return;
  if (!Array.isArray(value.entry)) {
    issues.push({ field: `${path}.entry`, message: 'must be an array' });
    return;
  }
  value.entry.forEach((entry: unknown, i) => {
    if (!isRecord(entry) || !isFhirResource(entry.resource)) {
      issues.push({ field: `${path}.entry[${i}].resource`, message: 'must be a FHIR resource' });
    }
  });
}

function checkContextField(
  value: unknown,
  spec: ContextFieldSpec,
  path: string,
  userTypes: readonly string[],
  issues: Issues,
): void {
  switch (spec.type) {
    case 'userReference': {
      const match = typeof value === 'string' ? RELATIVE_REFERENCE.exec(value) : null;
      if (!match) issues.push({ field: path, message: 'must be a reference like "Practitioner/123"' });
      else if (!userTypes.includes(match[1]!)) {
        issues.push({ field: path, message: `must reference one of ${userTypes.join(', ')}` });
      }
      return;
    }
    case 'fhirId':
      if (typeof value !== 'string' || !FHIR_ID.test(value)) {
        issues.push({ field: path, message: 'must be a FHIR id ([A-Za-z0-9-.], 1-64 characters)' });
      }
      return;
    case 'bundle':
      checkBundle(value, path, issues);
      return;
    case 'referenceArray':
      if (!Array.isArray(value) || value.length === 0) {
        issues.push({ field: path, message: 'must be a non-empty array of references' });
        return;
      }
      value.forEach((item: unknown, i) => {
        if (typeof item !== 'string' || !RELATIVE_REFERENCE.test(item)) {
          issues.push({ field: `${path}[${i}]`, message: 'must be a reference like "MedicationRequest/123"' });
        }
      });
      return;
  }
}

/** order-select: every selection must name a resource in draftOrders (by type/id or fullUrl). Runs on valid shapes only. */
function checkSelectionsInDraftOrders(context: Record<string, unknown>, issues: Issues): void {
  const selections = context.selections as string[];
  const draftOrders = context.draftOrders as { entry?: { fullUrl?: unknown; resource: FhirResource }[] };
  const known = new Set<string>();
  for (const entry of draftOrders.entry ?? []) {
    if (typeof entry.resource.id === 'string') known.add(`${entry.resource.resourceType}/${entry.resource.id}`);
    if (typeof entry.fullUrl === 'string') known.add(entry.fullUrl);
  }
  selections.forEach((selection, i) => {
    const inBundle = known.has(selection) || [...known].some((k) => k.endsWith(`/${selection}`));
    if (!inBundle) issues.push({ field: `context.selections[${i}]`, message: 'is not a resource in context.draftOrders' });
  });
}

function checkContext(hook: string, value: unknown, issues: Issues): void {
  if (!isRecord(value)) {
    issues.push({ field: 'context', message: value === undefined ? 'is required' : 'must be an object' });
    return;
  }
  const spec = hookSpec(hook);
  if (!spec) return;
  const before = issues.length;
  for (const [name, field] of Object.entries(spec.context)) {
    const path = `context.${name}`;
    if (value[name] === undefined) {
      if (field.required) issues.push({ field: path, message: 'is required' });
      continue;
    }
    checkContextField(value[name], field, path, spec.userTypes, issues);
  }
  if (hook === 'order-select' && issues.length === before) checkSelectionsInDraftOrders(value, issues);
}

function checkPrefetch(value: unknown, issues: Issues): void {
  if (value === undefined || value === null) return;
  if (!isRecord(value)) {
    issues.push({ field: 'prefetch', message: 'must be an object of prefetch key → FHIR resource or null' });
    return;
  }
  for (const [key, resource] of Object.entries(value)) {
    if (resource !== null && !isFhirResource(resource)) {
      issues.push({ field: `prefetch.${key}`, message: 'must be a FHIR resource or null' });
    }
  }
}

/** All problems with a hook call body for a service registered on `expectedHook`; empty when valid. */
export function hookRequestIssues(body: unknown, expectedHook: string): ErrorDetail[] {
  const issues: Issues = [];
  if (!isRecord(body)) return [{ field: 'body', message: 'must be a JSON object' }];

  if (body.hook === undefined) issues.push({ field: 'hook', message: 'is required' });
  else if (body.hook !== expectedHook) {
    issues.push({ field: 'hook', message: `must be "${expectedHook}" for this service` });
  }

  if (body.hookInstance === undefined) issues.push({ field: 'hookInstance', message: 'is required' });
  else if (typeof body.hookInstance !== 'string' || !UUID.test(body.hookInstance)) {
    issues.push({ field: 'hookInstance', message: 'must be a UUID' });
  }

  if (body.fhirServer !== undefined) {
    if (typeof body.fhirServer !== 'string' || !isHttpUrl(body.fhirServer)) {
      issues.push({ field: 'fhirServer', message: 'must be an absolute http(s) URL' });
    }
  } else if (body.fhirAuthorization !== undefined) {
    issues.push({ field: 'fhirServer', message: 'is required when fhirAuthorization is present' });
  }
  if (body.fhirAuthorization !== undefined) checkFhirAuthorization(body.fhirAuthorization, issues);

  checkContext(expectedHook, body.context, issues);
  checkPrefetch(body.prefetch, issues);

  if (body.extension !== undefined && !isRecord(body.extension)) {
    issues.push({ field: 'extension', message: 'must be an object' });
  }
  return issues;
}

/**
 * Validates a hook call body (§HTTP Request) and returns it typed, with `prefetch: null` normalised away.
 * @throws BadRequestError whose details name every offending field.
 */
export function parseHookRequest(body: unknown, expectedHook: string): CdsHookRequest {
  const issues = hookRequestIssues(body, expectedHook);
  if (issues.length) throw new BadRequestError('Invalid CDS Hooks request', issues);
  const b = body as Record<string, unknown>;
  const request: CdsHookRequest = {
    hook: b.hook as string,
    hookInstance: b.hookInstance as string,
    context: b.context as Record<string, unknown>,
  };
  if (b.fhirServer !== undefined) request.fhirServer = (b.fhirServer as string).replace(/\/+$/, '');
  if (b.fhirAuthorization !== undefined) request.fhirAuthorization = b.fhirAuthorization as FhirAuthorization;
  if (isRecord(b.prefetch)) request.prefetch = b.prefetch as Record<string, FhirResource | null>;
  if (isRecord(b.extension)) request.extension = b.extension;
  return request;
}

function checkCoding(value: unknown, path: string, issues: Issues): void {
  if (!isRecord(value)) {
    issues.push({ field: path, message: 'must be a Coding object' });
    return;
  }
  requireString(value, 'code', `${path}.code`, issues);
  requireString(value, 'system', `${path}.system`, issues);
  if (value.display !== undefined && !isNonEmptyString(value.display)) {
    issues.push({ field: `${path}.display`, message: 'must be a non-empty string when present' });
  }
}

function checkFeedbackEntry(entry: unknown, path: string, issues: Issues): void {
  if (!isRecord(entry)) {
    issues.push({ field: path, message: 'must be an object' });
    return;
  }
  requireString(entry, 'card', `${path}.card`, issues);

  const outcome = entry.outcome;
  if (outcome === undefined) issues.push({ field: `${path}.outcome`, message: 'is required' });
  else if (outcome !== 'accepted' && outcome !== 'overridden') {
    issues.push({ field: `${path}.outcome`, message: 'must be "accepted" or "overridden"' });
  }

  const accepted = entry.acceptedSuggestions;
  if (outcome === 'accepted') {
    if (!Array.isArray(accepted) || accepted.length === 0) {
      issues.push({ field: `${path}.acceptedSuggestions`, message: 'is required (non-empty) when outcome is accepted' });
    } else {
      accepted.forEach((s: unknown, i) => {
        if (!isRecord(s) || !isNonEmptyString(s.id)) {
          issues.push({ field: `${path}.acceptedSuggestions[${i}].id`, message: 'must be a non-empty string' });
        }
      });
    }
  } else if (accepted !== undefined && outcome === 'overridden') {
    issues.push({ field: `${path}.acceptedSuggestions`, message: 'is only allowed when outcome is accepted' });
  }

  const override = entry.overrideReason;
  if (override !== undefined) {
    if (outcome === 'accepted') {
      issues.push({ field: `${path}.overrideReason`, message: 'is only allowed when outcome is overridden' });
    } else if (!isRecord(override)) {
      issues.push({ field: `${path}.overrideReason`, message: 'must be an object' });
    } else {
      if (override.reason === undefined && override.userComment === undefined) {
        issues.push({ field: `${path}.overrideReason`, message: 'must have a reason or a userComment' });
      }
      if (override.reason !== undefined) checkCoding(override.reason, `${path}.overrideReason.reason`, issues);
      if (override.userComment !== undefined && !isNonEmptyString(override.userComment)) {
        issues.push({ field: `${path}.overrideReason.userComment`, message: 'must be a non-empty string' });
      }
    }
  }

  const ts = entry.outcomeTimestamp;
  if (ts === undefined) issues.push({ field: `${path}.outcomeTimestamp`, message: 'is required' });
  else if (typeof ts !== 'string' || !DATE_TIME.test(ts) || Number.isNaN(Date.parse(ts))) {
    issues.push({ field: `${path}.outcomeTimestamp`, message: 'must be an ISO 8601 date-time with a time zone' });
  }
}

/** All problems with a feedback body (§Feedback); empty when valid. */
export function feedbackRequestIssues(body: unknown): ErrorDetail[] {
  if (!isRecord(body)) return [{ field: 'body', message: 'must be a JSON object' }];
  const issues: Issues = [];
  if (body.feedback === undefined) return [{ field: 'feedback', message: 'is required' }];
  if (!Array.isArray(body.feedback) || body.feedback.length === 0) {
    return [{ field: 'feedback', message: 'must be a non-empty array' }];
  }
  body.feedback.forEach((entry: unknown, i) => checkFeedbackEntry(entry, `feedback[${i}]`, issues));
  return issues;
}

/**
 * Validates a feedback body (§Feedback) and returns its entries with only the spec's fields.
 * @throws BadRequestError whose details name every offending field.
 */
export function parseFeedbackRequest(body: unknown): FeedbackRequest {
  const issues = feedbackRequestIssues(body);
  if (issues.length) throw new BadRequestError('Invalid feedback', issues);
  const entries = (body as { feedback: Record<string, unknown>[] }).feedback.map((e): FeedbackEntry => {
    const entry: FeedbackEntry = {
      card: e.card as string,
      outcome: e.outcome as FeedbackEntry['outcome'],
      outcomeTimestamp: e.outcomeTimestamp as string,
    };
    if (Array.isArray(e.acceptedSuggestions)) {
      entry.acceptedSuggestions = (e.acceptedSuggestions as { id: string }[]).map((s) => ({ id: s.id }));
    }
    if (isRecord(e.overrideReason)) {
      const o = e.overrideReason;
      entry.overrideReason = {};
      if (isRecord(o.reason)) {
        const r = o.reason;
        entry.overrideReason.reason = { code: r.code as string, system: r.system as string };
        if (typeof r.display === 'string') entry.overrideReason.reason.display = r.display;
      }
      if (typeof o.userComment === 'string') entry.overrideReason.userComment = o.userComment;
    }
    return entry;
  });
  return { feedback: entries };
}
