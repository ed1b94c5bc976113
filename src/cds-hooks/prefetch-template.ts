/**
 * Prefetch template filling — CDS Hooks 2.0.1 §Prefetch Template and §Prefetch tokens
 * (https://cds-hooks.hl7.org/2.0/#prefetch-tokens). Pure: no I/O. The CDS service uses it to fetch
 * what the EHR did not send; the sandbox EHR uses the same function to build the prefetch it sends,
 * so both ends always agree on the URL a key means.
 *
 * Tokens supported:
 * - `{{context.<field>}}` for any root-level context field holding a string, number or boolean
 *   (§Prefetch tokens: "Only root-level fields with a primitive value … are eligible").
 * - `{{userPractitionerId}}`, `{{userPractitionerRoleId}}`, `{{userPatientId}}`, `{{userRelatedPersonId}}`:
 *   the id part of `context.userId` when its type matches (§Prefetch tokens identifying the user).
 * - Deliberate extension, NOT part of 2.0.1: `{{context.<bundleField>.<ResourceType>.id}}` — the ids of
 *   the resources of that type in a Bundle-valued context field (e.g. `draftOrders`), comma-joined so they
 *   fit a `_id=` search. 2.0.1 calls nested paths invalid; the Da Vinci CRD services use this form in the
 *   wild, and FHIRPath-style tokens were only proposed for later versions. Nothing else nested is filled.
 *
 * A template whose tokens cannot all be filled yields null: the key cannot be fetched (and an EHR must
 * then leave the key out of `prefetch`).
 */
import { isRecord } from './json-guards.js';

/** User-identity prefetch tokens (§Prefetch tokens identifying the user) → the resource type they name. */
export const USER_TOKENS = {
  userPractitionerId: 'Practitioner',
  userPractitionerRoleId: 'PractitionerRole',
  userPatientId: 'Patient',
  userRelatedPersonId: 'RelatedPerson',
} as const;

type UserToken = keyof typeof USER_TOKENS;

const TOKEN = /\{\{\s*([^{}]*?)\s*\}\}/g;
const RESOURCE_TYPE = /^[A-Z][A-Za-z]{0,63}$/;

function isUserToken(name: string): name is UserToken {
  return Object.prototype.hasOwnProperty.call(USER_TOKENS, name);
}

/**
 * Percent-encodes a value for a URL, keeping `/` between segments so a relative reference such as
 * `Practitioner/123` still works as a read template. Values that could climb the path (`.`/`..`/empty
 * segments) are refused: a context value must never be able to redirect a query elsewhere.
 */
function encodeValue(raw: string): string | null {
  if (raw === '') return null;
  const segments = raw.split('/');
  if (segments.some((s) => s === '' || s === '.' || s === '..')) return null;
  return segments.map(encodeURIComponent).join('/');
}

function primitiveToString(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value === 'boolean') return String(value);
  return null;
}

/** `context.userId` is `Type/id`; the user tokens give the id when Type matches. */
function userTokenValue(token: UserToken, context: Record<string, unknown>): string | null {
  const userId = context.userId;
  if (typeof userId !== 'string') return null;
  const slash = userId.indexOf('/');
  if (slash <= 0) return null;
  const type = userId.slice(0, slash);
  const id = userId.slice(slash + 1);
  if (type !== USER_TOKENS[token] || id === '' || id.includes('/')) return null;
  return encodeValue(id);
}

/** Extension: ids of `<ResourceType>` entries in a Bundle-valued context field, comma-joined. */
function bundleIdsValue(bundle: unknown, resourceType: string): string | null {
  if (!RESOURCE_TYPE.test(resourceType)) return null;
  if (!isRecord(bundle) || bundle.resourceType !== 'Bundle' || !Array.isArray(bundle.entry)) return null;
  const ids: string[] = [];
  for (const entry of bundle.entry) {
    const resource = isRecord(entry) ? entry.resource : undefined;
    if (!isRecord(resource) || resource.resourceType !== resourceType) continue;
    if (typeof resource.id !== 'string') continue;
    const encoded = encodeValue(resource.id);
    if (encoded === null || encoded.includes('/')) return null;
    if (!ids.includes(encoded)) ids.push(encoded);
  }
  return ids.length ? ids.join(',') : null;
}

function contextTokenValue(path: string[], context: Record<string, unknown>): string | null {
  if (path.length === 1) {
    const value = primitiveToString(context[path[0]!]);
    return value === null ? null : encodeValue(value);
  }
  if (path.length === 3 && path[2] === 'id') {
    return bundleIdsValue(context[path[0]!], path[1]!);
  }
  return null;
}

/** The value a single token (without braces, e.g. "context.patientId") stands for, or null. */
export function prefetchTokenValue(token: string, context: Record<string, unknown>): string | null {
  if (isUserToken(token)) return userTokenValue(token, context);
  const [root, ...path] = token.split('.');
  if (root !== 'context' || path.length === 0 || path.some((p) => p === '')) return null;
  if (path[0] === '__proto__' || !Object.prototype.hasOwnProperty.call(context, path[0]!)) return null;
  return contextTokenValue(path, context);
}

/**
 * Fills every `{{token}}` of one template from a hook's context.
 * @returns the relative FHIR URL, or null when any token cannot be filled.
 */
export function fillPrefetchTemplate(template: string, context: Record<string, unknown>): string | null {
  let unfillable = false;
  const filled = template.replace(TOKEN, (_match, token: string) => {
    const value = prefetchTokenValue(token, context);
    if (value === null) unfillable = true;
    return value ?? '';
  });
  // A stray "{{" or "}}" left after replacement means a malformed token.
  if (unfillable || filled.includes('{{') || filled.includes('}}')) return null;
  return filled;
}

/** Fills all templates of a service definition's `prefetch`; keys that cannot be filled map to null. */
export function fillPrefetchTemplates(
  templates: Record<string, string>,
  context: Record<string, unknown>,
): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const [key, template] of Object.entries(templates)) out[key] = fillPrefetchTemplate(template, context);
  return out;
}
