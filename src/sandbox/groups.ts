/**
 * The sandbox EHR's patient groups, built from data/sandbox/index.json at load time so they always name
 * exactly the shipped patients: the cohorts a FHIR Bulk Data group export (src/sandbox/fhir/bulk-export.ts)
 * and `npm run score-population -- --group <id>` work on. FHIR R4 Group (https://hl7.org/fhir/R4/group.html),
 * `actual` groups of persons. Pure.
 */
import type { Group } from 'fhir/r4';
import type { SandboxIndex } from './patients.js';

/** Identifier system of the sandbox's groups. */
export const SANDBOX_GROUP_SYSTEM = 'http://vigil.example.org/sandbox/group';

export const SANDBOX_GROUPS = {
  /** Every shipped patient: each is an ICU stay (PhysioNet 2019). */
  icu: 'icu-cohort',
  /** Patients with a cardiology work-up on record (UCI Heart Disease row): those the heart-disease model can score. */
  cardiology: 'cardiology-clinic',
} as const;

function group(id: string, name: string, patientIds: readonly string[]): Group {
  return {
    resourceType: 'Group',
    id,
    identifier: [{ system: SANDBOX_GROUP_SYSTEM, value: id }],
    active: true,
    type: 'person',
    actual: true,
    name,
    quantity: patientIds.length,
    member: patientIds.map((p) => ({ entity: { reference: `Patient/${p}` } })),
  };
}

export function sandboxGroups(index: SandboxIndex): Group[] {
  return [
    group(SANDBOX_GROUPS.icu, 'ICU cohort', index.patients.map((p) => p.id)),
    group(SANDBOX_GROUPS.cardiology, 'Cardiology clinic', index.patients.filter((p) => p.provenance.uci !== null).map((p) => p.id)),
  ];
}
