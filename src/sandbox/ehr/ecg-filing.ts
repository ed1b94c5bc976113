/**
 * The sandbox EHR files a new ECG (issue 10, "a new-ECG trigger"): one of the shipped rhythm strips
 * (data/sandbox-ecg) copied as a new Observation for the chosen patient — what an EHR does when a recording
 * arrives — then the filed-ECG hook fired the way an EHR would (context.observations = a Bundle holding the
 * new Observation). Filing writes to the sandbox FHIR store, so the store's write listeners (the precompute
 * worker's ECG trigger) see it too. Also the patient's RiskAssessments, as an EHR inbox lists them.
 */
import type { Bundle, Observation, Resource, RiskAssessment } from 'fhir/r4';
import { z } from 'zod';
import { BadRequestError, NotFoundError } from '../../errors.js';
import { ECG_CODES, LOINC } from '../../fhir/codes.js';

/** Shipped tracings have ids "ecg-<record>" (src/models/ecg/sandbox-observations.ts); filed copies get new ids. */
const SHIPPED_ID = /^ecg-[a-z0-9]+$/;
const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;
const LOCAL = { baseUrl: 'urn:sandbox' };

export interface EcgStore {
  get(relativeUrl: string, opts: { baseUrl: string }): Resource;
  create<T extends Resource>(resource: T): T;
}

export interface ShippedTracing {
  /** Observation id of the shipped tracing. */
  id: string;
  patientId: string;
  /** Device text: the Challenge record and its reference label. */
  label: string;
}

function entriesOf<T extends Resource>(bundle: Resource, type: T['resourceType']): T[] {
  return ((bundle as Bundle).entry ?? []).flatMap((e) => (e.resource?.resourceType === type ? [e.resource as Resource as T] : []));
}

/** The shipped ECG tracings and the patients they belong to. */
export function shippedTracings(store: Pick<EcgStore, 'get'>): ShippedTracing[] {
  const bundle = store.get(`Observation?code=${LOINC}|${ECG_CODES.ekgStudy}&_count=200`, LOCAL);
  return entriesOf<Observation>(bundle, 'Observation')
    .filter((o) => o.id && SHIPPED_ID.test(o.id))
    .map((o) => ({ id: o.id!, patientId: (o.subject?.reference ?? '').replace(/^Patient\//, ''), label: o.device?.display ?? o.code.text ?? o.id! }))
    .sort((a, b) => a.id.localeCompare(b.id));
}

const fileInputSchema = z.object({
  patientId: z.string().regex(FHIR_ID, 'must be a FHIR id'),
  tracingId: z.string().regex(SHIPPED_ID, 'must be a shipped tracing id like "ecg-a00027"'),
});
export type FileEcgInput = z.infer<typeof fileInputSchema>;

export function parseFileEcgInput(body: unknown): FileEcgInput {
  const parsed = fileInputSchema.safeParse(body);
  if (!parsed.success) throw new BadRequestError('Invalid ECG filing', parsed.error.issues.map((i) => ({ field: i.path.join('.') || 'body', message: i.message })));
  return parsed.data;
}

/**
 * A new final ECG Observation for the patient carrying the shipped tracing's waveform, recorded `now`
 * (pure). Its id is left to the store, as on a FHIR create.
 */
export function filedEcgObservation(shipped: Observation, input: { patientId: string; encounterId?: string; now: Date }): Observation {
  const at = input.now.toISOString();
  return {
    resourceType: 'Observation',
    ...(shipped.meta?.tag ? { meta: { tag: shipped.meta.tag.map((t) => ({ ...t })) } } : {}),
    status: 'final',
    ...(shipped.category ? { category: structuredClone(shipped.category) } : {}),
    code: structuredClone(shipped.code),
    subject: { reference: `Patient/${input.patientId}` },
    ...(input.encounterId ? { encounter: { reference: `Encounter/${input.encounterId}` } } : {}),
    effectiveDateTime: at,
    issued: at,
    ...(shipped.device ? { device: { ...shipped.device } } : {}),
    ...(shipped.valueSampledData ? { valueSampledData: structuredClone(shipped.valueSampledData) } : {}),
    ...(shipped.component ? { component: structuredClone(shipped.component) } : {}),
  };
}

/** Files a copy of the shipped tracing for the patient; returns the stored Observation. */
export function fileEcg(store: EcgStore, input: FileEcgInput & { encounterId?: string; now: Date }): Observation {
  let shipped: Resource;
  try {
    shipped = store.get(`Observation/${input.tracingId}`, LOCAL);
  } catch (err) {
    if (err instanceof NotFoundError) throw new NotFoundError(`No shipped ECG "${input.tracingId}"`, [{ field: 'tracingId', message: 'not in the sandbox' }]);
    throw err;
  }
  return store.create(filedEcgObservation(shipped as Observation, input));
}

export interface RiskAssessmentSummary {
  id: string;
  status: string;
  occurrence?: string;
  method?: string;
  basis: string[];
  /** The first prediction: what the assessment is mainly about. */
  outcome?: string;
  probability?: number;
}

/** The patient's RiskAssessments, newest first, summarised for the page's inbox. */
export function riskAssessmentsOf(store: Pick<EcgStore, 'get'>, patientId: string): RiskAssessmentSummary[] {
  const bundle = store.get(`RiskAssessment?patient=Patient/${encodeURIComponent(patientId)}&_sort=-date&_count=50`, LOCAL);
  return entriesOf<RiskAssessment>(bundle, 'RiskAssessment').map((ra) => {
    const first = ra.prediction?.[0];
    const occurrence = ra.occurrenceDateTime ?? ra.occurrencePeriod?.end;
    const method = ra.method?.coding?.[0]?.display ?? ra.method?.text;
    const outcome = first?.outcome?.text ?? first?.outcome?.coding?.[0]?.display;
    return {
      id: ra.id!,
      status: ra.status,
      ...(occurrence ? { occurrence } : {}),
      ...(method ? { method } : {}),
      basis: (ra.basis ?? []).flatMap((b) => (b.reference ? [b.reference] : [])),
      ...(outcome ? { outcome } : {}),
      ...(typeof first?.probabilityDecimal === 'number' ? { probability: first.probabilityDecimal } : {}),
    };
  });
}
