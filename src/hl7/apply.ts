/**
 * Applies one queued message to the FHIR store: parse, plan (src/hl7/plan.ts), find the Patient by
 * PID-3 identifier (in message order; the first match wins), bind, write.
 */
import type { Encounter, Patient } from 'fhir/r4';
import { parseHl7 } from './message.js';
import { bindPlan, planMessage, type PlanOptions } from './plan.js';
import type { FhirWriter } from './fhir-writer.js';

export interface ApplyResult {
  event: string;
  patientId: string;
  /** Observations written (new data a model may score). */
  observations: number;
}

export async function applyMessage(raw: string, writer: FhirWriter, options: PlanOptions): Promise<ApplyResult> {
  const plan = planMessage(parseHl7(raw), options);
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
