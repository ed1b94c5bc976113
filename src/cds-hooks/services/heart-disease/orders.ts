/**
 * order-select: does the clinician's selection include a cardiology test? (CDS Hooks order-select hook,
 * https://cds-hooks.hl7.org/hooks/order-select/: `selections` are references to resources in
 * `draftOrders`.) Pure. Default list: SNOMED CT 165079009 Exercise tolerance test and 29303009
 * Electrocardiographic procedure (src/fhir/codes.ts SANDBOX_ORDERABLES); sites pass their own list.
 */
import type { Bundle, CodeableConcept, FhirResource } from 'fhir/r4';
import { SANDBOX_ORDERABLES, SNOMED } from '../../../fhir/codes.js';

export interface OrderCode {
  system: string;
  code: string;
  display: string;
}

export const CARDIOLOGY_ORDER_CODES: readonly OrderCode[] = [
  { system: SNOMED, code: SANDBOX_ORDERABLES.exerciseToleranceTest, display: 'Exercise tolerance test (cardiac stress test)' },
  { system: SNOMED, code: SANDBOX_ORDERABLES.electrocardiogram, display: 'Electrocardiographic procedure' },
];

function conceptOf(resource: FhirResource): CodeableConcept | undefined {
  switch (resource.resourceType) {
    case 'ServiceRequest':
      return resource.code;
    case 'MedicationRequest':
      return resource.medicationCodeableConcept;
    default:
      return undefined;
  }
}

/** The selected draft orders that are cardiology tests, with the code that matched. */
export function selectedCardiologyOrders(
  context: Record<string, unknown>,
  codes: readonly OrderCode[] = CARDIOLOGY_ORDER_CODES,
): Array<{ reference: string; code: OrderCode }> {
  const selections = Array.isArray(context.selections) ? context.selections.filter((s): s is string => typeof s === 'string') : [];
  const drafts = context.draftOrders as Bundle | undefined;
  const entries = Array.isArray(drafts?.entry) ? drafts.entry : [];
  const out: Array<{ reference: string; code: OrderCode }> = [];
  for (const entry of entries) {
    const resource = entry?.resource;
    if (!resource?.id) continue;
    const reference = `${resource.resourceType}/${resource.id}`;
    if (!selections.includes(reference)) continue;
    const codings = conceptOf(resource)?.coding;
    const match = codes.find((c) => (Array.isArray(codings) ? codings : []).some((k) => k?.system === c.system && k.code === c.code));
    if (match) out.push({ reference, code: match });
  }
  return out;
}
