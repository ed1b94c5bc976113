/**
 * Observation access for models and services: a patient's Observations for a set of LOINC codes in a
 * time window, read through the resilient client, and flattened into values in the units the caller
 * asks for (UCUM conversion via src/fhir/ucum.ts).
 *
 * FHIR R4 Observation (https://hl7.org/fhir/R4/observation.html): valueQuantity, component (e.g. the
 * 85354-9 blood-pressure panel's 8480-6 / 8462-4) and valueCodeableConcept are read; a component is
 * reported under its own code. Search: patient, code (token list), date (ge/le).
 */
import type { Coding, Observation, Quantity } from 'fhir/r4';
import { LOINC } from './codes.js';
import { convertUcum, toUcumCode, UCUM_SYSTEM } from './ucum.js';
import type { FhirClient } from './fhir-client.js';

export interface ObservationQuery {
  patientId: string;
  /** LOINC codes (panels included: their components are read). */
  codes: readonly string[];
  from?: Date;
  to?: Date;
  /** Page size. Default 200. */
  count?: number;
  maxPages?: number;
  signal?: AbortSignal;
}

/** Fetches the Observations (all pages up to the cap). */
export async function fetchObservations(client: FhirClient, query: ObservationQuery): Promise<{ observations: Observation[]; truncated: boolean }> {
  const params = new URLSearchParams({ patient: `Patient/${query.patientId}`, code: query.codes.map((c) => `${LOINC}|${c}`).join(',') });
  if (query.from) params.append('date', `ge${query.from.toISOString()}`);
  if (query.to) params.append('date', `le${query.to.toISOString()}`);
  const result = await client.search<Observation>('Observation', params, {
    count: query.count ?? 200,
    ...(query.maxPages !== undefined ? { maxPages: query.maxPages } : {}),
    ...(query.signal ? { signal: query.signal } : {}),
  });
  return { observations: result.resources, truncated: result.truncated };
}

export interface ObservationValue {
  /** LOINC code of the observation or of the component. */
  code: string;
  observationId?: string;
  /** effectiveDateTime, effectivePeriod.start or effectiveInstant. */
  time?: string;
  status: Observation['status'];
  /** Numeric value in `unit` (the target unit when one was asked for and conversion succeeded). */
  value?: number;
  unit?: string;
  comparator?: Quantity['comparator'];
  /** Coded answer (valueCodeableConcept). */
  coding?: Coding[];
  text?: string;
  /** Why a value could not be used as asked (unit not convertible, not UCUM…). */
  problem?: string;
}

/** Target UCUM unit per LOINC code; codes not listed keep their own unit. */
export type TargetUnits = Readonly<Record<string, string>>;

function loincOf(codings: readonly Coding[] | undefined): string | undefined {
  return codings?.find((c) => c.system === LOINC && c.code)?.code;
}

function timeOf(obs: Observation): string | undefined {
  return obs.effectiveDateTime ?? obs.effectivePeriod?.start ?? obs.effectiveInstant ?? undefined;
}

/** A Quantity in the target unit (or its own UCUM unit); `problem` says why not. */
export function normalizeQuantity(q: Quantity, target: string | undefined): Pick<ObservationValue, 'value' | 'unit' | 'comparator' | 'problem'> {
  if (typeof q.value !== 'number') return { problem: 'no numeric value' };
  const from = (q.system === UCUM_SYSTEM && q.code ? q.code : undefined) ?? toUcumCode(q.code ?? q.unit);
  const base = { ...(q.comparator ? { comparator: q.comparator } : {}) };
  if (!target) return { ...base, value: q.value, ...(from ?? q.unit ? { unit: from ?? q.unit } : {}) };
  if (!from) return { ...base, value: q.value, ...(q.unit ? { unit: q.unit } : {}), problem: `unit "${q.unit ?? q.code ?? ''}" is not UCUM` };
  const converted = convertUcum(q.value, from, target);
  if (converted === undefined) return { ...base, value: q.value, unit: from, problem: `cannot convert ${from} to ${target}` };
  return { ...base, value: converted, unit: target };
}

/** One Observation as values: itself (if it has a value) and each component with a LOINC code. Pure. */
export function observationValues(obs: Observation, targets: TargetUnits = {}): ObservationValue[] {
  const out: ObservationValue[] = [];
  const time = timeOf(obs);
  const common = { ...(obs.id ? { observationId: obs.id } : {}), ...(time ? { time } : {}), status: obs.status };
  const own = loincOf(obs.code?.coding);
  if (own && (obs.valueQuantity || obs.valueCodeableConcept || obs.valueString !== undefined)) {
    out.push({
      code: own,
      ...common,
      ...(obs.valueQuantity ? normalizeQuantity(obs.valueQuantity, targets[own]) : {}),
      ...(obs.valueCodeableConcept ? { coding: obs.valueCodeableConcept.coding ?? [], ...(obs.valueCodeableConcept.text ? { text: obs.valueCodeableConcept.text } : {}) } : {}),
      ...(obs.valueString !== undefined ? { text: obs.valueString } : {}),
    });
  }
  for (const component of obs.component ?? []) {
    const code = loincOf(component.code?.coding);
    if (!code) continue;
    if (!component.valueQuantity && !component.valueCodeableConcept) continue;
    out.push({
      code,
      ...common,
      ...(component.valueQuantity ? normalizeQuantity(component.valueQuantity, targets[code]) : {}),
      ...(component.valueCodeableConcept ? { coding: component.valueCodeableConcept.coding ?? [] } : {}),
    });
  }
  return out;
}

/**
 * The use case: values of these LOINC codes for a patient in a window, in the units asked for,
 * newest first. Values whose code was not asked for (other components of a panel) are dropped.
 */
export async function readObservationValues(client: FhirClient, query: ObservationQuery, targets: TargetUnits = {}): Promise<{ values: ObservationValue[]; truncated: boolean }> {
  const { observations, truncated } = await fetchObservations(client, query);
  const wanted = new Set(query.codes);
  const values = observations
    .flatMap((o) => observationValues(o, targets))
    .filter((v) => wanted.has(v.code))
    .sort((a, b) => (b.time ? Date.parse(b.time) : -Infinity) - (a.time ? Date.parse(a.time) : -Infinity));
  return { values, truncated };
}
