/**
 * The context each supported hook carries, as the CDS Hooks 2.0 hook catalogue defines it
 * (https://cds-hooks.hl7.org/hooks/): which fields are REQUIRED, their types and, for `userId`,
 * which FHIR resource types the current user may be. Data only; src/cds-hooks/validation.ts applies it.
 */

export type ContextFieldType =
  /** `Type/id` relative reference to the current user. */
  | 'userReference'
  /** A FHIR logical id (R4 `id` datatype). */
  | 'fhirId'
  /** A FHIR Bundle resource. */
  | 'bundle'
  /** Non-empty array of relative references (order-select `selections`). */
  | 'referenceArray';

export interface ContextFieldSpec {
  required: boolean;
  type: ContextFieldType;
}

export interface HookSpec {
  context: Record<string, ContextFieldSpec>;
  /** Resource types `context.userId` may name for this hook. */
  userTypes: readonly string[];
}

const ANY_USER = ['Practitioner', 'PractitionerRole', 'Patient', 'RelatedPerson'] as const;
const CLINICIAN = ['Practitioner', 'PractitionerRole'] as const;

const userId: ContextFieldSpec = { required: true, type: 'userReference' };
const patientId: ContextFieldSpec = { required: true, type: 'fhirId' };
const optionalEncounterId: ContextFieldSpec = { required: false, type: 'fhirId' };
const requiredEncounterId: ContextFieldSpec = { required: true, type: 'fhirId' };

export const HOOKS: Record<string, HookSpec> = {
  /** patient-view 1.0: user opens a patient's record. */
  'patient-view': { userTypes: ANY_USER, context: { userId, patientId, encounterId: optionalEncounterId } },
  /** order-select 1.0: user selects order(s); `selections` must name resources in `draftOrders`. */
  'order-select': {
    userTypes: ANY_USER,
    context: {
      userId,
      patientId,
      encounterId: optionalEncounterId,
      selections: { required: true, type: 'referenceArray' },
      draftOrders: { required: true, type: 'bundle' },
    },
  },
  /** order-sign 1.0: user is about to sign draft orders. */
  'order-sign': {
    userTypes: ANY_USER,
    context: { userId, patientId, encounterId: optionalEncounterId, draftOrders: { required: true, type: 'bundle' } },
  },
  /** encounter-start 1.0: user starts an encounter. */
  'encounter-start': { userTypes: CLINICIAN, context: { userId, patientId, encounterId: requiredEncounterId } },
  /** encounter-discharge 1.0: user performs the discharge process. */
  'encounter-discharge': { userTypes: CLINICIAN, context: { userId, patientId, encounterId: requiredEncounterId } },
  /** appointment-book 1.0: user schedules future appointments (Bundle of proposed Appointments). */
  'appointment-book': {
    userTypes: ANY_USER,
    context: {
      userId,
      patientId,
      encounterId: optionalEncounterId,
      appointments: { required: true, type: 'bundle' },
    },
  },
  /**
   * Vigil's own hook (docs/services/ecg-rhythm.md §Filed-ECG hook): result Observations were just filed for a
   * patient. No hook for filed results exists in the CDS Hooks library, so the name is reverse-domain as the
   * spec requires of organisation-specific hooks (§Hook Definition Format); the context mirrors the library's
   * problem-list-item-create (`conditions` Bundle → `observations` Bundle). Maturity 0 (Draft).
   */
  'org.example.vigil.observation-create': {
    userTypes: ANY_USER,
    context: { userId, patientId, encounterId: optionalEncounterId, observations: { required: true, type: 'bundle' } },
  },
};

export function hookSpec(hook: string): HookSpec | undefined {
  return Object.prototype.hasOwnProperty.call(HOOKS, hook) ? HOOKS[hook] : undefined;
}
