/**
 * Whether a 48-hour window can be scored, and if not, why — issue 4 §Bad input: unknown units,
 * implausible values and too little data give a "could not score" card, never a silent number. Pure.
 *
 * Rules (docs/services/deterioration.md):
 * 1. Age must be known and ≥ 18 (the model was trained on adult ICU stays and uses age as an input).
 * 2. Vital signs (HR, SpO2, temperature, blood pressure, respiratory rate) in at least MIN_VITAL_HOURS
 *    distinct hours of the window, the latest no older than MAX_VITAL_AGE_HOURS.
 * 3. An Observation whose unit cannot be converted or whose value is implausible blocks scoring unless a
 *    usable value of the same measurement was recorded after it — otherwise the model would carry an
 *    older value forward as if it were the current state.
 * 4. If paging stopped before the start of the window, the window is incomplete and is not scored.
 */
import type { Observation, Quantity } from 'fhir/r4';
import { LOINC, UCUM } from '../../../fhir/codes.js';
import { PHYSIONET_OBSERVATION_MAPPINGS, type PhysioNetObservationMapping, type PhysioNetRepresentation } from '../../../fhir/mappings/physionet.js';
import type { DeteriorationWindow } from '../../../models/index.js';
import { MEASUREMENTS } from '../../../models/data/physionet.js';

export const MIN_AGE_YEARS = 18;
export const MIN_VITAL_HOURS = 4;
export const MAX_VITAL_AGE_HOURS = 6;
const VITAL_COLUMNS = ['HR', 'O2Sat', 'Temp', 'SBP', 'MAP', 'DBP', 'Resp'] as const;
const HOUR_MS = 3_600_000;

export interface NotUsed {
  reference?: string;
  reason: string;
}

export type Assessment = { ok: true; notUsed: NotUsed[] } | { ok: false; reasons: string[]; notUsed: NotUsed[] };

interface CodeEntry {
  mapping: PhysioNetObservationMapping;
  representation: PhysioNetRepresentation;
}

const CODE_INDEX = new Map<string, CodeEntry>();
for (const mapping of PHYSIONET_OBSERVATION_MAPPINGS) {
  CODE_INDEX.set(mapping.primary.code, { mapping, representation: mapping.primary });
  if (mapping.variant) CODE_INDEX.set(mapping.variant.representation.code, { mapping, representation: mapping.variant.representation });
  for (const code of mapping.alsoAcceptCodes ?? []) if (!CODE_INDEX.has(code)) CODE_INDEX.set(code, { mapping, representation: mapping.primary });
}

function loincOf(concept: { coding?: Array<{ system?: string; code?: string }> } | undefined): string[] {
  return (Array.isArray(concept?.coding) ? concept.coding : []).filter((c) => c?.system === LOINC && c.code).map((c) => c.code!);
}

/** The model quantities an Observation carries (itself and its components), with their mapping. */
export function quantitiesOf(o: Observation): Array<{ entry: CodeEntry; quantity: Quantity | undefined }> {
  const out: Array<{ entry: CodeEntry; quantity: Quantity | undefined }> = [];
  const entry = loincOf(o.code).map((c) => CODE_INDEX.get(c)).find((e) => e !== undefined);
  if (entry) out.push({ entry, quantity: o.valueQuantity });
  for (const component of Array.isArray(o.component) ? o.component : []) {
    const e = loincOf(component?.code).map((c) => CODE_INDEX.get(c)).find((x) => x !== undefined);
    if (e) out.push({ entry: e, quantity: component.valueQuantity });
  }
  return out;
}

function formatValue(value: number): string {
  return String(Math.round(value * 1000) / 1000);
}

/** Why one quantity cannot be used, or undefined when it can. Mirrors src/fhir/mappings/physionet.ts. */
export function quantityProblem(entry: CodeEntry, quantity: Quantity | undefined): string | undefined {
  const { mapping, representation } = entry;
  const label = representation.display;
  if (typeof quantity?.value !== 'number' || !Number.isFinite(quantity.value)) return `${label} has no numeric value`;
  if (quantity.comparator !== undefined) return `${label} is a bound ("${quantity.comparator} ${quantity.value}"), not a measurement`;
  const unit = quantity.system === UCUM || quantity.system === undefined ? quantity.code ?? quantity.unit : undefined;
  let value = quantity.value;
  if (unit !== representation.ucum) {
    const convert = unit === undefined ? undefined : mapping.alsoAcceptUnits?.[unit];
    if (convert) value = convert(value);
    else if (mapping.column === 'FiO2' && (unit === '1' || unit === '{ratio}') && value <= 1) value *= 100;
    else return `${label} ${formatValue(quantity.value)} in unit "${quantity.code ?? quantity.unit ?? '(none)'}" cannot be converted to ${representation.ucum}`;
  }
  const { min, max } = representation.plausible;
  if (value < min || value > max) {
    return `${label} ${formatValue(value)} ${representation.ucum} is outside the plausible range ${min}–${max} ${representation.ucum}`;
  }
  return undefined;
}

/** Observations by id (those without an id cannot be cited and are left out). */
export function observationsByIdOf(observations: readonly Observation[]): Map<string, Observation> {
  const byId = new Map<string, Observation>();
  for (const o of observations) if (o.id) byId.set(o.id, o);
  return byId;
}

function timeOf(o: Observation): number | undefined {
  const text = o.effectiveDateTime ?? o.effectivePeriod?.start ?? o.effectiveInstant ?? o.issued;
  const t = text ? Date.parse(text) : NaN;
  return Number.isNaN(t) ? undefined : t;
}

/** Latest time at which each column has a usable value in the window (from the window's source ids). */
function latestUsable(window: DeteriorationWindow, byId: ReadonlyMap<string, Observation>): Map<string, number> {
  const latest = new Map<string, number>();
  window.sources.forEach((row, h) =>
    row.forEach((ids, m) => {
      if (!ids.length && Number.isNaN(window.input.rows[h]![m]!)) return;
      const t = ids.map((id) => timeOf(byId.get(id) ?? ({} as Observation))).find((x) => x !== undefined) ?? Date.parse(window.hourStarts[h]!);
      const column = MEASUREMENTS[m]!;
      if (t > (latest.get(column) ?? -Infinity)) latest.set(column, t);
    }),
  );
  return latest;
}

export interface AssessOptions {
  now: Date;
  /** Reason paging stopped early, if it did. */
  truncated?: string;
  /** The same Observations by id, when the caller already built the map (saves a pass per hook call). */
  observationsById?: ReadonlyMap<string, Observation>;
}

export function assessWindow(window: DeteriorationWindow, observations: readonly Observation[], options: AssessOptions): Assessment {
  const reasons: string[] = [];
  const notUsed: NotUsed[] = [];
  const byId = options.observationsById ?? observationsByIdOf(observations);
  const { age } = window.input;

  if (Number.isNaN(age)) reasons.push('the patient’s age is unknown (no birth date); the model uses age as an input');
  else if (age < MIN_AGE_YEARS) reasons.push(`the patient is ${age}; the model was trained on adults (${MIN_AGE_YEARS} and over) only`);

  const vitalIndexes = VITAL_COLUMNS.map((c) => MEASUREMENTS.indexOf(c));
  const vitalHours = window.input.rows
    .map((row, h) => (vitalIndexes.some((m) => !Number.isNaN(row[m]!)) ? h : -1))
    .filter((h) => h >= 0);
  const hours = window.input.rows.length;
  if (vitalHours.length < MIN_VITAL_HOURS) {
    reasons.push(
      `too little data: vital signs in ${vitalHours.length} of the last ${hours} hours (at least ${MIN_VITAL_HOURS} are needed)`,
    );
  } else {
    const lastHourStart = Date.parse(window.hourStarts[vitalHours[vitalHours.length - 1]!]!);
    const ageHours = Math.floor((options.now.getTime() - lastHourStart) / HOUR_MS);
    if (ageHours > MAX_VITAL_AGE_HOURS) {
      reasons.push(`the latest vital sign is about ${ageHours} hours old (at most ${MAX_VITAL_AGE_HOURS} hours are accepted)`);
    }
  }

  // Only a rejected reading needs the latest usable times (most calls have none).
  const latest = window.rejected.length ? latestUsable(window, byId) : new Map<string, number>();
  for (const r of window.rejected) {
    const o = r.observationId ? byId.get(r.observationId) : undefined;
    const reference = r.observationId ? `Observation/${r.observationId}` : undefined;
    const problems = o ? quantitiesOf(o).map((q) => ({ column: q.entry.mapping.column, problem: quantityProblem(q.entry, q.quantity) })) : [];
    const reason = problems.map((p) => p.problem).filter(Boolean).join('; ') || r.reason;
    const t = o ? timeOf(o) : undefined;
    const columns = problems.filter((p) => p.problem).map((p) => p.column);
    const superseded = t !== undefined && columns.length > 0 && columns.every((c) => (latest.get(c) ?? -Infinity) > t);
    notUsed.push({ ...(reference ? { reference } : {}), reason: superseded ? `${reason} (a later usable value was scored instead)` : reason });
    if (!superseded) reasons.push(`${reason}${reference ? ` (${reference})` : ''}, and no later usable value replaces it`);
  }
  if (options.truncated) reasons.push(`the data may be incomplete: ${options.truncated}`);
  return reasons.length ? { ok: false, reasons, notUsed } : { ok: true, notUsed };
}
