/**
 * Decoding and baselines for the deterioration model's encoding (src/models/data/physionet.ts,
 * "physionet-window-v1"): hourly cells back to FHIR values and units, with carry-forward made explicit —
 * a cell without its own measurement reports the earlier measurement it repeats, flagged imputed.
 */
import { physioNetMapping, representationFor, type PhysioNetColumn } from '../../fhir/mappings/physionet.js';
import { encodeWindow, MEASUREMENTS, type PhysionetEncodingSpec } from '../../models/data/physionet.js';
import type { RegisteredModel } from '../../models/registry.js';
import type { DeteriorationInput } from '../../models/types.js';
import { directionOf, IONIZED_CALCIUM, REFERENCE, typicalValue } from '../reference-ranges.js';
import type { CellValue, InputLayout, Provenance } from '../types.js';
import { baselineSet, sourcesAt, type EncodingAdapter, type PreparedCells } from './common.js';

const HOUR_MS = 3_600_000;
/** Measured hourly in the "normal physiology" reference patient; other measurements once a day. */
const HOURLY = new Set(['HR', 'O2Sat', 'Temp', 'SBP', 'MAP', 'DBP', 'Resp']);
/** Left unmeasured in the reference patient: only measured when ventilated. */
const UNMEASURED = new Set(['FiO2', 'EtCO2']);
const DAILY_LABS_EVERY = 24;

/** Source (training-unit) value of a measurement → printed value, unit and direction. */
function printed(column: string, sourceValue: number): Pick<CellValue, 'value' | 'unitText' | 'direction'> {
  const representation = representationFor(column as PhysioNetColumn, sourceValue);
  // Six significant digits drop float32 noise (10.100000381… → 10.1) without touching real precision.
  const value = Number((representation ? representation.fromSource(sourceValue) : sourceValue).toPrecision(6));
  const ionized = column === 'Calcium' && representation?.ucum === 'mmol/L';
  const reference = ionized ? IONIZED_CALCIUM : REFERENCE[column];
  const direction = directionOf(reference, value);
  return { value, ...(ionized ? { unitText: IONIZED_CALCIUM.unitText } : {}), ...(direction ? { direction } : {}) };
}

/** The reference patient's raw window: normal values, vitals hourly, labs daily, the patient's own age and sex. */
export function normalWindow(windowHours: number, age: number, sex: number): DeteriorationInput {
  const rows = Array.from({ length: windowHours }, () => new Float32Array(MEASUREMENTS.length).fill(NaN));
  MEASUREMENTS.forEach((column, m) => {
    const typical = typicalValue(REFERENCE[column]);
    if (typical === undefined || UNMEASURED.has(column)) return;
    const mapping = physioNetMapping(column);
    const source = mapping.kind === 'observation' ? mapping.primary.toSource(typical) : typical;
    for (let t = 0; t < windowHours; t++) if (HOURLY.has(column) || t % DAILY_LABS_EVERY === 0) rows[t]![m] = source;
  });
  return { rows, age, sex };
}

/** The cell of a patient-level input (age, sex): the same at every step. */
function patientCell(name: 'Age' | 'Sex', input: DeteriorationInput): CellValue {
  if (name === 'Age') return { value: Number.isNaN(input.age) ? null : input.age, imputed: Number.isNaN(input.age), sources: [] };
  const known = input.sex === 0 || input.sex === 1;
  return { value: known ? input.sex : null, imputed: !known, sources: [], ...(known ? { valueText: REFERENCE.Sex!.values![input.sex]! } : {}) };
}

export const physionetWindowAdapter: EncodingAdapter<DeteriorationInput> = {
  prepare(model: RegisteredModel<DeteriorationInput>, layout: InputLayout, input: DeteriorationInput, provenance?: Provenance): PreparedCells {
    const spec = model.preprocess as PhysionetEncodingSpec;
    const W = spec.windowHours;
    const encoded = model.encode(input);
    const first = Math.max(0, input.rows.length - W);
    const pad = W - (input.rows.length - first);
    const rowAt = (t: number): ArrayLike<number> | undefined => (t >= pad ? input.rows[first + t - pad] : undefined);
    const provenanceRow = (t: number): number => first + t - pad;

    let stepTimes: string[] | undefined;
    const given = provenance?.stepTimes;
    if (given && given.length === input.rows.length) {
      const t0 = Date.parse(given[first]!);
      stepTimes = Array.from({ length: W }, (_, t) => (t >= pad ? given[provenanceRow(t)]! : new Date(t0 - (pad - t) * HOUR_MS).toISOString()));
    }

    const measurementOf = layout.features.map((f) => MEASUREMENTS.indexOf(f.name as (typeof MEASUREMENTS)[number]));
    const features = layout.features.length;
    // The explainers ask for every cell, some twice (time-series values and imputed flags). Walking back to
    // the measurement a carried-forward cell repeats, for each cell, is quadratic in the window; one pass per
    // feature finds the step every cell's value comes from instead. A carried-forward cell only differs from
    // its measurement by `imputed`, so both are decoded once per measurement and shared (callers only read
    // cells); properties are assigned in one order so every cell has one shape.
    const lastMeasured: Array<Int16Array | undefined> = [];
    const lastMeasuredStep = (f: number, m: number): Int16Array => {
      let steps = lastMeasured[f];
      if (steps) return steps;
      steps = new Int16Array(W).fill(-1);
      for (let t = pad, last = -1; t < W; t++) {
        if (!Number.isNaN(rowAt(t)![m]!)) last = t;
        steps[t] = last;
      }
      lastMeasured[f] = steps;
      return steps;
    };
    const decoded: Array<{ measured: CellValue; carried?: CellValue } | undefined> = [];
    const decodeAt = (s: number, f: number, m: number, imputed: boolean): CellValue => {
      const { value, unitText, direction } = printed(layout.features[f]!.name, rowAt(s)![m]!);
      const out = { value } as CellValue;
      if (unitText !== undefined) out.unitText = unitText;
      if (direction !== undefined) out.direction = direction;
      out.imputed = imputed;
      if (stepTimes) out.measuredAt = stepTimes[s]!;
      out.sources = sourcesAt(provenance, provenanceRow(s), m);
      return out;
    };
    const nothing = (): CellValue => ({ value: null, imputed: true, sources: [] });
    const patientCells: Array<CellValue | undefined> = [];
    const cell = (t: number, f: number): CellValue => {
      const feature = layout.features[f]!;
      if (feature.name === 'Age' || feature.name === 'Sex') return (patientCells[f] ??= patientCell(feature.name, input));
      const m = measurementOf[f]!;
      if (m < 0) return nothing();
      // Steps outside the window (none are asked for) have no value.
      const s = lastMeasuredStep(f, m)[t] ?? -1;
      if (s < 0) return nothing();
      const k = s * features + f;
      const entry = (decoded[k] ??= { measured: decodeAt(s, f, m, false) });
      return s === t ? entry.measured : (entry.carried ??= { ...entry.measured, imputed: true });
    };
    const normal = normalWindow(W, input.age, input.sex);
    return {
      encoded,
      baselines: baselineSet(model.manifest.id, encoded.length, encodeWindow(normal.rows, normal.age, normal.sex, spec)),
      cell,
      ...(stepTimes ? { stepTimes } : {}),
    };
  },
};
