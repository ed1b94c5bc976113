/**
 * Gathers what the deterioration model reads from a hook call: the Patient and the Observations in the
 * prefetch Bundle, following the Bundle's `next` links (FHIR R4 §3.1.1.4 paging) through the hook's own
 * FHIR reader while the page still reaches into the window. Links to any other server are not followed:
 * the EHR's token must never leave for a host the EHR did not name.
 */
import type { Bundle, FhirResource, Observation, Patient } from 'fhir/r4';
import type { FhirReader, HookInvocation } from '../../types.js';
import { PREFETCH_KEYS } from './definition.js';
import { isWellFormedResource } from '../../../fhir/shape.js';

/** Statuses whose values may be acted on (http://hl7.org/fhir/R4/valueset-observation-status.html). */
const USABLE_STATUSES: ReadonlySet<string> = new Set(['final', 'amended', 'corrected', 'preliminary']);

/** Most extra pages read for one call. */
export const MAX_PAGES = 10;

export interface DeteriorationData {
  patient: Patient | undefined;
  observations: Observation[];
  /** Set when paging stopped before the start of the window (page cap, foreign link or read failure). */
  truncated?: string;
}

function entries(bundle: Bundle): FhirResource[] {
  // Pages read from the FHIR server are checked like the prefetch (src/fhir/shape.ts).
  return (Array.isArray(bundle.entry) ? bundle.entry : []).map((e: unknown) => (e as { resource?: unknown } | null)?.resource).filter(isWellFormedResource);
}

function timeOf(o: Observation): number {
  const text = o.effectiveDateTime ?? o.effectivePeriod?.start ?? o.effectiveInstant ?? o.issued;
  const t = text ? Date.parse(text) : NaN;
  return Number.isNaN(t) ? Infinity : t;
}

/** The `next` link as a URL relative to fhirServer, or undefined when there is none or it points elsewhere. */
export function relativeNextLink(bundle: Bundle, fhirServer: string | undefined): string | undefined | null {
  const next = (Array.isArray(bundle.link) ? bundle.link : []).find((l) => l?.relation === 'next')?.url;
  if (!next) return undefined;
  if (!fhirServer) return null;
  const base = fhirServer.replace(/\/+$/, '') + '/';
  return next.startsWith(base) && next.length > base.length ? next.slice(base.length) : null;
}

/** Usable Observations (final, amended, corrected, preliminary) — entered-in-error never reaches the model. */
export function usableObservations(resources: readonly FhirResource[]): Observation[] {
  return resources.filter((r): r is Observation => r?.resourceType === 'Observation' && USABLE_STATUSES.has(r.status));
}

/** Where the data come from: a hook call's prefetch and FHIR reader, or the precompute worker's FHIR source. */
export interface DataSource {
  prefetch: Record<string, FhirResource | null | undefined>;
  /** Base URL `next` links must start with to be followed. */
  fhirServer?: string;
  fhir?: Pick<FhirReader, 'get'>;
}

export async function collectDeteriorationData(invocation: HookInvocation, windowStart: Date): Promise<DeteriorationData> {
  return collectFromSource(
    { prefetch: invocation.prefetch, ...(invocation.request.fhirServer ? { fhirServer: invocation.request.fhirServer } : {}), ...(invocation.fhir ? { fhir: invocation.fhir } : {}) },
    windowStart,
  );
}

export async function collectFromSource(invocation: DataSource, windowStart: Date): Promise<DeteriorationData> {
  const patientValue = invocation.prefetch[PREFETCH_KEYS.patient];
  const patient = patientValue?.resourceType === 'Patient' ? patientValue : undefined;
  const first = invocation.prefetch[PREFETCH_KEYS.observations];
  if (!first) return { patient, observations: [] };
  if (first.resourceType !== 'Bundle') return { patient, observations: usableObservations([first]) };

  const resources = entries(first);
  let page: Bundle = first;
  let truncated: string | undefined;
  for (let pages = 0; ; pages++) {
    const observations = usableObservations(entries(page));
    const oldest = Math.min(...observations.map(timeOf));
    // Sorted newest first: once a page reaches before the window, later pages are older still.
    if (observations.length && oldest < windowStart.getTime()) break;
    const next = relativeNextLink(page, invocation.fhirServer);
    if (next === undefined) break;
    if (next === null || !invocation.fhir) {
      truncated = 'more Observations exist on another server than the one the EHR named; they were not read';
      break;
    }
    if (pages >= MAX_PAGES) {
      truncated = `only the newest ${MAX_PAGES + 1} pages of Observations were read`;
      break;
    }
    try {
      const value = await invocation.fhir.get(next);
      if (value.resourceType !== 'Bundle') break;
      page = value;
      resources.push(...entries(page));
    } catch {
      truncated = 'a further page of Observations could not be read from the FHIR server';
      break;
    }
  }
  return { patient, observations: usableObservations(resources), ...(truncated ? { truncated } : {}) };
}
