/**
 * Picks the NEWS2 inputs out of FHIR R4 Observations (http://hl7.org/fhir/R4/observation.html and
 * the vital-signs profile, http://hl7.org/fhir/R4/observation-vitalsigns.html). Pure.
 *
 * For each parameter the most recent usable reading wins. Observations are classified by their
 * own codes, not by the prefetch key that brought them, so a server that answers a systolic query
 * with the BP panel (or sends extra resources) is still read correctly. Readings that could not be
 * used and are newer than the one chosen are returned as rejections for the card.
 */
import type { CodeableConcept, Condition, Coding, Observation, ObservationComponent, Quantity } from 'fhir/r4';
import { ACVPU_ANSWERS, LOINC, NEWS2_CODES, SNOMED, VITALS } from '../../../fhir/codes.js';
import type { Acvpu, Consciousness, News2Inputs, News2Parameter } from './score.js';
import { formatNumber, normalizeQuantity, type QuantityKind } from './units.js';

/** Statuses whose values may be acted on (http://hl7.org/fhir/R4/valueset-observation-status.html). */
const USABLE_STATUSES: ReadonlySet<Observation['status']> = new Set(['final', 'amended', 'corrected', 'preliminary']);

/** Clock skew tolerated before a reading counts as "in the future". */
const FUTURE_TOLERANCE_MS = 5 * 60_000;

export interface ReadingValues {
  respiratoryRate: number;
  spo2: number;
  airOrOxygen: boolean;
  systolicBp: number;
  pulse: number;
  consciousness: Consciousness;
  temperature: number;
}

interface ReadingOf<P extends News2Parameter> {
  parameter: P;
  value: ReadingValues[P];
  /** Value and unit as shown on the card, e.g. "26 /min", "FiO2 28 %", "GCS 13". */
  display: string;
  /** "Observation/<id>" when the resource has an id. */
  reference: string | undefined;
  /** The reading's clinically relevant time, ISO 8601 as recorded. */
  effective: string;
  ageMs: number;
  stale: boolean;
}

export type Reading = { [P in News2Parameter]: ReadingOf<P> }[News2Parameter];

export interface Rejection {
  parameter: News2Parameter;
  reference: string | undefined;
  effective: string | undefined;
  reason: string;
}

export interface Selection {
  readings: { [P in News2Parameter]?: ReadingOf<P> };
  rejected: Rejection[];
}

export interface SelectOptions {
  now: Date;
  /** Readings older than this are still scored but flagged stale. */
  staleAfterMs: number;
}

/** One parameter's value extracted from an Observation, before time and freshness are attached. */
type Extracted =
  | { ok: true; parameter: News2Parameter; value: ReadingValues[News2Parameter]; display: string; preference: number }
  | { ok: false; parameter: News2Parameter; reason: string; preference: number };

const SYSTOLIC_PANELS = new Set<string>([VITALS.bloodPressurePanel, NEWS2_CODES.bloodPressurePanelLegacy]);
const TEMPERATURE_CODES = new Set<string>([VITALS.bodyTemperature, NEWS2_CODES.oralTemperature]);
const SPO2_CODES = new Set<string>([VITALS.spo2, VITALS.oxygenSaturation]);

/**
 * The array at `value`, or [] — prefetch content is EHR-supplied JSON that the router does not
 * validate resource by resource, so a wrongly shaped element must read as absent, not throw.
 */
export function list<T>(value: readonly T[] | undefined): readonly T[] {
  return Array.isArray(value) ? value : [];
}

function hasCode(concept: CodeableConcept | undefined, system: string, wanted: ReadonlySet<string> | string): boolean {
  return list(concept?.coding).some(
    (c: Coding) => c?.system === system && typeof c.code === 'string' && (typeof wanted === 'string' ? c.code === wanted : wanted.has(c.code)),
  );
}

function numeric(parameter: News2Parameter, kind: QuantityKind, quantity: Quantity | undefined, prefix = ''): Extracted {
  const n = normalizeQuantity(kind, quantity);
  if (!n.ok) return { ok: false, parameter, reason: n.reason, preference: 0 };
  const display = `${prefix}${formatNumber(n.value)}${n.unit ? ` ${n.unit}` : ''}`;
  return { ok: true, parameter, value: n.value, display, preference: 0 };
}

function acvpuFrom(concept: CodeableConcept | undefined): Acvpu | undefined {
  for (const coding of list(concept?.coding)) {
    const system = coding?.system;
    const code = coding?.code;
    const level = typeof system === 'string' && typeof code === 'string' ? ACVPU_ANSWERS[system]?.[code] : undefined;
    if (level) return level;
  }
  return undefined;
}

function airOrOxygen(e: Extracted, onOxygen: (value: number) => boolean): Extracted {
  if (!e.ok) return e;
  const oxygen = onOxygen(e.value as number);
  return { ...e, value: oxygen, display: `${oxygen ? 'Oxygen' : 'Air'} (${e.display})` };
}

const ACVPU_DISPLAY = { A: 'Alert', C: 'New confusion', V: 'Responds to voice', P: 'Responds to pain', U: 'Unresponsive' } as const;

/** Everything NEWS2 can read from one Observation (a BP panel yields systolic only; most yield one value). */
export function extractFromObservation(obs: Observation): Extracted[] {
  const out: Extracted[] = [];
  const code = obs.code;
  const q = obs.valueQuantity;

  if (hasCode(code, LOINC, VITALS.respiratoryRate)) out.push(numeric('respiratoryRate', 'respiratoryRate', q));
  if (hasCode(code, LOINC, SPO2_CODES)) out.push(numeric('spo2', 'spo2', q));
  if (hasCode(code, LOINC, VITALS.heartRate)) out.push(numeric('pulse', 'pulse', q));
  if (hasCode(code, LOINC, TEMPERATURE_CODES)) out.push(numeric('temperature', 'temperature', q));

  if (hasCode(code, LOINC, VITALS.systolicBp)) {
    out.push(numeric('systolicBp', 'systolicBp', q));
  } else {
    // Panels (85354-9, 55284-4) and any other Observation carrying a systolic component.
    const component = list(obs.component).find((c: ObservationComponent) => hasCode(c?.code, LOINC, VITALS.systolicBp));
    if (component) out.push(numeric('systolicBp', 'systolicBp', component.valueQuantity));
    else if (hasCode(code, LOINC, SYSTOLIC_PANELS)) {
      out.push({ ok: false, parameter: 'systolicBp', reason: 'blood pressure panel has no systolic component', preference: 0 });
    }
  }

  if (hasCode(code, LOINC, VITALS.inhaledO2Concentration)) {
    // Room air is 21 %; anything above it is supplemental oxygen.
    out.push(airOrOxygen(numeric('airOrOxygen', 'inspiredOxygenFraction', q, 'FiO2 '), (v) => v > 21));
  } else if (hasCode(code, LOINC, VITALS.inhaledO2FlowRate)) {
    out.push(airOrOxygen(numeric('airOrOxygen', 'oxygenFlow', q), (v) => v > 0));
  }

  if (hasCode(code, LOINC, VITALS.levelOfResponsiveness) || hasCode(code, SNOMED, NEWS2_CODES.acvpuObservable)) {
    const level = acvpuFrom(obs.valueCodeableConcept);
    // ACVPU is preferred over a GCS recorded at the same moment: it is what NEWS2 asks for.
    if (level) {
      out.push({ ok: true, parameter: 'consciousness', value: level, display: ACVPU_DISPLAY[level], preference: 1 });
    } else {
      const sent = list(obs.valueCodeableConcept?.coding)
        .map((c) => c?.code)
        .filter((c): c is string => typeof c === 'string' && c !== '')
        .join(', ');
      out.push({
        ok: false,
        parameter: 'consciousness',
        reason: sent ? `consciousness answer ${sent} is not an ACVPU code Vigil knows` : 'consciousness has no coded ACVPU answer',
        preference: 1,
      });
    }
  } else if (hasCode(code, LOINC, VITALS.glasgowComaScoreTotal)) {
    const e = numeric('consciousness', 'gcs', q, 'GCS ');
    out.push(e.ok ? { ...e, value: { gcs: e.value as number } } : e);
  }
  return out;
}

/** Observation time: effective[x] (end of a period), else issued. */
export function effectiveTimeOf(obs: Observation): string | undefined {
  const candidates = [obs.effectiveDateTime, obs.effectiveInstant, obs.effectivePeriod?.end, obs.effectivePeriod?.start, obs.issued];
  return candidates.find((t): t is string => typeof t === 'string');
}

interface Candidate {
  extracted: Extracted;
  reference: string | undefined;
  effective: string | undefined;
  ms: number;
}

/** Picks the most recent usable reading per parameter; see the module comment. */
export function selectReadings(observations: readonly Observation[], options: SelectOptions): Selection {
  const now = options.now.getTime();
  const byParameter = new Map<News2Parameter, Candidate[]>();
  const rejected: Rejection[] = [];

  for (const obs of dedupe(observations)) {
    if (obs?.resourceType !== 'Observation' || !USABLE_STATUSES.has(obs.status)) continue;
    // A dataAbsentReason means "not measured": nothing to score and nothing worth reporting.
    if (obs.dataAbsentReason && obs.valueQuantity === undefined && obs.valueCodeableConcept === undefined && !obs.component) continue;
    const reference = obs.id ? `Observation/${obs.id}` : undefined;
    const effective = effectiveTimeOf(obs);
    const ms = effective === undefined ? NaN : Date.parse(effective);
    for (const extracted of extractFromObservation(obs)) {
      let candidate: Candidate = { extracted, reference, effective, ms };
      if (Number.isNaN(ms)) {
        candidate = { ...candidate, ms: -Infinity, extracted: reject(extracted, 'no usable time recorded') };
      } else if (ms > now + FUTURE_TOLERANCE_MS) {
        candidate = { ...candidate, extracted: reject(extracted, `recorded in the future (${effective})`) };
      }
      const list = byParameter.get(extracted.parameter) ?? [];
      list.push(candidate);
      byParameter.set(extracted.parameter, list);
    }
  }

  const readings: Selection['readings'] = {};
  for (const [parameter, candidates] of byParameter) {
    candidates.sort((a, b) => b.ms - a.ms || b.extracted.preference - a.extracted.preference);
    const chosen = candidates.find((c) => c.extracted.ok);
    for (const c of candidates) {
      if (c === chosen) break;
      if (!c.extracted.ok) {
        rejected.push({ parameter, reference: c.reference, effective: c.effective, reason: c.extracted.reason });
      }
    }
    if (chosen && chosen.extracted.ok) {
      const ageMs = Math.max(0, now - chosen.ms);
      const reading = {
        parameter,
        value: chosen.extracted.value,
        display: chosen.extracted.display,
        reference: chosen.reference,
        effective: chosen.effective!,
        ageMs,
        stale: ageMs > options.staleAfterMs,
      } as Reading;
      (readings as Record<News2Parameter, Reading>)[parameter] = reading;
    }
  }
  return { readings, rejected };
}

function reject(extracted: Extracted, reason: string): Extracted {
  return { ok: false, parameter: extracted.parameter, reason, preference: extracted.preference };
}

function dedupe(observations: readonly Observation[]): Observation[] {
  const seen = new Set<string>();
  const out: Observation[] = [];
  for (const obs of observations) {
    const key = obs?.id ? `${obs.id}|${obs.meta?.versionId ?? ''}` : undefined;
    if (key !== undefined) {
      if (seen.has(key)) continue;
      seen.add(key);
    }
    out.push(obs);
  }
  return out;
}

/** The score inputs a selection provides. */
export function inputsFrom(selection: Selection): News2Inputs {
  const r = selection.readings;
  return {
    respiratoryRate: r.respiratoryRate?.value,
    spo2: r.spo2?.value,
    onOxygen: r.airOrOxygen?.value,
    systolicBp: r.systolicBp?.value,
    pulse: r.pulse?.value,
    consciousness: r.consciousness?.value,
    temperature: r.temperature?.value,
  };
}

/** A diagnosis code, as NEWS2 SpO2-scale-2 eligibility lists them. */
export interface ConditionCode {
  system: string;
  code: string;
  display?: string;
}

const INACTIVE_CLINICAL = new Set(['inactive', 'remission', 'resolved']);
const NOT_A_DIAGNOSIS = new Set(['refuted', 'entered-in-error']);
/** condition-ver-status codes short of a diagnosis: RCP 2017 reserves scale 2 for *confirmed* hypercapnic failure. */
const NOT_CONFIRMED = new Set(['unconfirmed', 'provisional', 'differential']);

function matchingCurrent(conditions: readonly Condition[], eligible: readonly ConditionCode[]): Condition[] {
  const wanted = new Set(eligible.map((c) => `${c.system}|${c.code}`));
  return conditions.filter((c) => {
    if (c?.resourceType !== 'Condition') return false;
    const clinical = list(c.clinicalStatus?.coding)[0]?.code;
    const verification = list(c.verificationStatus?.coding)[0]?.code;
    if (clinical && INACTIVE_CLINICAL.has(clinical)) return false;
    if (verification && NOT_A_DIAGNOSIS.has(verification)) return false;
    return list(c.code?.coding).some((coding) => wanted.has(`${coding?.system}|${coding?.code}`));
  });
}

function unconfirmed(c: Condition): boolean {
  return NOT_CONFIRMED.has(list(c.verificationStatus?.coding)[0]?.code ?? '');
}

/**
 * The first current, confirmed Condition that puts the patient on SpO2 scale 2 (hypercapnic
 * respiratory failure; RCP NEWS2 2017 §"SpO2 scale 2"), or undefined. Scale 2 lowers the score of
 * low saturations, so a wrong scale 2 hides deterioration: unconfirmed, provisional and differential
 * diagnoses do not qualify, nor do resolved, refuted or entered-in-error ones. A Condition without
 * clinicalStatus counts as current and one without verificationStatus as confirmed (both elements
 * are optional in R4, and a coded problem-list entry is the clinician's recorded diagnosis).
 */
export function findScale2Condition(conditions: readonly Condition[], eligible: readonly ConditionCode[]): Condition | undefined {
  return matchingCurrent(conditions, eligible).find((c) => !unconfirmed(c));
}

/** A current but not yet confirmed scale 2 diagnosis, so the card can say why scale 1 was used. */
export function findUnconfirmedScale2Condition(conditions: readonly Condition[], eligible: readonly ConditionCode[]): Condition | undefined {
  return matchingCurrent(conditions, eligible).find(unconfirmed);
}
