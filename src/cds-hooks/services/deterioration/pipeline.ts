/**
 * The steps of vigil-deterioration that the hook handler and the precompute worker (src/precompute) share,
 * so both build exactly the same model input from the same data — the condition for an explanation
 * computed ahead of time to be served with the hook's score (same data version, docs/explanations.md).
 *
 * The 48-hour window ends at the next whole hour after `now` (UTC hour boundaries; the last row is the
 * current, still-filling hour). Hourly rows on clock hours are what the PhysioNet grid is, and they make
 * the model input reproducible within the hour: a result computed when an HL7 result arrived at 10:15 is
 * the one the hook would compute at 10:40, unless new data arrived meanwhile.
 */
import type { Observation } from 'fhir/r4';
import { explainableFromRegistered, provenanceOfWindow, type Explainable, type PreparedInput } from '../../../explain/index.js';
import { buildDeteriorationWindow, type DeteriorationInput, type DeteriorationWindow, type RegisteredModel } from '../../../models/index.js';
import { assessWindow, observationsByIdOf, type Assessment } from './assess.js';
import type { DeteriorationData } from './data.js';

export const HOUR_MS = 3_600_000;

/** End of the window for a call at `now`: the next whole UTC hour (now itself when it is on the hour). */
export function windowEndFor(now: Date): Date {
  return new Date(Math.ceil(now.getTime() / HOUR_MS) * HOUR_MS);
}

export function windowHoursOf(model: Pick<RegisteredModel<DeteriorationInput>, 'manifest'>): number {
  return model.manifest.input.windowHours ?? 48;
}

/** Start of the window (for paging the prefetch far enough back). */
export function windowStartFor(model: Pick<RegisteredModel<DeteriorationInput>, 'manifest'>, now: Date): Date {
  return new Date(windowEndFor(now).getTime() - windowHoursOf(model) * HOUR_MS);
}

export interface DeteriorationScoring {
  window: DeteriorationWindow;
  /** The instant the window ends at. */
  asOf: Date;
  assessment: Assessment;
  observationsById: Map<string, Observation>;
}

/** Window and scorability of the collected data. Pure. */
export function scoreableWindow(model: RegisteredModel<DeteriorationInput>, data: DeteriorationData, now: Date): DeteriorationScoring {
  const asOf = windowEndFor(now);
  const window = buildDeteriorationWindow(data.patient, data.observations, asOf, windowHoursOf(model));
  const observationsById = observationsByIdOf(data.observations);
  const assessment = assessWindow(window, data.observations, { now, observationsById, ...(data.truncated ? { truncated: data.truncated } : {}) });
  return { window, asOf, assessment, observationsById };
}

/**
 * The explainable model and the prepared input (encoding, baselines, decoder, data version).
 * @throws UnprocessableEntityError when the model cannot score the window (as model.predict would).
 */
export function prepareForExplanation(
  model: RegisteredModel<DeteriorationInput>,
  window: DeteriorationWindow,
): { explainable: Explainable<DeteriorationInput>; prepared: PreparedInput } {
  const explainable = explainableFromRegistered(model);
  return { explainable, prepared: explainable.prepare(window.input, provenanceOfWindow(window)) };
}

/** "Patient/<id>", the patient part of the explanation cache key. */
export function patientReference(patientId: string): string {
  return `Patient/${patientId}`;
}
