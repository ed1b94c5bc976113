/**
 * The sandbox EHR's patients: the committed FHIR transaction bundles in data/sandbox/ (built by
 * scripts/build-sandbox-data.ts; see docs/data.md) and their index.
 *
 * The data are written around a fixed anchor instant (index.json `anchor`: the last ICU hour of every
 * patient). Loading moves every clinical time by the whole hours between the anchor and "now", so a
 * demo always shows the ICU stay as happening in the last hours.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Bundle, BundleEntry, FhirResource, Observation } from 'fhir/r4';
import { z } from 'zod';
import { VigilError } from '../errors.js';

export interface SandboxPatientSummary {
  id: string;
  name: string;
  gender: string;
  birthDate: string;
  /** Whole years at the load time ("now"). */
  age: number;
  /** One line for demos, e.g. "MICU day 3, meets sepsis criteria in the last hours". */
  scenario: string;
}

const provenanceSchema = z.object({
  physionet: z.object({
    patientId: z.string(),
    septic: z.boolean(),
    /** Hours before the anchor at which SepsisLabel first turned 1 (label = onset − 6 h); null when not septic. */
    sepsisLabelHoursBeforeAnchor: z.number().nullable(),
    iculosAtAnchor: z.number(),
    windowHours: z.number(),
    age: z.number(),
    unit: z.string(),
  }),
  synthea: z.object({ file: z.string(), patientId: z.string() }),
  uci: z.object({ row: z.number(), age: z.number(), sex: z.number(), num: z.number().nullable() }).nullable(),
});

const indexSchema = z.object({
  anchor: z.string(),
  patients: z.array(
    z.object({
      id: z.string(),
      file: z.string(),
      name: z.string(),
      gender: z.string(),
      birthDate: z.string(),
      age: z.number(),
      scenario: z.string(),
      provenance: provenanceSchema,
    }),
  ),
});

export type SandboxIndex = z.infer<typeof indexSchema>;
export type SandboxIndexEntry = SandboxIndex['patients'][number];

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/** Keys whose string value is a clinical dateTime/instant (birthDate is deliberately absent). */
const TIME_KEYS = new Set([
  'effectiveDateTime',
  'effectiveInstant',
  'issued',
  'onsetDateTime',
  'abatementDateTime',
  'recordedDate',
  'authoredOn',
  'occurrenceDateTime',
  'performedDateTime',
  'deceasedDateTime',
  'lastUpdated',
  'started',
  'date',
  'created',
  'assertedDate',
  'lastOccurrence',
  'timestamp',
]);

/** Keys holding a Period whose start/end are shifted. */
const isPeriodKey = (key: string): boolean => key === 'period' || key.endsWith('Period');

const DATE_ONLY = /^\d{4}(-\d{2}(-\d{2})?)?$/;

/** Shifts one FHIR date/dateTime/instant string, keeping its precision. Unparseable text is returned unchanged. */
export function shiftTime(value: string, deltaMs: number): string {
  if (deltaMs === 0) return value;
  if (DATE_ONLY.test(value)) {
    // Partial dates move by whole days (and only when full-date precision is present).
    if (value.length !== 10) return value;
    const days = Math.round(deltaMs / DAY_MS);
    return new Date(Date.parse(`${value}T00:00:00Z`) + days * DAY_MS).toISOString().slice(0, 10);
  }
  const t = Date.parse(value);
  if (Number.isNaN(t)) return value;
  const iso = new Date(t + deltaMs).toISOString();
  return /\.\d+/.test(value) ? iso : iso.replace(/\.\d{3}Z$/, 'Z');
}

function mapTimes(value: unknown, fn: (time: string) => string, inPeriod: boolean): unknown {
  if (Array.isArray(value)) return value.map((v) => mapTimes(v, fn, false));
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    if (typeof v === 'string' && (TIME_KEYS.has(key) || (inPeriod && (key === 'start' || key === 'end')))) {
      out[key] = fn(v);
    } else {
      out[key] = mapTimes(v, fn, isPeriodKey(key));
    }
  }
  return out;
}

/**
 * Returns a copy of a resource with every clinical time moved by deltaMs: effective*, issued, onset*,
 * abatement*, recordedDate, authoredOn, occurrence*, performed*, Period start/end (period, *Period),
 * meta.lastUpdated and similar — never birthDate. Date-only values move by whole days.
 */
export function shiftResourceTimes<T extends FhirResource>(resource: T, deltaMs: number): T {
  return mapTimes(resource, (time) => shiftTime(time, deltaMs), false) as T;
}

/** Every clinical time in a resource (the values shiftResourceTimes would move). */
export function clinicalTimes(resource: FhirResource): string[] {
  const times: string[] = [];
  mapTimes(resource, (time) => (times.push(time), time), false);
  return times;
}

/** Shifts every clinical time in every entry of a bundle by deltaMs; returns a new bundle. */
export function shiftBundleTimes(bundle: Bundle, deltaMs: number): Bundle {
  return {
    ...bundle,
    entry: bundle.entry?.map((entry) => (entry.resource ? { ...entry, resource: shiftResourceTimes(entry.resource, deltaMs) } : entry)),
  };
}

/** The whole hours (as ms) from the anchor to now; negative when now is before the anchor. */
export function wholeHourDelta(anchor: Date, now: Date): number {
  return Math.floor((now.getTime() - anchor.getTime()) / HOUR_MS) * HOUR_MS;
}

/** Whole years between a FHIR birthDate and an instant. */
export function ageAt(birthDate: string, at: Date): number {
  const [y = 0, m = 1, d = 1] = birthDate.split('-').map(Number);
  let age = at.getUTCFullYear() - y;
  const month = at.getUTCMonth() + 1;
  if (month < m || (month === m && at.getUTCDate() < d)) age -= 1;
  return age;
}

/** Walks up from this module to the directory holding package.json (works from src/ and dist/src/). */
export function findRepoRoot(start: string = path.dirname(fileURLToPath(import.meta.url))): string {
  let dir = start;
  for (;;) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new VigilError(`No package.json above ${start}`);
    dir = parent;
  }
}

export function defaultSandboxDataDir(): string {
  return path.join(findRepoRoot(), 'data', 'sandbox');
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new VigilError(`Cannot read sandbox data file ${path.basename(file)}`, [], { cause: err });
  }
}

/** Reads and validates data/sandbox/index.json. */
export function readSandboxIndex(dir: string = defaultSandboxDataDir()): SandboxIndex {
  const parsed = indexSchema.safeParse(readJson(path.join(dir, 'index.json')));
  if (!parsed.success) {
    throw new VigilError('Sandbox index.json is malformed', parsed.error.issues.map((i) => ({ field: i.path.join('.'), message: i.message })));
  }
  return parsed.data;
}

/**
 * ECG rhythm strips for vigil-ecg-rhythm (issue 10; docs/services/ecg-rhythm.md): transaction bundles in the
 * sibling folder data/sandbox-ecg/, merged into their patient's bundle by subject so each patient stays one bundle.
 * Kept outside data/sandbox/ because that folder is exactly what scripts/build-sandbox-data.ts writes.
 */
function sandboxEcgEntries(dir: string): Map<string, BundleEntry[]> {
  const byPatient = new Map<string, BundleEntry[]>();
  if (!existsSync(dir)) return byPatient;
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
    const bundle = readJson(path.join(dir, file)) as Bundle;
    if (bundle?.resourceType !== 'Bundle') throw new VigilError(`Sandbox file ${file} is not a FHIR Bundle`);
    for (const e of bundle.entry ?? []) {
      const subject = (e.resource as { subject?: { reference?: string } } | undefined)?.subject?.reference?.replace(/^Patient\//, '');
      if (!subject) continue;
      byPatient.set(subject, [...(byPatient.get(subject) ?? []), e]);
    }
  }
  return byPatient;
}

/**
 * Loads the sandbox bundles (transaction bundles, PUT with explicit ids, so loading twice is
 * idempotent) with their times moved so the anchor falls on the last whole hour before `now`,
 * plus a summary per patient for the EHR's patient list.
 */
/**
 * What the patient list says about a patient's ECG strips, so a tester knows whom to try vigil-ecg-rhythm on:
 * "ECG strip on file" plus the data set's reference label when the device text carries one.
 */
export function ecgScenarioNote(entries: readonly BundleEntry[]): string | undefined {
  const labels = entries
    .map((e) => e.resource)
    .filter((r): r is Observation => r?.resourceType === 'Observation')
    .map((o) => /reference label: ([^)]+)\)/.exec(o.device?.display ?? '')?.[1]);
  if (!labels.length) return undefined;
  const known = [...new Set(labels.filter((l): l is string => Boolean(l)))];
  const strips = labels.length === 1 ? 'ECG strip on file' : `${labels.length} ECG strips on file`;
  return known.length ? `${strips} (reference: ${known.join(', ')})` : strips;
}

export function loadSandboxData(dir: string = defaultSandboxDataDir(), now: Date = new Date()): { bundles: Bundle[]; patients: SandboxPatientSummary[] } {
  const index = readSandboxIndex(dir);
  const anchor = new Date(index.anchor);
  if (Number.isNaN(anchor.getTime())) throw new VigilError(`Sandbox index.json anchor is not a date: ${index.anchor}`);
  const delta = wholeHourDelta(anchor, now);
  const bundles: Bundle[] = [];
  const patients: SandboxPatientSummary[] = [];
  const ecgEntries = sandboxEcgEntries(path.join(path.dirname(dir), 'sandbox-ecg'));
  for (const entry of index.patients) {
    const bundle = readJson(path.join(dir, entry.file)) as Bundle;
    if (bundle?.resourceType !== 'Bundle') throw new VigilError(`Sandbox file ${entry.file} is not a FHIR Bundle`);
    const ecgs = ecgEntries.get(entry.id) ?? [];
    bundle.entry = [...(bundle.entry ?? []), ...ecgs];
    bundles.push(shiftBundleTimes(bundle, delta));
    const ecgNote = ecgScenarioNote(ecgs);
    patients.push({
      id: entry.id,
      name: entry.name,
      gender: entry.gender,
      birthDate: entry.birthDate,
      age: ageAt(entry.birthDate, now),
      scenario: ecgNote ? `${entry.scenario}; ${ecgNote}` : entry.scenario,
    });
  }
  return { bundles, patients };
}
