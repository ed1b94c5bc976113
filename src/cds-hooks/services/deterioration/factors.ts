/**
 * Attributions over the encoded 48 × 104 window → per hour × measurement cells → clinical factors. Pure.
 *
 * The encoder gives each measurement three channels per hour (value carried forward, measured mask,
 * hours since last measurement; src/models/data/physionet.ts). A cell's attribution is the sum of its
 * three channels; the attribution of an hour where a value was only carried forward is credited to the
 * hour it was measured in, so each number belongs to a real Observation, never to an imputed cell.
 * Hours before a measurement's first value equal the baseline (an empty window) and carry no attribution;
 * age and sex are the same in input and baseline and are not attributed.
 */
import type { Observation, Quantity } from 'fhir/r4';
import { CHANNELS, MEASUREMENTS } from '../../../models/data/physionet.js';
import type { DeteriorationWindow } from '../../../models/index.js';
import type { ExplanationFactor, TimeSeriesAttributions } from '../../../explanations/record.js';
import { formatPoints, formatTime } from '../../../explanations/risk-card.js';
import { quantitiesOf } from './assess.js';

/** Short clinical names for the PhysioNet columns. */
export const MEASUREMENT_LABELS: Readonly<Record<string, string>> = {
  HR: 'Heart rate',
  O2Sat: 'SpO2',
  Temp: 'Temperature',
  SBP: 'Systolic BP',
  MAP: 'Mean arterial pressure',
  DBP: 'Diastolic BP',
  Resp: 'Respiratory rate',
  EtCO2: 'End-tidal CO2',
  BaseExcess: 'Base excess',
  HCO3: 'Bicarbonate',
  FiO2: 'FiO2',
  pH: 'Arterial pH',
  PaCO2: 'PaCO2',
  SaO2: 'SaO2',
  AST: 'AST',
  BUN: 'Urea nitrogen (BUN)',
  Alkalinephos: 'Alkaline phosphatase',
  Calcium: 'Calcium',
  Chloride: 'Chloride',
  Creatinine: 'Creatinine',
  Bilirubin_direct: 'Direct bilirubin',
  Glucose: 'Glucose',
  Lactate: 'Lactate',
  Magnesium: 'Magnesium',
  Phosphate: 'Phosphate',
  Potassium: 'Potassium',
  Bilirubin_total: 'Total bilirubin',
  TroponinI: 'Troponin I',
  Hct: 'Haematocrit',
  Hgb: 'Haemoglobin',
  PTT: 'PTT',
  WBC: 'White cell count',
  Fibrinogen: 'Fibrinogen',
  Platelets: 'Platelets',
};

/** Contributions smaller than this (0.1 percentage point) are not shown as factors. */
export const MIN_FACTOR = 0.001;
export const MAX_FACTORS = 5;

/** Cell attributions credited to the hour each value was measured in. */
export function cellAttributions(window: DeteriorationWindow, values: Float32Array): TimeSeriesAttributions {
  const n = MEASUREMENTS.length;
  const hours = window.input.rows.length;
  const credited = Array.from({ length: hours }, () => new Array<number>(n).fill(0));
  const measured = window.input.rows.map((row) => MEASUREMENTS.map((_, m) => !Number.isNaN(row[m]!)));
  for (let m = 0; m < n; m++) {
    let source = -1;
    for (let h = 0; h < hours; h++) {
      if (measured[h]![m]) source = h;
      const base = h * CHANNELS;
      const cell = values[base + m]! + values[base + n + m]! + values[base + 2 * n + m]!;
      if (source >= 0) credited[source]![m]! += cell;
    }
  }
  return {
    hourStarts: window.hourStarts,
    features: [...MEASUREMENTS],
    values: credited.map((row) => row.map((v) => Math.round(v * 1e6) / 1e6)),
    measured,
    sources: window.sources,
  };
}

function quantityText(q: Quantity | undefined): string | undefined {
  if (typeof q?.value !== 'number') return undefined;
  const unit = q.unit ?? q.code;
  return unit ? `${q.value} ${unit}` : String(q.value);
}

/** The value as recorded in the source Observation (the component for a BP panel). */
function recordedValue(o: Observation | undefined, column: string): string | undefined {
  if (!o) return undefined;
  return quantityText(quantitiesOf(o).find((q) => q.entry.mapping.column === column)?.quantity);
}

function effectiveOf(o: Observation | undefined): string | undefined {
  return o?.effectiveDateTime ?? o?.effectivePeriod?.start ?? o?.effectiveInstant ?? o?.issued;
}

/** Top factors: measurements whose summed attribution is largest in magnitude (ties by name, stable). */
export function deteriorationFactors(
  window: DeteriorationWindow,
  cells: TimeSeriesAttributions,
  observationsById: ReadonlyMap<string, Observation>,
): ExplanationFactor[] {
  const hours = cells.values.length;
  const factors: ExplanationFactor[] = [];
  MEASUREMENTS.forEach((column, m) => {
    let total = 0;
    const contributing: Array<{ h: number; v: number }> = [];
    let lastHour = -1;
    for (let h = 0; h < hours; h++) {
      if (!cells.measured[h]![m]) continue;
      total += cells.values[h]![m]!;
      contributing.push({ h, v: cells.values[h]![m]! });
      lastHour = h;
    }
    if (lastHour < 0 || Math.abs(total) < MIN_FACTOR) return;
    const latestId = window.sources[lastHour]![m]![0];
    const latest = latestId ? observationsById.get(latestId) : undefined;
    const value = recordedValue(latest, column);
    const time = effectiveOf(latest) ?? window.hourStarts[lastHour]!;
    const count = contributing.length;
    // Latest reading first (it is what the clinician sees now), then the most influential others.
    const evidence = [
      ...(latestId ? [latestId] : []),
      ...contributing
        .slice()
        .sort((a, b) => Math.abs(b.v) - Math.abs(a.v) || a.h - b.h)
        .flatMap(({ h }) => window.sources[h]![m]!),
    ]
      .filter((id, i, all) => all.indexOf(id) === i)
      .slice(0, 5)
      .map((id) => `Observation/${id}`);
    const label = MEASUREMENT_LABELS[column] ?? column;
    const readings = count === 1 ? '1 reading' : `${count} readings`;
    const direction = total > 0 ? 'raised' : 'lowered';
    factors.push({
      feature: column,
      label,
      text: `${label} ${value ?? '(value not shown)'} at ${formatTime(time)} (${readings} in ${hours} h) ${direction} the risk by ${formatPoints(total).replace(/^[+−]/, '')}`,
      ...(value ? { value } : {}),
      time,
      contribution: Math.round(total * 1e6) / 1e6,
      evidence,
    });
  });
  return factors
    .sort((a, b) => Math.abs(b.contribution) - Math.abs(a.contribution) || (a.feature < b.feature ? -1 : 1))
    .slice(0, MAX_FACTORS);
}
