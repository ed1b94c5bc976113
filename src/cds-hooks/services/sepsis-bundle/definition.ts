/**
 * The vigil-sepsis-bundle discovery definition — CDS Hooks 2.0.1 §Discovery, hook `order-sign`
 * (https://cds-hooks.org/hooks/order-sign/). It reads what vigil-deterioration reads (the sepsis risk is
 * the same model on the same data) plus the patient's recent lactate and blood-culture orders and
 * blood-culture results. Templates cannot compute dates, so the look-back windows are cut by the handler.
 */
import { LOINC } from '../../../fhir/codes.js';
import type { CdsServiceDefinition } from '../../types.js';
import { deteriorationPrefetch } from '../deterioration/definition.js';
import { BLOOD_CULTURE_CODES, LACTATE_CODES } from './bundle-items.js';

export const SEPSIS_BUNDLE_SERVICE_ID = 'vigil-sepsis-bundle';

export const BUNDLE_PREFETCH_KEYS = { orders: 'bundleOrders', cultures: 'bloodCultures' } as const;

const tokens = (codes: readonly string[]) => codes.map((code) => `${LOINC}|${code}`).join(',');

export function sepsisBundlePrefetch(): Record<string, string> {
  return {
    ...deteriorationPrefetch(),
    [BUNDLE_PREFETCH_KEYS.orders]: `ServiceRequest?patient={{context.patientId}}&code=${tokens([...LACTATE_CODES, ...BLOOD_CULTURE_CODES])}&_sort=-authored&_count=50`,
    [BUNDLE_PREFETCH_KEYS.cultures]: `Observation?patient={{context.patientId}}&code=${tokens(BLOOD_CULTURE_CODES)}&_sort=-date&_count=20`,
  };
}

export function sepsisBundleDefinition(): CdsServiceDefinition {
  return {
    id: SEPSIS_BUNDLE_SERVICE_ID,
    hook: 'order-sign',
    title: 'Sepsis hour-1 bundle check at order signing',
    description:
      'When orders are signed for a patient whose sepsis risk (the deterioration model) is in the high band, checks ' +
      'that a lactate and blood cultures have been taken or ordered recently or are among the orders being signed, ' +
      'and offers to add the missing ones. Silent otherwise.',
    usageRequirements:
      'Adult ICU patients, as vigil-deterioration. Reads the Patient, the model\'s Observations, lactate and blood-culture ' +
      'ServiceRequests and blood-culture Observations; needs patient/Patient.read, patient/Observation.rs and ' +
      'patient/ServiceRequest.rs when the EHR does not prefetch.',
    prefetch: sepsisBundlePrefetch(),
  };
}
