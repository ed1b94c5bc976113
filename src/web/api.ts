/**
 * The page's only way to data: /app/api on its own origin, naming its launch with X-Vigil-Context. The
 * server holds the SMART tokens (src/smart/app-launch/api-router.ts). Failures become ViewError with a
 * sentence a clinician can act on.
 */
import type { Bundle, FhirResource, Observation, Patient, RiskAssessment } from 'fhir/r4';
import type { ExplanationRecord, ExplanationSummary, ScoreTrend } from './model.js';

export interface LaunchContext {
  patient: string;
  encounter?: string;
  needPatientBanner: boolean;
  hasStyle: boolean;
  appContext?: string;
  fhirBase: string;
  feedbackReasons: Array<{ system?: string; code: string; display?: string }>;
}

export class ViewError extends Error {
  constructor(
    message: string,
    readonly status: number,
    /** True when the only way on is a new launch from the EHR. */
    readonly relaunch = false,
  ) {
    super(message);
  }
}

const RELAUNCH = "Your Vigil session has ended. Open Vigil again from the patient's chart.";

/** What a clinician is told for each failure, by what was being fetched. */
export function messageFor(status: number, what: 'explanation' | 'record' | 'model card' | 'feedback' | 'context'): ViewError {
  if (status === 401) return new ViewError(RELAUNCH, status, true);
  if (status === 403) {
    // The API answers 403, not 404, for an id it does not hold (a SMART token confined to one patient cannot be
    // checked against a record that is not there): a card older than the retention period ends here too, so
    // the sentence must not claim the record belongs to someone else.
    return new ViewError(
      what === 'explanation' || what === 'feedback'
        ? 'This explanation is not shown: it belongs to a different patient from the one open in the EHR, or it is no longer kept. Open the latest Vigil card for this patient.'
        : 'Vigil is not allowed to read this part of the patient record.',
      status,
    );
  }
  if (status === 404) {
    if (what === 'explanation') return new ViewError('This explanation is no longer available. Open the latest Vigil card for this patient again.', status);
    if (what === 'model card') return new ViewError('The description of this model is not available.', status);
    return new ViewError('This information was not found in the patient record.', status);
  }
  if (status === 400 && what === 'feedback') return new ViewError('The feedback could not be saved: choose a reason for the override.', status);
  if (status >= 500) return new ViewError('Vigil or the record system is not answering right now. Try again in a minute.', status);
  return new ViewError('Something went wrong while loading this page. Try again.', status);
}

export class Api {
  constructor(private readonly ctx: string) {}

  private async get<T>(path: string, what: Parameters<typeof messageFor>[1]): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`/app/api/${path}`, { headers: { Accept: 'application/json', 'X-Vigil-Context': this.ctx }, credentials: 'same-origin' });
    } catch {
      throw new ViewError('Vigil cannot be reached. Check the network connection and try again.', 0);
    }
    if (!res.ok) throw messageFor(res.status, what);
    return (await res.json()) as T;
  }

  context(): Promise<LaunchContext> {
    return this.get('context', 'context');
  }

  style(): Promise<Record<string, unknown>> {
    return this.get('style', 'context');
  }

  patient(id: string): Promise<Patient> {
    return this.get(`fhir/Patient/${encodeURIComponent(id)}`, 'record');
  }

  observation(reference: string): Promise<Observation> {
    const id = reference.replace(/^Observation\//, '');
    return this.get(`fhir/Observation/${encodeURIComponent(id)}`, 'record');
  }

  /** The patient's Observations in [from, to], following `next` links (bounded). */
  async observations(patient: string, from: string, to: string, maxPages = 5): Promise<Observation[]> {
    let query = `fhir/Observation?patient=${encodeURIComponent(patient)}&date=ge${encodeURIComponent(from)}&date=le${encodeURIComponent(to)}&_count=500`;
    const out: Observation[] = [];
    for (let page = 0; page < maxPages && query; page++) {
      const bundle = await this.get<Bundle>(query, 'record');
      for (const e of bundle.entry ?? []) if (e.resource?.resourceType === 'Observation') out.push(e.resource);
      const next = bundle.link?.find((l) => l.relation === 'next')?.url;
      query = next ? `fhir/Observation${new URL(next).search}` : '';
    }
    return out;
  }

  async riskAssessments(patient: string, from: string): Promise<RiskAssessment[]> {
    const bundle = await this.get<Bundle>(`fhir/RiskAssessment?patient=${encodeURIComponent(patient)}&date=ge${encodeURIComponent(from)}&_count=200`, 'record');
    return (bundle.entry ?? []).map((e) => e.resource).filter((r): r is RiskAssessment => (r as FhirResource | undefined)?.resourceType === 'RiskAssessment');
  }

  explanation(id: string): Promise<ExplanationRecord> {
    return this.get(`explanations/${encodeURIComponent(id)}`, 'explanation');
  }

  /** The record's 48 h trend, rescored hour by hour on the server (GET /explanations/{id}/trend). */
  trend(id: string): Promise<ScoreTrend> {
    return this.get(`explanations/${encodeURIComponent(id)}/trend`, 'explanation');
  }

  /** The patient's newest explanation of each model (GET /patients/{id}/explanations/latest). */
  latest(patient: string): Promise<{ patientId: string; explanations: ExplanationSummary[] }> {
    return this.get(`patients/${encodeURIComponent(patient)}/explanations/latest`, 'explanation');
  }

  modelCard(modelId: string): Promise<unknown> {
    return this.get(`models/${encodeURIComponent(modelId)}/card`, 'model card');
  }

  async feedback(body: { explanationId: string; outcome: 'agree' | 'override'; reasonCode?: string; comment?: string }): Promise<void> {
    let res: Response;
    try {
      res = await fetch('/app/api/feedback', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'X-Vigil-Context': this.ctx },
        credentials: 'same-origin',
        body: JSON.stringify(body),
      });
    } catch {
      throw new ViewError('Vigil cannot be reached; the feedback was not saved. Try again.', 0);
    }
    if (!res.ok) throw messageFor(res.status, 'feedback');
  }
}
