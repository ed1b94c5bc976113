/**
 * Per model, how one patient's exported record becomes that model's input: the very steps the CDS
 * services run on a hook's prefetch (vigil-deterioration: window + scorability rules; vigil-heart-disease:
 * cardiology work-up inputs + plausibility), so a population score equals the score the hook would give
 * on the same data. Pure: a record in, an input with the Observations it rests on (RiskAssessment.basis)
 * or the reasons it cannot be scored out.
 */
import type { Encounter, FhirResource, Observation, Patient } from 'fhir/r4';
import { usableObservations } from '../cds-hooks/services/deterioration/data.js';
import { DETERIORATION_MODEL_ID, deteriorationCodes } from '../cds-hooks/services/deterioration/definition.js';
import { scoreableWindow } from '../cds-hooks/services/deterioration/pipeline.js';
import { HEART_MODEL_ID, heartObservationCodes } from '../cds-hooks/services/heart-disease/definition.js';
import { LOINC } from '../fhir/codes.js';
import { heartInputs } from '../cds-hooks/services/heart-disease/workup.js';
import { HEART_INPUTS } from '../models/data/uci-heart.js';
import type { DeteriorationInput, HeartDiseaseInput, ModelManifest, RegisteredModel } from '../models/index.js';

/** One patient's resources from the export, as the models read them. */
export interface PatientRecord {
  patientId: string;
  patient?: Patient;
  observations: Observation[];
  encounters: Encounter[];
}

export type PreparedInput<I> = { ok: true; input: I; basis: string[] } | { ok: false; reasons: string[] };

export interface PopulationModelAdapter<I = unknown> {
  modelId: string;
  /** Resource types the model reads (the `_type` of the export). */
  types: readonly string[];
  /**
   * Observation codes ("system|code", matched on Observation.code as the `code` search parameter is) the
   * model reads: the same set its service's prefetch asks for, so both see the same Observations.
   */
  observationCodes: readonly string[];
  prepare(record: PatientRecord, model: RegisteredModel<I>, now: Date): PreparedInput<I>;
}

/** Minimum adult age of the heart model (as vigil-heart-disease). */
const HEART_MIN_AGE = 18;

export const deteriorationAdapter: PopulationModelAdapter<DeteriorationInput> = {
  modelId: DETERIORATION_MODEL_ID,
  types: ['Patient', 'Observation'],
  observationCodes: deteriorationCodes().map((c) => `${LOINC}|${c}`),
  prepare(record, model, now) {
    const { window, assessment } = scoreableWindow(model, { patient: record.patient, observations: usableObservations(record.observations) }, now);
    if (!assessment.ok) return { ok: false, reasons: assessment.reasons };
    const basis = [...new Set(window.sources.flat(2))].sort().map((id) => `Observation/${id}`);
    return { ok: true, input: window.input, basis };
  },
};

export const heartDiseaseAdapter: PopulationModelAdapter<HeartDiseaseInput> = {
  modelId: HEART_MODEL_ID,
  types: ['Patient', 'Observation', 'Encounter'],
  observationCodes: heartObservationCodes(),
  prepare(record, model, now) {
    const scored = heartInputs(record.patient, usableObservations(record.observations), record.encounters, model.manifest as ModelManifest, now);
    if (scored.workupObservations.length === 0) return { ok: false, reasons: ['no cardiology work-up on record'] };
    const reasons = [...scored.problems];
    if (!Number.isNaN(scored.input.age) && scored.input.age < HEART_MIN_AGE) reasons.unshift(`the patient is ${scored.input.age}; the model was trained on adults only`);
    if (reasons.length) return { ok: false, reasons };
    const basis = [...new Set(HEART_INPUTS.flatMap((n) => scored.evidence[n]).filter((ref) => ref.startsWith('Observation/')))].sort();
    return { ok: true, input: scored.input, basis };
  },
};

export const POPULATION_ADAPTERS: ReadonlyMap<string, PopulationModelAdapter> = new Map(
  [deteriorationAdapter, heartDiseaseAdapter].map((a) => [a.modelId, a as PopulationModelAdapter]),
);

/** Resource types an export must include for these models. */
export function typesFor(adapters: readonly PopulationModelAdapter[]): string[] {
  return [...new Set(adapters.flatMap((a) => a.types))];
}

/** Observation codes any of these models reads. */
export function observationCodesFor(adapters: readonly PopulationModelAdapter[]): Set<string> {
  return new Set(adapters.flatMap((a) => a.observationCodes));
}

/**
 * Accumulates exported resources into one record per patient: only the types the models read, only
 * Observations with a code they read (an export holds every Observation; ECG tracings alone are large),
 * and nothing of patients to `skip` (finished before a resumption).
 */
export class PatientRecords {
  private readonly records = new Map<string, PatientRecord>();

  constructor(
    private readonly skip: ReadonlySet<string> = new Set(),
    private readonly observationCodes?: ReadonlySet<string>,
  ) {}

  private wanted(o: Observation): boolean {
    if (!this.observationCodes) return true;
    const codings = Array.isArray(o.code?.coding) ? o.code.coding : [];
    return codings.some((c) => this.observationCodes!.has(`${c?.system ?? ''}|${c?.code ?? ''}`));
  }

  private recordOf(patientId: string): PatientRecord | undefined {
    if (this.skip.has(patientId)) return undefined;
    let record = this.records.get(patientId);
    if (!record) this.records.set(patientId, (record = { patientId, observations: [], encounters: [] }));
    return record;
  }

  add(resource: FhirResource): void {
    switch (resource.resourceType) {
      case 'Patient':
        if (resource.id) {
          const record = this.recordOf(resource.id);
          if (record) record.patient = resource;
        }
        return;
      case 'Observation': {
        const id = patientIdOf(resource.subject?.reference);
        if (id && this.wanted(resource)) this.recordOf(id)?.observations.push(resource);
        return;
      }
      case 'Encounter': {
        const id = patientIdOf(resource.subject?.reference);
        if (id) this.recordOf(id)?.encounters.push(resource);
        return;
      }
      default:
        return;
    }
  }

  /** Patients with a Patient resource, in a stable order (sorted ids) so runs and resumptions agree. */
  complete(): PatientRecord[] {
    return [...this.records.values()].filter((r) => r.patient !== undefined).sort((a, b) => (a.patientId < b.patientId ? -1 : a.patientId > b.patientId ? 1 : 0));
  }
}

/** "Patient/<id>" (relative, or absolute ending so) → id. */
export function patientIdOf(reference: string | undefined): string | undefined {
  const match = /(?:^|\/)Patient\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/.exec(reference ?? '');
  return match?.[1];
}
