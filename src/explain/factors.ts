/**
 * Contributing factors in plain clinical words (issue 7, "Factor text generation"):
 *
 *   "Lactate 4.1 mmol/L at 03:00 (high) raised the risk by 12.0 percentage points"
 *
 * value and unit as clinicians know them, the time of the measurement shown (for a carried-forward cell the
 * time of the earlier measurement, marked "carried forward" — never presented as fresh), the direction
 * against the reference range, and the contribution in percentage points of probability. Ordering is stable: |contribution|
 * descending, then feature name.
 */
import type { CellValue, Factor, FeatureInfo } from './types.js';

export interface FactorTextOptions {
  /** IANA time zone for printed times. Default UTC. */
  timeZone?: string;
  /** Time the explanation is about (the scored hour); measurements more than 24 h before it also print their date. */
  asOf?: string;
  /** Hours covered by the input window, for "not measured in the last N h". */
  windowHours?: number;
}

/** Printed value: integers from 100 up, otherwise three significant digits, no trailing zeros. */
export function formatValue(value: number): string {
  if (Math.abs(value) >= 100) return String(Math.round(value));
  return String(Number(value.toPrecision(3)));
}

/**
 * Printed contribution in percentage points of probability, one decimal ("12.0", "0.4"): clinicians read
 * "0.12" as 0.12 %, and the explanation view prints the same unit ("+12.0 points").
 */
export function formatContribution(contribution: number): string {
  const points = Math.abs(contribution) * 100;
  if (points < 0.05) return 'less than 0.1';
  return points.toFixed(1);
}

const formatters = new Map<string, { time: Intl.DateTimeFormat; date: Intl.DateTimeFormat }>();

/** Intl formatters are costly to build (tens of µs); one pair per time zone is reused. */
function formattersFor(zone: string): { time: Intl.DateTimeFormat; date: Intl.DateTimeFormat } {
  let pair = formatters.get(zone);
  if (!pair) {
    pair = {
      time: new Intl.DateTimeFormat('en-GB', { hour: '2-digit', minute: '2-digit', hourCycle: 'h23', timeZone: zone }),
      date: new Intl.DateTimeFormat('en-GB', { day: 'numeric', month: 'short', timeZone: zone }),
    };
    formatters.set(zone, pair);
  }
  return pair;
}

/** Whether a factor sentence prints the date of a measurement at `at` (ms): more than 24 h before `asOf` (ms). */
export function printsDate(at: number, asOf: number): boolean {
  return asOf - at > 24 * 3_600_000;
}

function formatTime(iso: string, options: FactorTextOptions): string {
  const at = new Date(iso);
  const { time, date } = formattersFor(options.timeZone ?? 'UTC');
  const clock = time.format(at);
  if (options.asOf && printsDate(at.getTime(), Date.parse(options.asOf))) return `${date.format(at)} ${clock}`;
  return clock;
}

export function effectText(contribution: number): string {
  const amount = formatContribution(contribution);
  if (amount === 'less than 0.1') return 'changed the risk by less than 0.1 percentage points';
  return `${contribution > 0 ? 'raised' : 'lowered'} the risk by ${amount} percentage points`;
}

/** The "what was seen" half of a factor sentence, e.g. "Lactate 4.1 mmol/L at 03:00 (high, carried forward)". */
export function describeCell(feature: FeatureInfo, cell: CellValue, options: FactorTextOptions = {}): string {
  if (cell.value === null) {
    const span = options.windowHours ? ` in the last ${options.windowHours} h` : '';
    return `${feature.label} not ${options.windowHours ? 'measured' : 'recorded'}${span}`;
  }
  if (cell.valueText !== undefined) {
    return `${feature.label}: ${cell.valueText}`;
  }
  const unit = cell.unitText ?? feature.unitText;
  let text = `${feature.label} ${formatValue(cell.value)}${unit ? ` ${unit}` : ''}`;
  if (cell.measuredAt) text += ` at ${formatTime(cell.measuredAt, options)}`;
  const notes = [cell.direction, cell.imputed ? 'carried forward' : undefined].filter((n): n is string => n !== undefined);
  if (notes.length) text += ` (${notes.join(', ')})`;
  return text;
}

export interface FactorInput {
  feature: FeatureInfo;
  cell: CellValue;
  contribution: number;
  attribution: number;
  window?: { from: string; to: string };
}

export function buildFactor(input: FactorInput, options: FactorTextOptions = {}): Factor {
  const { feature, cell } = input;
  const unit = cell.value === null || cell.valueText !== undefined ? undefined : cell.unitText ?? feature.unitText;
  let text = `${describeCell(feature, cell, options)} ${effectText(input.contribution)}`;
  if (input.window) text += ` over ${formatTime(input.window.from, options)}–${formatTime(input.window.to, options)}`;
  return {
    feature: feature.name,
    label: feature.label,
    value: cell.value,
    ...(unit ? { unit } : {}),
    ...(cell.valueText !== undefined ? { valueText: cell.valueText } : {}),
    ...(cell.measuredAt ? { measuredAt: cell.measuredAt } : {}),
    ...(cell.direction ? { direction: cell.direction } : {}),
    imputed: cell.imputed,
    contribution: input.contribution,
    attribution: input.attribution,
    ...(input.window ? { window: input.window } : {}),
    sources: cell.sources.map((id) => `Observation/${id}`),
    text,
  };
}

/** Stable total order: largest |contribution| first, then feature name, then raising before lowering, then window start. */
export function compareFactors(a: Factor, b: Factor): number {
  const byMagnitude = Math.abs(b.contribution) - Math.abs(a.contribution);
  if (byMagnitude !== 0) return byMagnitude;
  if (a.feature !== b.feature) return a.feature < b.feature ? -1 : 1;
  if (a.contribution !== b.contribution) return b.contribution - a.contribution;
  const aFrom = a.window?.from ?? '';
  const bFrom = b.window?.from ?? '';
  return aFrom < bFrom ? -1 : aFrom > bFrom ? 1 : 0;
}

export function sortFactors(factors: readonly Factor[]): Factor[] {
  return factors.slice().sort(compareFactors);
}
