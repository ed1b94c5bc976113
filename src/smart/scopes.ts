/**
 * SMART on FHIR clinical scopes — SMART App Launch v2.2 §Scopes for requesting clinical data
 * (https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html): `<context>/<type>.<perms>` with
 * context patient | user | system, type a resource type or `*`, perms a subset of "cruds" in that order.
 * SMART v1 forms (`.read`, `.write`, `.*`) are read as their v2 equivalents (read → rs, write → cud).
 *
 * Deviation on purpose: v2 scopes with a query (`patient/Observation.rs?category=…`) are parsed but grant
 * nothing here: we cannot check the filter against every request, so we refuse rather than widen.
 */

export type ScopeContext = 'patient' | 'user' | 'system';
/** c create, r read (incl. vread), u update, d delete, s search. */
export type Permission = 'c' | 'r' | 'u' | 'd' | 's';

export interface ClinicalScope {
  context: ScopeContext;
  /** A resource type, or "*". */
  resourceType: string;
  permissions: ReadonlySet<Permission>;
  /** Present on granular v2 scopes; such scopes grant nothing here (see module comment). */
  query?: string;
}

const CLINICAL = /^(patient|user|system)\/([A-Z][A-Za-z]+|\*)\.([a-z*]+)(\?.*)?$/;
const V2_ORDER = 'cruds';

function permissionsOf(suffix: string): Set<Permission> | undefined {
  if (suffix === 'read') return new Set(['r', 's']);
  if (suffix === 'write') return new Set(['c', 'u', 'd']);
  if (suffix === '*') return new Set(['c', 'r', 'u', 'd', 's']);
  // v2: letters of "cruds", each at most once and in that order.
  let last = -1;
  const perms = new Set<Permission>();
  for (const ch of suffix) {
    const at = V2_ORDER.indexOf(ch);
    if (at <= last) return undefined;
    last = at;
    perms.add(ch as Permission);
  }
  return perms.size ? perms : undefined;
}

/** Parses one scope; undefined when it is not a clinical-data scope (e.g. `openid`, `launch/patient`). */
export function parseClinicalScope(scope: string): ClinicalScope | undefined {
  const match = CLINICAL.exec(scope);
  if (!match) return undefined;
  const permissions = permissionsOf(match[3]!);
  if (!permissions) return undefined;
  const parsed: ClinicalScope = { context: match[1] as ScopeContext, resourceType: match[2]!, permissions };
  if (match[4]) parsed.query = match[4].slice(1);
  return parsed;
}

/** Space-separated scope string → distinct scopes, in order. */
export function splitScopes(scope: string | undefined): string[] {
  return [...new Set((scope ?? '').split(/\s+/).filter(Boolean))];
}

/** The FHIR interactions our servers enforce, mapped to SMART permissions. */
export type FhirAccess = 'read' | 'vread' | 'search' | 'create' | 'update' | 'delete';

export function permissionFor(access: FhirAccess): Permission {
  switch (access) {
    case 'read':
    case 'vread':
      return 'r';
    case 'search':
      return 's';
    case 'create':
      return 'c';
    case 'update':
      return 'u';
    case 'delete':
      return 'd';
  }
}

/**
 * True when some scope in `scopes` grants `access` on `resourceType` in one of `contexts` (e.g. a token
 * with patient context is checked against ['patient', 'user']).
 */
export function scopesPermit(
  scopes: readonly string[],
  request: { resourceType: string; access: FhirAccess; contexts: readonly ScopeContext[] },
): boolean {
  const needed = permissionFor(request.access);
  return scopes.some((s) => {
    const parsed = parseClinicalScope(s);
    return (
      parsed !== undefined &&
      parsed.query === undefined &&
      request.contexts.includes(parsed.context) &&
      (parsed.resourceType === '*' || parsed.resourceType === request.resourceType) &&
      parsed.permissions.has(needed)
    );
  });
}
