/**
 * Narrowing of JSON that arrives untyped — hook request bodies (validation.ts), prefetch templates and
 * contexts (prefetch-template.ts), the trusted-clients file (clients.ts), a service's own answer before it
 * is sent (cards.ts) — so each check reads as what CDS Hooks 2.0.1 requires of the field.
 */

/** A JSON object (not null, not an array). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A string with something other than white space in it. */
export function isNonEmptyString(value: unknown): value is string {
  return typeof value === 'string' && value.trim() !== '';
}
