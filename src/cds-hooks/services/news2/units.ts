/**
 * Unit normalisation and plausibility limits for the quantities NEWS2 reads. Pure. Each quantity
 * is converted to the unit the RCP chart uses (/min, %, mmHg, °C; L/min and % for oxygen) or
 * rejected with a reason that the card shows. UCUM codes (Quantity.code) are preferred; the
 * free-text Quantity.unit is accepted when it spells a known unit.
 */
import type { Quantity } from 'fhir/r4';

/** Quantities that NEWS2 reads. Oxygen is split because FiO2 and flow have different units. */
export type QuantityKind =
  | 'respiratoryRate'
  | 'spo2'
  | 'systolicBp'
  | 'pulse'
  | 'temperature'
  | 'inspiredOxygenFraction'
  | 'oxygenFlow'
  | 'gcs';

export type Normalized = { ok: true; value: number; unit: string } | { ok: false; reason: string };

interface KindRule {
  /** Canonical display unit. */
  unit: string;
  /** Accepted unit spellings (lower-cased) → factor/offset converter to the canonical unit. */
  units: Record<string, (v: number) => number>;
  /** How to read a quantity with no unit at all; absent = reject (only counts and percentages are unambiguous). */
  unitless?: (v: number) => number;
  /** Inclusive plausibility limits in the canonical unit. */
  min: number;
  max: number;
  label: string;
}

const same = (v: number): number => v;
const perMinute = { '/min': same, '1/min': same, '{breaths}/min': same, '{beats}/min': same, 'breaths/min': same, 'beats/min': same, bpm: same };
// A saturation or concentration at or below 1 is a fraction (0.95), not 0.95 %: no patient or gas mixture reads ≤ 1 %.
const percentOrFraction = (v: number): number => (v <= 1 ? v * 100 : v);
const percentUnits = { '%': percentOrFraction, '1': percentOrFraction, '{ratio}': percentOrFraction, '{fraction}': percentOrFraction };

/**
 * Limits are "could this be a real reading on a living adult", not normal ranges: values outside
 * them are far likelier to be typing or device errors than physiology, and scoring them would put
 * a false emergency (or a false all-clear) on the card.
 */
const RULES: Record<QuantityKind, KindRule> = {
  respiratoryRate: { unit: '/min', units: perMinute, unitless: same, min: 1, max: 80, label: 'respiration rate' },
  pulse: { unit: '/min', units: perMinute, unitless: same, min: 20, max: 300, label: 'pulse' },
  spo2: { unit: '%', units: percentUnits, unitless: percentOrFraction, min: 40, max: 100, label: 'SpO2' },
  systolicBp: {
    unit: 'mmHg',
    units: { 'mm[hg]': same, mmhg: same, 'mm hg': same, kpa: (v) => v * 7.50062 },
    unitless: same,
    min: 40,
    max: 300,
    label: 'systolic blood pressure',
  },
  temperature: {
    unit: '°C',
    units: {
      cel: same,
      '°c': same,
      c: same,
      'deg c': same,
      '[degf]': (v) => ((v - 32) * 5) / 9,
      '°f': (v) => ((v - 32) * 5) / 9,
      f: (v) => ((v - 32) * 5) / 9,
      'deg f': (v) => ((v - 32) * 5) / 9,
      k: (v) => v - 273.15,
    },
    // No unitless reading: a bare 37 is surely °C, but a bare 99 could be °F or a typo, so none are guessed.
    min: 25,
    max: 45,
    label: 'temperature',
  },
  inspiredOxygenFraction: { unit: '%', units: percentUnits, unitless: percentOrFraction, min: 21, max: 100, label: 'inhaled oxygen concentration' },
  oxygenFlow: {
    unit: 'L/min',
    units: { 'l/min': same, lpm: same, 'ml/min': (v) => v / 1000 },
    min: 0,
    max: 80,
    label: 'oxygen flow rate',
  },
  gcs: { unit: '', units: { '{score}': same, '1': same, score: same }, unitless: same, min: 3, max: 15, label: 'GCS total' },
};

function normalizedUnit(raw: unknown): string | undefined {
  return typeof raw === 'string' && raw.trim() !== '' ? raw.trim().toLowerCase() : undefined;
}

/** Converts a quantity to the canonical unit for `kind` and checks plausibility. Never throws. */
export function normalizeQuantity(kind: QuantityKind, quantity: Quantity | undefined): Normalized {
  const rule = RULES[kind];
  const value: unknown = quantity?.value;
  if (typeof quantity !== 'object' || quantity === null || typeof value !== 'number' || !Number.isFinite(value)) {
    return { ok: false, reason: `${rule.label} has no numeric value` };
  }
  if (quantity.comparator !== undefined) {
    return { ok: false, reason: `${rule.label} is a bound ("${quantity.comparator} ${value}"), not a reading` };
  }
  // Quantity.code is UCUM when system is UCUM; the human-readable unit is the fallback.
  const code = normalizedUnit(quantity.code);
  const unit = normalizedUnit(quantity.unit);
  let converted: number;
  if (code === undefined && unit === undefined) {
    if (!rule.unitless) return { ok: false, reason: `${rule.label} ${value} has no unit` };
    converted = rule.unitless(value);
  } else {
    const convert = (code !== undefined ? rule.units[code] : undefined) ?? (unit !== undefined ? rule.units[unit] : undefined);
    if (!convert) return { ok: false, reason: `${rule.label} unit "${String(quantity.code ?? quantity.unit)}" is not supported` };
    converted = convert(value);
  }
  if (converted < rule.min || converted > rule.max) {
    return {
      ok: false,
      reason: `${rule.label} ${formatNumber(converted)} ${rule.unit} is outside the plausible range ${rule.min}–${rule.max} ${rule.unit}`.replace(/ {2,}/g, ' '),
    };
  }
  if (kind === 'gcs' && !Number.isInteger(converted)) {
    return { ok: false, reason: `GCS total ${converted} is not a whole number` };
  }
  return { ok: true, value: converted, unit: rule.unit };
}

/** At most one decimal place, without trailing zeros. */
export function formatNumber(value: number): string {
  return String(Math.round(value * 10) / 10);
}
