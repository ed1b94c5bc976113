/**
 * The resources of one prefetch value: CDS Hooks 2.0.1 §Prefetch Template lets a key hold a single
 * resource (a read) or a Bundle (a search); an absent or null key holds none.
 */
import type { FhirResource } from 'fhir/r4';

export function prefetchResources(value: FhirResource | null | undefined): FhirResource[] {
  if (!value) return [];
  if (value.resourceType !== 'Bundle') return [value];
  return (Array.isArray(value.entry) ? value.entry : []).map((e) => e?.resource).filter((r): r is FhirResource => r !== undefined);
}
