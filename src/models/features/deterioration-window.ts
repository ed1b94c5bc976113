/**
 * FHIR Observations → the deterioration model's input: an hourly grid over the 48 hours ending now, in
 * PhysioNet training units, with the ids of the Observations behind every cell (explanations link to
 * them) and the Observations that could not be used, with the reason (unknown unit, implausible value).
 *
 * Codes, UCUM conversions and plausible ranges come from src/fhir/mappings/physionet.ts; carry-forward,
 * mask and hours-since channels are added by the model's encoder, identically to training.
 */
import type { CodeableConcept, Observation, Patient } from 'fhir/r4';
import { LOINC } from '../../fhir/codes.js';
import { PHYSIONET_OBSERVATION_MAPPINGS, observationToPhysioNet } from '../../fhir/mappings/physionet.js';
import { ageInYears } from '../../fhir/mappings/uci-heart.js';
import { MEASUREMENTS, WINDOW_HOURS } from '../data/physionet.js';
import type { DeteriorationInput } from '../types.js';

export interface RejectedObservation {
  observationId?: string;
  code: string;
  reason: string;
}

export interface DeteriorationWindow {
  input: DeteriorationInput;
  /** sources[hour][measurement]: ids of the Observations the cell's value came from (empty = not measured). */
  sources: string[][][];
  /** ISO start of each hourly row (row i covers [start, start + 1 h)). */
  hourStarts: string[];
  rejected: RejectedObservation[];
  /** Cells holding a measured value. */
  measuredCells: number;
}

const HOUR_MS = 3_600_000;
const KNOWN_CODES = new Set(
  PHYSIONET_OBSERVATION_MAPPINGS.flatMap((m) => [m.primary.code, ...(m.variant ? [m.variant.representation.code] : []), ...(m.alsoAcceptCodes ?? [])]),
);
const COLUMN_INDEX = new Map<string, number>(MEASUREMENTS.map((m, i) => [m, i]));

function effectiveTime(o: Observation): number | undefined {
  const text = o.effectiveDateTime ?? o.effectivePeriod?.start ?? o.effectiveInstant ?? o.issued;
  const t = text ? Date.parse(text) : NaN;
  return Number.isNaN(t) ? undefined : t;
}

function knownCodeIn(concept: CodeableConcept | undefined): string | undefined {
  for (const c of concept?.coding ?? []) if (c.system === LOINC && c.code && KNOWN_CODES.has(c.code)) return c.code;
  return undefined;
}

/** The first model code among the Observation's codings, then its components' (no allocation: runs per Observation per hook call). */
function knownCodeOf(o: Observation): string | undefined {
  const own = knownCodeIn(o.code);
  if (own) return own;
  for (const component of o.component ?? []) {
    const code = knownCodeIn(component.code);
    if (code) return code;
  }
  return undefined;
}

function sexOf(patient: Patient | undefined): number {
  return patient?.gender === 'male' ? 1 : patient?.gender === 'female' ? 0 : NaN;
}

/**
 * Builds the window ending at `now` (the last row is the hour before now). Within one hour the latest
 * Observation of a measurement wins (the PhysioNet grid has one value per hour).
 */
export function buildDeteriorationWindow(
  patient: Patient | undefined,
  observations: readonly Observation[],
  now: Date,
  windowHours = WINDOW_HOURS,
): DeteriorationWindow {
  const start = now.getTime() - windowHours * HOUR_MS;
  const rows = Array.from({ length: windowHours }, () => new Float32Array(MEASUREMENTS.length).fill(NaN));
  const times = Array.from({ length: windowHours }, () => new Float64Array(MEASUREMENTS.length).fill(-Infinity));
  const sources = Array.from({ length: windowHours }, () => MEASUREMENTS.map((): string[] => []));
  const rejected: RejectedObservation[] = [];
  for (const o of observations) {
    const code = knownCodeOf(o);
    if (!code) continue;
    const t = effectiveTime(o);
    if (t === undefined) {
      rejected.push({ observationId: o.id, code, reason: 'no effective time' });
      continue;
    }
    if (t < start || t >= now.getTime()) continue;
    const readings = observationToPhysioNet(o);
    if (!readings.length) {
      const q = o.valueQuantity;
      rejected.push({
        observationId: o.id,
        code,
        reason: q ? `value ${q.value ?? '?'} ${q.code ?? q.unit ?? '(no unit)'} has an unknown unit or is implausible` : 'no usable quantity',
      });
      continue;
    }
    const hour = Math.floor((t - start) / HOUR_MS);
    for (const r of readings) {
      const m = COLUMN_INDEX.get(r.column);
      if (m === undefined || t < times[hour]![m]!) continue;
      rows[hour]![m] = r.sourceValue;
      times[hour]![m] = t;
      sources[hour]![m] = o.id ? [o.id] : [];
    }
  }
  let measuredCells = 0;
  for (const row of rows) for (const v of row) if (!Number.isNaN(v)) measuredCells++;
  return {
    input: { rows, age: patient?.birthDate ? ageInYears(patient.birthDate, now) : NaN, sex: sexOf(patient) },
    sources,
    hourStarts: rows.map((_, i) => new Date(start + i * HOUR_MS).toISOString()),
    rejected,
    measuredCells,
  };
}
