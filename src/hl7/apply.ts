/**
 * Applies one queued message to the FHIR store: plan (src/hl7/plan.ts) — handed over by the listener,
 * or parsed from the raw text after a restart — find the Patient by PID-3 identifier (in message
 * order; the first match wins), bind, write.
 */
import type { Encounter, Patient } from 'fhir/r4';
import { parseHl7 } from './message.js';
import { bindPlan, planMessage, type IngestPlan, type PlanOptions } from './plan.js';
import type { FhirWriter } from './fhir-writer.js';

export interface ApplyResult {
  event: string;
  patientId: string;
  /** Observations written (new data a model may score). */
  observations: number;
}

/** Applies a queued message from its raw text (replay after a restart, or no plan was kept). */
export function applyMessage(raw: string, writer: FhirWriter, options: PlanOptions): Promise<ApplyResult> {
  return applyPlan(planMessage(parseHl7(raw), options), writer);
}

/** Applies a message already parsed and mapped (the plan the listener built to decide the ACK). */
export async function applyPlan(plan: IngestPlan, writer: FhirWriter): Promise<ApplyResult> {
  let patient: Patient | undefined;
  for (const identifier of plan.identifiers) {
    patient = await writer.findPatient(identifier);
    if (patient) break;
  }
  const encounter = plan.encounter?.id && plan.keepStoredEncounterStatus ? await writer.read<Encounter>('Encounter', plan.encounter.id) : undefined;
  const { patientId, resources } = bindPlan(plan, { ...(patient ? { patient } : {}), ...(encounter ? { encounter } : {}) });
  await writer.write(resources);
  return { event: plan.event, patientId, observations: plan.observations.length };
}
