/**
 * The resources of one prefetch value: CDS Hooks 2.0.1 §Prefetch Template lets a key hold a single
 * resource (a read) or a Bundle (a search); an absent or null key holds none.
 */
import type { FhirResource } from 'fhir/r4';
import { isWellFormedResource } from './shape.js';

export function prefetchResources(value: FhirResource | null | undefined): FhirResource[] {
  if (!value) return [];
  if (value.resourceType !== 'Bundle') return [value];
  // Bundles come from EHRs and FHIR servers we do not control: an entry may be null, a string, or hold a
  // null, typeless or malformed resource, and none of those may reach a service as a resource.
  return (Array.isArray(value.entry) ? value.entry : []).map((e) => (e as { resource?: unknown } | null)?.resource).filter(isWellFormedResource);
}
