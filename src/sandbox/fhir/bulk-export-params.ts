/**
 * The kick-off request of FHIR Bulk Data Access IG v2.0.0 §Bulk Data Kick-off Request
 * (https://hl7.org/fhir/uv/bulkdata/STU2/export.html#bulk-data-kick-off-request), read into a typed
 * request. Pure: headers and query in, an ExportRequest or a BadRequestError naming every problem out.
 *
 * Supported: `_outputFormat` (ndjson only), `_type`, `_since`. Refused with 400 rather than ignored,
 * because ignoring them would export more than the client asked for: `_typeFilter`, `_elements`,
 * `patient`, `includeAssociatedData`. Other unknown parameters are ignored unless `Prefer:
 * handling=strict` (the IG's rule for optional parameters).
 */
import { BadRequestError, type ErrorDetail } from '../../errors.js';
import { parseFhirDate } from './fhir-date.js';

export type ExportLevel = 'patient' | 'group';

export interface ExportRequest {
  level: ExportLevel;
  /** Group id for a group-level export. */
  groupId?: string;
  /** Resource types to export, in the order their files are listed. */
  types: string[];
  /** Whether `_type` named them (otherwise: every compartment type the token may read). */
  typesExplicit: boolean;
  /** `_since` as given, and as epoch ms. */
  since?: { text: string; epochMs: number };
  /** The kick-off URL as the client sent it (manifest `request`). */
  requestUrl: string;
}

/** `_outputFormat` values the IG says a server SHALL accept as ndjson. */
const NDJSON_FORMATS = new Set(['application/fhir+ndjson', 'application/ndjson', 'ndjson']);
const REFUSED_PARAMS = ['_typeFilter', '_elements', 'patient', 'includeAssociatedData'];
const KNOWN_PARAMS = new Set(['_outputFormat', '_type', '_since', ...REFUSED_PARAMS]);
/** An instant: date, time to the second and a zone (FHIR `instant`). */
const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

export interface KickoffInput {
  level: ExportLevel;
  groupId?: string;
  query: URLSearchParams;
  /** Accept and Prefer headers (undefined when absent). */
  accept: string | undefined;
  prefer: string | undefined;
  requestUrl: string;
  /** Types of the patient compartment this server can export. */
  compartmentTypes: readonly string[];
}

function preferTokens(prefer: string | undefined): Set<string> {
  return new Set((prefer ?? '').split(/[,;]/).map((p) => p.trim().toLowerCase().replace(/\s+/g, '')).filter(Boolean));
}

/** @throws BadRequestError listing every problem with the kick-off request. */
export function parseKickoff(input: KickoffInput): ExportRequest {
  const problems: ErrorDetail[] = [];
  const prefer = preferTokens(input.prefer);
  if (!prefer.has('respond-async')) problems.push({ field: 'Prefer', message: 'the kick-off request needs "Prefer: respond-async"' });
  const accept = (input.accept ?? '').split(',').map((a) => a.split(';')[0]!.trim().toLowerCase());
  if (input.accept !== undefined && !accept.some((a) => a === 'application/fhir+json' || a === 'application/json' || a === '*/*')) {
    problems.push({ field: 'Accept', message: 'only application/fhir+json is supported' });
  }

  const formats = input.query.getAll('_outputFormat');
  if (formats.length > 1 || (formats[0] !== undefined && !NDJSON_FORMATS.has(formats[0]))) {
    problems.push({ field: '_outputFormat', message: 'only application/fhir+ndjson is supported' });
  }
  for (const name of REFUSED_PARAMS) {
    if (input.query.has(name)) problems.push({ field: name, message: `${name} is not supported by this server` });
  }
  if (prefer.has('handling=strict')) {
    for (const name of new Set(input.query.keys())) {
      if (!KNOWN_PARAMS.has(name)) problems.push({ field: name, message: 'unknown parameter' });
    }
  }

  const named = input.query
    .getAll('_type')
    .flatMap((v) => v.split(','))
    .map((t) => t.trim())
    .filter(Boolean);
  for (const type of named) {
    if (!input.compartmentTypes.includes(type)) problems.push({ field: '_type', message: `${type} is not a patient-compartment type this server exports` });
  }

  let since: ExportRequest['since'];
  const sinceValues = input.query.getAll('_since');
  if (sinceValues.length > 1) problems.push({ field: '_since', message: 'give _since once' });
  else if (sinceValues[0] !== undefined) {
    const text = sinceValues[0];
    const range = INSTANT.test(text) ? parseFhirDate(text) : undefined;
    if (!range) problems.push({ field: '_since', message: 'must be a FHIR instant, e.g. 2026-01-01T00:00:00Z' });
    else since = { text, epochMs: range.start };
  }

  if (problems.length) throw new BadRequestError(`Bulk export kick-off refused: ${problems.map((p) => p.message).join('; ')}`, problems);
  const types = named.length ? [...new Set(named)] : [...input.compartmentTypes];
  return {
    level: input.level,
    ...(input.groupId !== undefined ? { groupId: input.groupId } : {}),
    types,
    typesExplicit: named.length > 0,
    ...(since ? { since } : {}),
    requestUrl: input.requestUrl,
  };
}
