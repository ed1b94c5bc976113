/**
 * Canned draft orders the sandbox EHR offers on order-select and order-sign. They are built fresh for
 * each call (patient, encounter, author, time) with stable ids so `selections` can refer to them.
 * Hook definitions: https://cds-hooks.hl7.org/hooks/order-select/ and …/order-sign/ — `draftOrders`
 * is a Bundle of resources with status "draft".
 */
import type { Bundle, MedicationRequest, Reference, ServiceRequest } from 'fhir/r4';
import { LABS, LOINC, RXNORM, SANDBOX_ORDERABLES, SNOMED } from '../../fhir/codes.js';

export type DraftOrder = ServiceRequest | MedicationRequest;

export interface DraftOrderContext {
  patientId: string;
  encounterId?: string;
  /** FHIR reference to the ordering user, e.g. "Practitioner/sandbox-clinician". */
  userId: string;
  now: Date;
}

interface CannedOrder {
  key: string;
  label: string;
  build(ctx: DraftOrderContext): DraftOrder;
}

function common(ctx: DraftOrderContext): { subject: Reference; encounter?: Reference; requester: Reference; authoredOn: string } {
  return {
    subject: { reference: `Patient/${ctx.patientId}` },
    ...(ctx.encounterId ? { encounter: { reference: `Encounter/${ctx.encounterId}` } } : {}),
    requester: { reference: ctx.userId },
    authoredOn: ctx.now.toISOString(),
  };
}

const CANNED: readonly CannedOrder[] = [
  {
    key: 'stress-test',
    label: 'Cardiac stress test (exercise tolerance test)',
    build: (ctx) => ({
      resourceType: 'ServiceRequest',
      id: 'draft-stress-test',
      status: 'draft',
      intent: 'order',
      code: {
        coding: [{ system: SNOMED, code: SANDBOX_ORDERABLES.exerciseToleranceTest, display: 'Exercise tolerance test' }],
        text: 'Cardiac stress test',
      },
      ...common(ctx),
    }),
  },
  {
    key: 'ecg',
    label: '12-lead ECG',
    build: (ctx) => ({
      resourceType: 'ServiceRequest',
      id: 'draft-ecg',
      status: 'draft',
      intent: 'order',
      code: {
        coding: [{ system: SNOMED, code: SANDBOX_ORDERABLES.electrocardiogram, display: 'Electrocardiographic procedure' }],
        text: '12-lead ECG',
      },
      ...common(ctx),
    }),
  },
  {
    key: 'lactate',
    label: 'Lactate (serum), stat',
    build: (ctx) => ({
      resourceType: 'ServiceRequest',
      id: 'draft-lactate',
      status: 'draft',
      intent: 'order',
      priority: 'stat',
      code: { coding: [{ system: LOINC, code: LABS.lactate, display: 'Lactate [Moles/volume] in Serum or Plasma' }], text: 'Lactate' },
      ...common(ctx),
    }),
  },
  {
    key: 'blood-cultures',
    label: 'Blood cultures ×2, stat',
    build: (ctx) => ({
      resourceType: 'ServiceRequest',
      id: 'draft-blood-cultures',
      status: 'draft',
      intent: 'order',
      priority: 'stat',
      code: { coding: [{ system: LOINC, code: '600-7', display: 'Bacteria identified in Blood by Culture' }], text: 'Blood cultures' },
      note: [{ text: 'Two sets from separate sites' }],
      ...common(ctx),
    }),
  },
  {
    key: 'aspirin',
    label: 'Aspirin 81 mg delayed-release tablet, once daily',
    build: (ctx) => ({
      resourceType: 'MedicationRequest',
      id: 'draft-aspirin',
      status: 'draft',
      intent: 'order',
      medicationCodeableConcept: {
        coding: [{ system: RXNORM, code: SANDBOX_ORDERABLES.aspirin81, display: 'aspirin 81 MG Delayed Release Oral Tablet' }],
        text: 'Aspirin 81 mg DR tablet',
      },
      dosageInstruction: [{ text: '81 mg by mouth once daily' }],
      ...common(ctx),
    }),
  },
];

/** The orders the page offers: key and human label. */
export function listDraftOrderChoices(): Array<{ key: string; label: string; resourceType: DraftOrder['resourceType'] }> {
  const probe: DraftOrderContext = { patientId: 'x', userId: 'Practitioner/x', now: new Date(0) };
  return CANNED.map((o) => ({ key: o.key, label: o.label, resourceType: o.build(probe).resourceType }));
}

export function isDraftOrderKey(key: string): boolean {
  return CANNED.some((o) => o.key === key);
}

/** Builds the draftOrders Bundle (type collection) for the chosen keys, in the order given. */
export function buildDraftOrders(keys: readonly string[], ctx: DraftOrderContext): Bundle<DraftOrder> {
  const orders = keys.map((key) => {
    const canned = CANNED.find((o) => o.key === key);
    if (!canned) throw new RangeError(`Unknown draft order "${key}"`);
    return canned.build(ctx);
  });
  return {
    resourceType: 'Bundle',
    type: 'collection',
    entry: orders.map((resource) => ({ resource })),
  };
}
