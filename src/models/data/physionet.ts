/**
 * PhysioNet/CinC Challenge 2019 reader and the deterioration model's input encoding
 * (https://physionet.org/content/challenge-2019/1.0.0/ — "Data description").
 *
 * Two published layouts are read: one `.psv` per patient (41 `|`-separated columns, id from the file
 * name) and the concatenated CSV committed here (a `patient_id` column then the same 41 columns).
 *
 * The model sees a 48-hour window ending at the scored hour. Carry-forward, the missingness mask and the
 * time-since-last-measurement channels are computed inside that window only, so training windows and the
 * windows the CDS service builds from FHIR Observations are encoded identically.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { UnprocessableEntityError } from '../../errors.js';

/** Measured columns (vital signs, then laboratory values) in the challenge's order. */
export const MEASUREMENTS = [
  'HR', 'O2Sat', 'Temp', 'SBP', 'MAP', 'DBP', 'Resp', 'EtCO2',
  'BaseExcess', 'HCO3', 'FiO2', 'pH', 'PaCO2', 'SaO2', 'AST', 'BUN', 'Alkalinephos', 'Calcium', 'Chloride',
  'Creatinine', 'Bilirubin_direct', 'Glucose', 'Lactate', 'Magnesium', 'Phosphate', 'Potassium',
  'Bilirubin_total', 'TroponinI', 'Hct', 'Hgb', 'PTT', 'WBC', 'Fibrinogen', 'Platelets',
] as const;
export type Measurement = (typeof MEASUREMENTS)[number];

export const WINDOW_HOURS = 48;
/** Channels per hour: value, mask and time-since-last for each measurement, then age and sex. */
export const CHANNELS = MEASUREMENTS.length * 3 + 2;

/** One ICU stay: hourly rows of MEASUREMENTS (NaN = not measured that hour). */
export interface Stay {
  id: string;
  /** hours[t][m], t = ICULOS − 1. */
  hours: Float32Array[];
  /** Years (the challenge caps at 100 for ≥ 90). */
  age: number;
  /** 0 female, 1 male, NaN unknown. */
  sex: number;
  /** SepsisLabel per hour (challenge convention: already 6 h ahead of onset). */
  labels: Uint8Array;
}

function parseRows(
  rows: string[][],
  header: string[],
  idOf: (row: string[]) => string,
  source: string,
): Map<string, Stay> {
  const col = (name: string): number => {
    const i = header.indexOf(name);
    if (i < 0) throw new UnprocessableEntityError(`${source}: column ${name} is missing`);
    return i;
  };
  const measureCols = MEASUREMENTS.map(col);
  const ageCol = col('Age');
  const sexCol = col('Gender');
  const labelCol = col('SepsisLabel');
  const building = new Map<string, { stay: Stay; labels: number[] }>();
  for (const row of rows) {
    if (row.length !== header.length) {
      throw new UnprocessableEntityError(`${source}: a row has ${row.length} fields, the header ${header.length}`);
    }
    const id = idOf(row);
    let entry = building.get(id);
    if (!entry) {
      entry = {
        stay: { id, hours: [], age: Number(row[ageCol]), sex: Number(row[sexCol]), labels: new Uint8Array() },
        labels: [],
      };
      building.set(id, entry);
    }
    const hour = new Float32Array(MEASUREMENTS.length);
    measureCols.forEach((c, m) => (hour[m] = Number(row[c])));
    entry.stay.hours.push(hour);
    entry.labels.push(Number(row[labelCol]) === 1 ? 1 : 0);
  }
  const out = new Map<string, Stay>();
  for (const [id, { stay, labels }] of building) out.set(id, { ...stay, labels: Uint8Array.from(labels) });
  return out;
}

/** Parses the concatenated CSV (first column patient_id). */
export function parsePhysionetCsv(text: string): Map<string, Stay> {
  const lines = text.split(/\r?\n/).filter((l) => l.length > 0);
  const header = lines.shift()?.split(',') ?? [];
  if (header[0] !== 'patient_id') throw new UnprocessableEntityError('CSV: first column must be patient_id');
  return parseRows(
    lines.map((l) => l.split(',')),
    header,
    (row) => row[0]!,
    'CSV',
  );
}

/** Parses one `.psv` file (header + hourly rows, `|`-separated). */
export function parsePsv(id: string, text: string): Stay {
  const lines = text.split(/\r?\n/).filter((l) => l.length > 0);
  const header = lines.shift()?.split('|') ?? [];
  const stays = parseRows(
    lines.map((l) => l.split('|')),
    header,
    () => id,
    `${id}.psv`,
  );
  const stay = stays.get(id);
  if (!stay) throw new UnprocessableEntityError(`${id}.psv has no data rows`);
  return stay;
}

/** Reads either layout from disk: a `.csv` file or a folder of `.psv` files. */
export function readPhysionet(location: string): Map<string, Stay> {
  if (statSync(location).isDirectory()) {
    const out = new Map<string, Stay>();
    for (const file of readdirSync(location).filter((f) => f.endsWith('.psv')).sort()) {
      const id = path.basename(file, '.psv');
      out.set(id, parsePsv(id, readFileSync(path.join(location, file), 'utf8')));
    }
    return out;
  }
  return parsePhysionetCsv(readFileSync(location, 'utf8'));
}

/** Mean and SD of each measurement over the observed training values; fitted on train patients only. */
export interface PhysionetEncodingSpec {
  kind: 'physionet-window-v1';
  windowHours: number;
  measurements: string[];
  mean: number[];
  sd: number[];
  featureNames: string[];
}

export function fitPhysionetEncoding(stays: Iterable<Stay>): PhysionetEncodingSpec {
  const n = MEASUREMENTS.length;
  const sum = new Float64Array(n);
  const sumSq = new Float64Array(n);
  const count = new Float64Array(n);
  for (const stay of stays) {
    for (const hour of stay.hours) {
      for (let m = 0; m < n; m++) {
        const v = hour[m]!;
        if (Number.isNaN(v)) continue;
        sum[m]! += v;
        sumSq[m]! += v * v;
        count[m]! += 1;
      }
    }
  }
  const mean = Array.from(sum, (s, m) => (count[m] ? s / count[m]! : 0));
  const sd = Array.from(sumSq, (s, m) => {
    const c = count[m]!;
    if (c < 2) return 1;
    const variance = (s - c * mean[m]! ** 2) / (c - 1);
    return Math.sqrt(Math.max(variance, 0)) || 1;
  });
  const featureNames = [
    ...MEASUREMENTS.map((m) => `${m}`),
    ...MEASUREMENTS.map((m) => `${m}:measured`),
    ...MEASUREMENTS.map((m) => `${m}:hours_since`),
    'Age',
    'Sex',
  ];
  return { kind: 'physionet-window-v1', windowHours: WINDOW_HOURS, measurements: [...MEASUREMENTS], mean, sd, featureNames };
}

/** Standardised values are clipped so one implausible number cannot dominate a forward pass. */
const Z_CLIP = 6;

/**
 * Encodes a raw window (oldest hour first, last row = the scored hour; fewer than windowHours rows are
 * left-padded as unmeasured hours) into windowHours × CHANNELS values, row-major:
 * - value: carried forward from the last measurement in the window, standardised; 0 (= training mean)
 *   before the first one;
 * - mask: 1 when measured in that hour;
 * - hours since the last measurement in the window / windowHours, 1 when none yet;
 * - age ((years − 60) / 15) and sex (0 female, 1 male, 0.5 unknown) on every row.
 */
export function encodeWindow(
  rows: readonly ArrayLike<number>[],
  age: number,
  sex: number,
  spec: PhysionetEncodingSpec,
  out: Float32Array = new Float32Array(spec.windowHours * CHANNELS),
  offset = 0,
): Float32Array {
  const n = MEASUREMENTS.length;
  const W = spec.windowHours;
  const first = rows.length - Math.min(rows.length, W);
  const pad = W - (rows.length - first);
  const last = new Float64Array(n).fill(NaN);
  const lastAt = new Float64Array(n).fill(-Infinity);
  const ageZ = Number.isNaN(age) ? 0 : (age - 60) / 15;
  const sexV = sex === 0 || sex === 1 ? sex : 0.5;
  for (let w = 0; w < W; w++) {
    const row = w >= pad ? rows[first + w - pad]! : undefined;
    const base = offset + w * CHANNELS;
    for (let m = 0; m < n; m++) {
      const v = row ? row[m]! : NaN;
      const measured = !Number.isNaN(v);
      if (measured) {
        last[m] = v;
        lastAt[m] = w;
      }
      const carried = last[m]!;
      out[base + m] = Number.isNaN(carried)
        ? 0
        : Math.max(-Z_CLIP, Math.min(Z_CLIP, (carried - spec.mean[m]!) / spec.sd[m]!));
      out[base + n + m] = measured ? 1 : 0;
      out[base + 2 * n + m] = lastAt[m] === -Infinity ? 1 : (w - lastAt[m]!) / W;
    }
    out[base + 3 * n] = ageZ;
    out[base + 3 * n + 1] = sexV;
  }
  return out;
}

/** The raw rows of the window ending at hour t (inclusive) of a stay. */
export function windowRows(stay: Stay, t: number, windowHours = WINDOW_HOURS): Float32Array[] {
  return stay.hours.slice(Math.max(0, t - windowHours + 1), t + 1);
}

/** A patient is positive when any hour carries SepsisLabel 1. */
export function isSepsisPatient(stay: Stay): boolean {
  return stay.labels.some((l) => l === 1);
}
