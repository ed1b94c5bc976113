/**
 * The server's CapabilityStatement (FHIR R4 §3.1.0.14 capabilities,
 * https://hl7.org/fhir/R4/capabilitystatement.html), generated from the search-parameter table so
 * that it states exactly the interactions and parameters the server implements.
 */
import type { CapabilityStatement, CapabilityStatementRestResource, CapabilityStatementRestSecurity, Extension } from 'fhir/r4';
import { SEARCH_DEFS } from './search-params.js';

/** Result parameters every type accepts (R4 §3.1.1.5), listed with the type's own parameters. */
const COMMON_PARAMS: CapabilityStatementRestResource['searchParam'] = [
  { name: '_id', type: 'token', documentation: 'Logical id' },
  { name: '_sort', type: 'special', documentation: 'Comma-separated sort keys, "-" for descending' },
  { name: '_count', type: 'number', documentation: 'Page size (default 50, max 1000; 0 = total only)' },
  { name: '_offset', type: 'number', documentation: 'Index of the first result of the page' },
  { name: '_summary', type: 'token', documentation: 'Only "count" (and "false") are supported' },
  { name: '_elements', type: 'special', documentation: 'Top-level elements to return' },
  { name: '_include', type: 'special', documentation: 'Type:param[:target] — add referenced resources (not iterated)' },
  { name: '_revinclude', type: 'special', documentation: 'Source:param[:target] — add resources referring to the matches (not iterated)' },
];

/** Bulk Data Access IG v2.0.0 operations (bulk-export.ts), by the resource type they are invoked on. */
const BULK_EXPORT_OPERATIONS: Record<string, string> = {
  Patient: 'http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export',
  Group: 'http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export',
};

/**
 * The OAuth 2.0 endpoints of the SMART authorization server guarding this FHIR server, named as the
 * sub-extensions of oauth-uris (SMART App Launch §Conformance, "FHIR CapabilityStatement" for servers
 * that still declare them there). Absent optional endpoints are left out of the statement.
 */
export interface SmartOAuthUris {
  authorize: string;
  token: string;
  register?: string;
  manage?: string;
  introspect?: string;
  revoke?: string;
}

const OAUTH_URIS_EXTENSION = 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris';
const OAUTH_URI_KEYS = ['authorize', 'token', 'register', 'manage', 'introspect', 'revoke'] as const;

/**
 * `rest.security` for a SMART-protected server: the SMART-on-FHIR restful-security-service coding and
 * the oauth-uris extension (http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris).
 */
export function smartRestSecurity(uris: SmartOAuthUris): CapabilityStatementRestSecurity {
  const extension: Extension[] = OAUTH_URI_KEYS.flatMap((key) => (uris[key] ? [{ url: key, valueUri: uris[key] }] : []));
  return {
    extension: [{ url: OAUTH_URIS_EXTENSION, extension }],
    service: [
      {
        coding: [{ system: 'http://terminology.hl7.org/CodeSystem/restful-security-service', code: 'SMART-on-FHIR', display: 'SMART-on-FHIR' }],
        text: 'SMART App Launch (OAuth 2.0)',
      },
    ],
    description: 'SMART App Launch; the same endpoints are published at .well-known/smart-configuration.',
  };
}

export function capabilityStatement(opts: {
  baseUrl: string;
  softwareVersion: string;
  date: string;
  bulkExport?: boolean;
  /** The SMART authorization server's endpoints; declared in rest.security when given. */
  smart?: SmartOAuthUris;
}): CapabilityStatement {
  const defs = [...SEARCH_DEFS.values()];
  const referenceParams = defs.flatMap((d) => [...d.params.values()].flatMap((p) => (p.type === 'reference' ? [{ source: d.type, name: p.name, targets: p.targets }] : [])));
  const resources: CapabilityStatementRestResource[] = defs.map((def) => ({
    type: def.type,
    interaction: [{ code: 'read' }, { code: 'search-type' }, { code: 'create' }, { code: 'update' }],
    versioning: 'versioned',
    readHistory: false,
    updateCreate: true,
    searchInclude: referenceParams.filter((p) => p.source === def.type).map((p) => `${p.source}:${p.name}`),
    searchRevInclude: referenceParams.filter((p) => p.targets.includes(def.type) || p.targets.includes('Resource')).map((p) => `${p.source}:${p.name}`),
    searchParam: [
      ...(COMMON_PARAMS ?? []),
      ...[...def.params.values()].map((p) => ({ name: p.name, type: p.type, documentation: p.documentation })),
    ],
    ...(opts.bulkExport && BULK_EXPORT_OPERATIONS[def.type] ? { operation: [{ name: 'export', definition: BULK_EXPORT_OPERATIONS[def.type]! }] } : {}),
  }));
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: opts.date,
    publisher: 'Vigil',
    kind: 'instance',
    ...(opts.bulkExport ? { instantiates: ['http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data'] } : {}),
    software: { name: 'Vigil sandbox FHIR server', version: opts.softwareVersion },
    implementation: { description: 'In-memory FHIR R4 server of the Vigil sandbox EHR', url: opts.baseUrl },
    fhirVersion: '4.0.1',
    format: ['json', 'application/fhir+json'],
    rest: [
      {
        mode: 'server',
        ...(opts.smart ? { security: smartRestSecurity(opts.smart) } : {}),
        documentation:
          'Unknown search parameters are ignored unless the request has "Prefer: handling=strict". Dates without a time zone are read as UTC.',
        resource: resources,
        interaction: [{ code: 'transaction' }, { code: 'batch' }],
      },
    ],
  };
}
