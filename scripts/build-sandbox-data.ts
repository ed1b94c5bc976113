/**
 * Builds the sandbox EHR's patients: data/sandbox/<patient id>.json (one FHIR R4 transaction bundle
 * per patient, PUT with explicit ids) and data/sandbox/index.json.
 *
 *   npx tsx scripts/build-sandbox-data.ts [--out DIR]
 *
 * Each sandbox patient is a Synthea patient (trimmed history) joined with one PhysioNet 2019 ICU stay
 * of the same gender and closest age; some also carry a UCI Cleveland heart work-up. Reads only
 * data/raw/. Deterministic: fixed seed and anchor, sorted inputs, so every run writes the same bytes.
 * How and why: docs/data.md.
 */
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type {
  Bundle,
  BundleEntry,
  Encounter,
  FhirResource,
  Observation,
  ObservationComponent,
  Patient,
} from 'fhir/r4';
import {
  ACVPU,
  LOINC,
  OBSERVATION_CATEGORY,
  SANDBOX_ORDERABLES,
  SNOMED,
  UCUM,
  VIGIL_DATA_ORIGIN,
  VITALS,
} from '../src/fhir/codes.js';
import {
  PHYSIONET_OBSERVATION_MAPPINGS,
  sourceToFhir,
  type PhysioNetColumn,
} from '../src/fhir/mappings/physionet.js';
import { parseClevelandLine, uciRowToFhir, type UciHeartRow } from '../src/fhir/mappings/uci-heart.js';
import { ageAt, clinicalTimes, findRepoRoot, shiftResourceTimes, type SandboxIndex } from '../src/sandbox/patients.js';
import { seededRandom, shuffled } from '../src/models/random.js';

// ── Fixed parameters (changing any of them changes the output) ─────────────────────────────────
const ANCHOR = '2026-01-01T12:00:00Z';
const SEED = 20260101;
const PATIENTS_PER_GENDER = 12;
const SEPTIC_PER_GENDER = 4;
const HEART_WORKUPS_PER_GENDER = 4;
const WINDOW_HOURS = 72;
/** SepsisLabel turns 1 six hours before Sepsis-3 onset; ending 6 h later puts the anchor at the onset hour. */
const HOURS_AFTER_FIRST_LABEL = 6;
/** Septic stays need this many labelled-negative hours in the window so the record shows the deterioration. */
const MIN_HOURS_BEFORE_LABEL = 12;
/** Shorter stays make a thin demo record (few trends, one or two ACVPU rows). */
const MIN_WINDOW_HOURS = 24;
const NEWS2_RECENT_HOURS = 12;
const NEWS2_COLUMNS: readonly PhysioNetColumn[] = ['Resp', 'O2Sat', 'FiO2', 'SBP', 'HR', 'Temp'];
const ACVPU_EVERY_HOURS = 4;
const SYNTHEA_ENCOUNTERS_KEPT = 5;
const SYNTHEA_OBSERVATIONS_PER_CODE = 3;
/** Synthea history is moved (whole days) so its last event falls this long before hospital admission. */
const SYNTHEA_GAP_DAYS = 30;
const HEART_WORKUP_DAYS_BEFORE_ANCHOR = 45;
const MAX_HEART_WORKUP_AGE = 80;

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const anchorMs = Date.parse(ANCHOR);
const iso = (ms: number): string => new Date(ms).toISOString().replace('.000Z', 'Z');

const root = findRepoRoot();
const rawDir = path.join(root, 'data', 'raw');
const outArg = process.argv.indexOf('--out');
const outDir = outArg > 0 && process.argv[outArg + 1] ? path.resolve(process.argv[outArg + 1] as string) : path.join(root, 'data', 'sandbox');

function log(message: string): void {
  process.stdout.write(`${message}\n`);
}

// ── PhysioNet stays ────────────────────────────────────────────────────────────────────────────
interface Stay {
  patientId: string;
  rows: Record<string, number>[];
  gender: 'male' | 'female';
  age: number;
  septic: boolean;
  firstLabel: number;
  /** Window [start, end] as row indexes; end lands on the anchor. */
  start: number;
  end: number;
}

function readStays(): Stay[] {
  const text = readFileSync(path.join(rawDir, 'physionet-sepsis-2019', 'sepsis2019_setB_dev_2000.csv'), 'utf8');
  const lines = text.split('\n').filter((l) => l.length > 0);
  const header = (lines.shift() ?? '').split(',');
  const byPatient = new Map<string, Record<string, number>[]>();
  for (const line of lines) {
    const cells = line.split(',');
    const id = cells[0] as string;
    const row: Record<string, number> = {};
    for (let i = 1; i < header.length; i++) row[header[i] as string] = cells[i] === 'NaN' ? NaN : Number(cells[i]);
    let rows = byPatient.get(id);
    if (!rows) byPatient.set(id, (rows = []));
    rows.push(row);
  }
  const stays: Stay[] = [];
  for (const [patientId, rows] of [...byPatient].sort(([a], [b]) => a.localeCompare(b))) {
    const firstLabel = rows.findIndex((r) => r.SepsisLabel === 1);
    const septic = firstLabel >= 0;
    const end = septic ? Math.min(firstLabel + HOURS_AFTER_FIRST_LABEL, rows.length - 1) : rows.length - 1;
    const first = rows[0] as Record<string, number>;
    stays.push({
      patientId,
      rows,
      gender: first.Gender === 1 ? 'male' : 'female',
      age: first.Age as number,
      septic,
      firstLabel,
      start: Math.max(0, end - (WINDOW_HOURS - 1)),
      end,
    });
  }
  return stays;
}

/** Every NEWS2 input present (and plausible) in the last 12 hours of the window. */
function coversNews2(stay: Stay): boolean {
  const from = Math.max(stay.start, stay.end - (NEWS2_RECENT_HOURS - 1));
  return NEWS2_COLUMNS.every((column) => {
    for (let i = from; i <= stay.end; i++) {
      if (sourceToFhir(column, (stay.rows[i] as Record<string, number>)[column] as number)) return true;
    }
    return false;
  });
}

function eligible(stay: Stay): boolean {
  if (stay.end - stay.start + 1 < MIN_WINDOW_HOURS || !coversNews2(stay)) return false;
  return !stay.septic || stay.firstLabel - stay.start >= MIN_HOURS_BEFORE_LABEL;
}

/** Age distance; PhysioNet codes every age ≥ 90 as 100. */
function ageDistance(stayAge: number, patientAge: number): number {
  return stayAge === 100 ? Math.max(0, 90 - patientAge) : Math.abs(stayAge - patientAge);
}

// ── Synthea ────────────────────────────────────────────────────────────────────────────────────
interface SyntheaSource {
  file: string;
  bundle: Bundle;
  patient: Patient;
}

function readSynthea(): SyntheaSource[] {
  const dir = path.join(rawDir, 'synthea-fhir-r4');
  const files = readFileSync(path.join(dir, 'MANIFEST.tsv'), 'utf8')
    .split('\n')
    .slice(1)
    .filter((l) => l.length > 0)
    .map((l) => l.split('\t')[0] as string)
    .sort();
  return files.map((file) => {
    const bundle = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as Bundle;
    const patients = (bundle.entry ?? []).map((e) => e.resource).filter((r): r is Patient => r?.resourceType === 'Patient');
    if (patients.length !== 1) throw new Error(`${file}: expected one Patient, found ${patients.length}`);
    return { file, bundle, patient: patients[0] as Patient };
  });
}

const KEPT_WHOLE = new Set(['Patient', 'Condition', 'MedicationRequest', 'AllergyIntolerance']);

function timeOf(resource: FhirResource): number {
  const times = clinicalTimes(resource).map((t) => Date.parse(t)).filter((t) => !Number.isNaN(t));
  return times.length > 0 ? Math.max(...times) : -Infinity;
}

function effectiveOf(o: Observation): number {
  return Date.parse(o.effectiveDateTime ?? '') || -Infinity;
}

/** Vital-sign and lab Observations with UCUM quantities (Synthea's surveys and free text are dropped). */
function isQuantityObservation(o: Observation): boolean {
  const cat = o.category?.[0]?.coding?.[0]?.code;
  if (cat !== 'vital-signs' && cat !== 'laboratory') return false;
  if (o.valueQuantity) return o.valueQuantity.system === UCUM;
  return (o.component ?? []).length > 0 && (o.component ?? []).every((c) => c.valueQuantity?.system === UCUM);
}

/**
 * Trims a Synthea bundle to the patient, conditions, medications, allergies, the last few encounters
 * and the last few values per vital/lab code, plus the practitioners and organizations they cite.
 * Claims, EOBs and everything else are dropped; references to dropped resources are removed.
 */
function trimSynthea(source: SyntheaSource): FhirResource[] {
  const entries = source.bundle.entry ?? [];
  const typeIdByFullUrl = new Map<string, string>();
  for (const e of entries) {
    if (e.fullUrl && e.resource?.id) typeIdByFullUrl.set(e.fullUrl, `${e.resource.resourceType}/${e.resource.id}`);
  }
  const resources = entries.map((e) => e.resource).filter((r): r is FhirResource => r !== undefined);
  const kept: FhirResource[] = resources.filter((r) => KEPT_WHOLE.has(r.resourceType));
  const encounters = resources
    .filter((r): r is Encounter => r.resourceType === 'Encounter')
    .sort((a, b) => (Date.parse(b.period?.start ?? '') || 0) - (Date.parse(a.period?.start ?? '') || 0))
    .slice(0, SYNTHEA_ENCOUNTERS_KEPT);
  kept.push(...encounters);
  const byCode = new Map<string, Observation[]>();
  for (const r of resources) {
    if (r.resourceType !== 'Observation' || !isQuantityObservation(r)) continue;
    const code = r.code.coding?.find((c) => c.system === LOINC)?.code;
    if (!code) continue;
    const list = byCode.get(code) ?? [];
    list.push(r);
    byCode.set(code, list);
  }
  for (const code of [...byCode.keys()].sort()) {
    const list = (byCode.get(code) ?? []).sort((a, b) => effectiveOf(b) - effectiveOf(a) || (a.id ?? '').localeCompare(b.id ?? ''));
    kept.push(...list.slice(0, SYNTHEA_OBSERVATIONS_PER_CODE));
  }
  // Practitioners and organizations cited by what we keep.
  const cited = new Set<string>();
  const collect = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(collect);
    else if (value && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) {
        if (k === 'reference' && typeof v === 'string') cited.add(typeIdByFullUrl.get(v) ?? v);
        else collect(v);
      }
    }
  };
  kept.forEach(collect);
  for (const r of resources) {
    if ((r.resourceType === 'Practitioner' || r.resourceType === 'Organization') && cited.has(`${r.resourceType}/${r.id}`)) kept.push(r);
  }
  const keptIds = new Set(kept.map((r) => `${r.resourceType}/${r.id}`));
  return kept.map((r) => rewriteReferences(r, typeIdByFullUrl, keptIds) as FhirResource);
}

/** urn:uuid references → "Type/id"; references to resources not kept are removed (and emptied parents with them). */
function rewriteReferences(value: unknown, typeIdByFullUrl: Map<string, string>, keptIds: Set<string>): unknown {
  if (Array.isArray(value)) {
    const items = value.map((v) => rewriteReferences(v, typeIdByFullUrl, keptIds)).filter((v) => v !== undefined);
    return items.length > 0 ? items : undefined;
  }
  if (value === null || typeof value !== 'object') return value;
  const record = value as Record<string, unknown>;
  if (typeof record.reference === 'string') {
    const target = typeIdByFullUrl.get(record.reference) ?? record.reference;
    if (!keptIds.has(target)) return undefined;
    return { ...record, reference: target };
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(record)) {
    const rewritten = rewriteReferences(v, typeIdByFullUrl, keptIds);
    if (rewritten !== undefined) out[k] = rewritten;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

// ── FHIR builders ──────────────────────────────────────────────────────────────────────────────
const V3_ACT_CODE = 'http://terminology.hl7.org/CodeSystem/v3-ActCode';
const SYNTHETIC_TAG = { system: VIGIL_DATA_ORIGIN, code: 'synthetic', display: 'Invented by Vigil; not from any source data set' };

function categoryOf(code: string) {
  return [{ coding: [{ system: OBSERVATION_CATEGORY, code }] }];
}

function quantity(value: number, ucum: string, unit: string) {
  return { value, unit, system: UCUM, code: ucum };
}

interface BuiltPatient {
  entry: SandboxIndex['patients'][number];
  resources: FhirResource[];
}

function buildIcuObservations(stay: Stay, key: string, subject: string, encounter: string): Observation[] {
  const out: Observation[] = [];
  for (let i = stay.start; i <= stay.end; i++) {
    const row = stay.rows[i] as Record<string, number>;
    const hoursBefore = stay.end - i;
    const effectiveDateTime = iso(anchorMs - hoursBefore * HOUR_MS);
    const idBase = `${key}-icu-${String(hoursBefore).padStart(2, '0')}`;
    const bp: ObservationComponent[] = [];
    for (const mapping of PHYSIONET_OBSERVATION_MAPPINGS) {
      const fhir = sourceToFhir(mapping.column, row[mapping.column] as number);
      if (!fhir) continue;
      const { representation: r, value } = fhir;
      const code = { coding: [{ system: LOINC, code: r.code, display: r.display }] };
      if (mapping.bpComponent) {
        bp.push({ code, valueQuantity: quantity(value, r.ucum, r.unit) });
        continue;
      }
      out.push({
        resourceType: 'Observation',
        id: `${idBase}-${mapping.column.toLowerCase().replace(/_/g, '-')}`,
        status: 'final',
        category: categoryOf(mapping.category),
        code,
        subject: { reference: subject },
        encounter: { reference: encounter },
        effectiveDateTime,
        valueQuantity: quantity(value, r.ucum, r.unit),
      });
    }
    if (bp.length > 0) {
      // The vital-signs BP profile requires both components; a missing one gets a dataAbsentReason.
      const component = [VITALS.systolicBp, VITALS.diastolicBp].map(
        (code) =>
          bp.find((c) => c.code.coding?.[0]?.code === code) ?? {
            code: { coding: [{ system: LOINC, code, display: code === VITALS.systolicBp ? 'Systolic blood pressure' : 'Diastolic blood pressure' }] },
            dataAbsentReason: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/data-absent-reason', code: 'unknown' }] },
          },
      );
      out.push({
        resourceType: 'Observation',
        id: `${idBase}-bp`,
        status: 'final',
        category: categoryOf('vital-signs'),
        code: { coding: [{ system: LOINC, code: VITALS.bloodPressurePanel, display: 'Blood pressure panel with all children optional' }] },
        subject: { reference: subject },
        encounter: { reference: encounter },
        effectiveDateTime,
        component,
      });
    }
  }
  // ACVPU is not in PhysioNet: a synthetic "Alert" every 4 h, tagged, so NEWS2 can be computed.
  for (let h = 0; h <= stay.end - stay.start; h += ACVPU_EVERY_HOURS) {
    out.push({
      resourceType: 'Observation',
      id: `${key}-acvpu-${String(h).padStart(2, '0')}`,
      meta: { tag: [SYNTHETIC_TAG] },
      status: 'final',
      category: categoryOf('exam'),
      code: { coding: [{ system: LOINC, code: VITALS.levelOfResponsiveness, display: 'Level of responsiveness' }] },
      subject: { reference: subject },
      encounter: { reference: encounter },
      effectiveDateTime: iso(anchorMs - h * HOUR_MS),
      valueCodeableConcept: { coding: [{ system: SNOMED, code: ACVPU.alert.code, display: ACVPU.alert.display }], text: 'Alert' },
    });
  }
  return out;
}

function unitOf(stay: Stay): { code: string; label: string } {
  const first = stay.rows[0] as Record<string, number>;
  if (first.Unit1 === 1) return { code: 'MICU', label: 'Medical ICU' };
  if (first.Unit2 === 1) return { code: 'SICU', label: 'Surgical ICU' };
  return { code: 'ICU', label: 'Intensive care unit' };
}

function latestValue(stay: Stay, column: PhysioNetColumn): number | undefined {
  for (let i = stay.end; i >= stay.start; i--) {
    const fhir = sourceToFhir(column, (stay.rows[i] as Record<string, number>)[column] as number);
    if (fhir) return fhir.value;
  }
  return undefined;
}

function scenarioOf(stay: Stay, heart: boolean): string {
  const endRow = stay.rows[stay.end] as Record<string, number>;
  const day = Math.floor(((endRow.ICULOS as number) - 1) / 24) + 1;
  const unit = unitOf(stay).code;
  let text: string;
  if (stay.septic) text = `${unit} day ${day}, meets sepsis criteria in the last hours`;
  else text = `${unit} day ${day}, ${unit === 'SICU' ? 'stable post-op' : 'stable'}`;
  const fio2 = latestValue(stay, 'FiO2');
  if (fio2 !== undefined && fio2 > 21) text += `, on ${Math.round(fio2)} % oxygen`;
  else text += ', on room air';
  if (heart) text += `; cardiology work-up (exercise test, angiography) ${Math.round(HEART_WORKUP_DAYS_BEFORE_ANCHOR / 7)} weeks ago`;
  return text;
}

function displayName(patient: Patient): string {
  const name = patient.name?.find((n) => n.use === 'official') ?? patient.name?.[0];
  return [...(name?.given ?? []), name?.family ?? ''].join(' ').trim();
}

function buildPatient(source: SyntheaSource, stay: Stay, uci: { row: UciHeartRow; index: number } | undefined): BuiltPatient {
  const patient = source.patient;
  const patientId = patient.id as string;
  const key = patientId.slice(0, 8);
  const subject = `Patient/${patientId}`;
  const endRow = stay.rows[stay.end] as Record<string, number>;
  const icuAdmitMs = anchorMs - (endRow.ICULOS as number) * HOUR_MS;
  const hospAdmitMs = icuAdmitMs + Math.round((endRow.HospAdmTime as number) * 60) * 60_000;

  // Synthea history: trimmed, then moved whole days so it ends SYNTHEA_GAP_DAYS before this admission
  // (or before the heart work-up, so the work-up's cholesterol and BP are the latest before the ICU).
  const workupMs = anchorMs - HEART_WORKUP_DAYS_BEFORE_ANCHOR * DAY_MS;
  const historyEndMs = Math.min(hospAdmitMs, uci ? workupMs : Infinity) - SYNTHEA_GAP_DAYS * DAY_MS;
  const synthea = trimSynthea(source);
  const latest = Math.max(...synthea.filter((r) => r.resourceType !== 'Patient').map(timeOf));
  const shiftDays = Math.floor((historyEndMs - latest) / DAY_MS);
  const history = synthea.map((r) => (r.resourceType === 'Patient' ? r : shiftResourceTimes(r, shiftDays * DAY_MS)));

  const unit = unitOf(stay);
  const hospital: Encounter = {
    resourceType: 'Encounter',
    id: `${key}-hosp`,
    status: 'in-progress',
    class: { system: V3_ACT_CODE, code: 'IMP', display: 'inpatient encounter' },
    type: [{ coding: [{ system: SNOMED, code: '32485007', display: 'Hospital admission' }] }],
    subject: { reference: subject },
    period: { start: iso(hospAdmitMs) },
  };
  const icu: Encounter = {
    resourceType: 'Encounter',
    id: `${key}-icu`,
    status: 'in-progress',
    class: { system: V3_ACT_CODE, code: 'IMP', display: 'inpatient encounter' },
    type: [{ coding: [{ system: SNOMED, code: '305351004', display: 'Admission to intensive care unit' }] }],
    subject: { reference: subject },
    period: { start: iso(icuAdmitMs) },
    location: [{ location: { display: unit.label }, status: 'active' }],
    partOf: { reference: `Encounter/${hospital.id}` },
  };
  const icuObservations = buildIcuObservations(stay, key, subject, `Encounter/${icu.id}`);

  const heartResources: FhirResource[] = [];
  if (uci) {
    const cardio: Encounter = {
      resourceType: 'Encounter',
      id: `${key}-cardio`,
      status: 'finished',
      class: { system: V3_ACT_CODE, code: 'AMB', display: 'ambulatory' },
      type: [{ coding: [{ system: SNOMED, code: SANDBOX_ORDERABLES.exerciseToleranceTest, display: 'Exercise tolerance test' }] }],
      subject: { reference: subject },
      period: { start: iso(workupMs), end: iso(workupMs + HOUR_MS) },
    };
    heartResources.push(cardio, ...uciRowToFhir(uci.row, { idPrefix: key, subject, encounter: `Encounter/${cardio.id}`, effective: iso(workupMs) }));
  }

  const resources: FhirResource[] = [
    ...history.filter((r) => r.resourceType === 'Organization' || r.resourceType === 'Practitioner'),
    ...history.filter((r) => r.resourceType === 'Patient'),
    ...history.filter((r) => r.resourceType === 'Encounter'),
    hospital,
    icu,
    ...history.filter((r) => !['Organization', 'Practitioner', 'Patient', 'Encounter'].includes(r.resourceType)),
    ...heartResources,
    ...icuObservations,
  ];

  const anchorDate = new Date(anchorMs);
  return {
    entry: {
      id: patientId,
      file: `${patientId}.json`,
      name: displayName(patient),
      gender: patient.gender as string,
      birthDate: patient.birthDate as string,
      age: ageAt(patient.birthDate as string, anchorDate),
      scenario: scenarioOf(stay, uci !== undefined),
      provenance: {
        physionet: {
          patientId: stay.patientId,
          septic: stay.septic,
          sepsisLabelHoursBeforeAnchor: stay.septic ? stay.end - stay.firstLabel : null,
          iculosAtAnchor: endRow.ICULOS as number,
          windowHours: stay.end - stay.start + 1,
          age: stay.age,
          unit: unit.code,
        },
        synthea: { file: source.file, patientId },
        uci: uci ? { row: uci.index + 1, age: uci.row.age as number, sex: uci.row.sex as number, num: uci.row.num } : null,
      },
    },
    resources,
  };
}

function toBundle(resources: FhirResource[]): Bundle {
  const seen = new Set<string>();
  const entry: BundleEntry[] = [];
  for (const resource of resources) {
    const url = `${resource.resourceType}/${resource.id}`;
    if (seen.has(url)) continue;
    seen.add(url);
    entry.push({ resource, request: { method: 'PUT', url } });
  }
  return { resourceType: 'Bundle', type: 'transaction', entry };
}

// ── Main ───────────────────────────────────────────────────────────────────────────────────────
function main(): void {
  const started = Date.now();
  const random = seededRandom(SEED);
  log(`Reading PhysioNet stays from ${path.relative(root, rawDir)}/physionet-sepsis-2019 …`);
  const stays = readStays();
  const pool = stays.filter(eligible);
  log(`  ${stays.length} stays, ${pool.length} eligible (≥ ${MIN_WINDOW_HOURS} h, NEWS2 inputs in the last ${NEWS2_RECENT_HOURS} h; septic ones with ≥ ${MIN_HOURS_BEFORE_LABEL} h before the label): ${pool.filter((s) => s.septic).length} septic`);

  log('Reading UCI Cleveland rows …');
  const uciRows = readFileSync(path.join(rawDir, 'uci-heart-disease', 'processed.cleveland.data'), 'utf8')
    .split('\n')
    .filter((l) => l.trim().length > 0)
    .map((line, index) => ({ row: parseClevelandLine(line), index }));

  log('Reading Synthea bundles …');
  const sources = readSynthea();
  const anchorDate = new Date(anchorMs);
  const byGender = (g: string) => sources.filter((s) => s.patient.gender === g && !s.patient.deceasedDateTime && !s.patient.deceasedBoolean);
  const chosen = ['female', 'male'].flatMap((g) => byGender(g).slice(0, PATIENTS_PER_GENDER));
  if (chosen.length < 2 * PATIENTS_PER_GENDER) throw new Error(`Need ${2 * PATIENTS_PER_GENDER} living Synthea patients, found ${chosen.length}`);

  // Which patients become septic and which get a heart work-up: seeded draws per gender.
  const septicFiles = new Set<string>();
  const heartFiles = new Set<string>();
  for (const g of ['female', 'male']) {
    const ofGender = chosen.filter((s) => s.patient.gender === g);
    shuffled(ofGender, random).slice(0, SEPTIC_PER_GENDER).forEach((s) => septicFiles.add(s.file));
    const young = ofGender.filter((s) => ageAt(s.patient.birthDate as string, anchorDate) <= MAX_HEART_WORKUP_AGE);
    shuffled(young, random).slice(0, HEART_WORKUPS_PER_GENDER).forEach((s) => heartFiles.add(s.file));
  }

  // Septic patients first: their pool is the smaller one.
  const order = [...chosen].sort((a, b) => Number(septicFiles.has(b.file)) - Number(septicFiles.has(a.file)) || a.file.localeCompare(b.file));
  const usedStays = new Set<string>();
  const usedRows = new Set<number>();
  const built: BuiltPatient[] = [];
  for (const source of order) {
    const gender = source.patient.gender as string;
    const age = ageAt(source.patient.birthDate as string, anchorDate);
    const septic = septicFiles.has(source.file);
    const stay = pool
      .filter((s) => s.gender === gender && s.septic === septic && !usedStays.has(s.patientId))
      .sort((a, b) => ageDistance(a.age, age) - ageDistance(b.age, age) || a.patientId.localeCompare(b.patientId))[0];
    if (!stay) throw new Error(`No eligible ${septic ? 'septic' : 'non-septic'} ${gender} stay left for ${source.file}`);
    usedStays.add(stay.patientId);
    let uci: { row: UciHeartRow; index: number } | undefined;
    if (heartFiles.has(source.file)) {
      const sex = gender === 'male' ? 1 : 0;
      uci = uciRows
        .filter((u) => u.row.sex === sex && !usedRows.has(u.index) && Object.values(u.row).every((v) => v !== null))
        .sort((a, b) => Math.abs((a.row.age as number) - age) - Math.abs((b.row.age as number) - age) || a.index - b.index)[0];
      if (!uci) throw new Error(`No UCI row left for ${source.file}`);
      usedRows.add(uci.index);
    }
    const patient = buildPatient(source, stay, uci);
    built.push(patient);
    log(
      `  ${patient.entry.name.padEnd(24)} ${gender.padEnd(6)} ${String(age).padStart(3)} y ← ${stay.patientId} (${stay.age} y${stay.septic ? ', septic' : ''})` +
        `${uci ? ` + UCI row ${uci.index + 1} (${uci.row.age} y)` : ''}: ${patient.resources.length} resources`,
    );
  }

  built.sort((a, b) => a.entry.name.localeCompare(b.entry.name));
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  let bytes = 0;
  for (const patient of built) {
    const json = JSON.stringify(toBundle(patient.resources));
    bytes += Buffer.byteLength(json);
    writeFileSync(path.join(outDir, patient.entry.file), json);
  }
  const index: SandboxIndex & { generatedBy: string; seed: number } = {
    anchor: ANCHOR,
    generatedBy: 'scripts/build-sandbox-data.ts',
    seed: SEED,
    patients: built.map((p) => p.entry),
  };
  writeFileSync(path.join(outDir, 'index.json'), `${JSON.stringify(index, null, 2)}\n`);
  log(
    `Wrote ${built.length} bundles + index.json to ${path.relative(root, outDir) || outDir}: ` +
      `${(bytes / 1e6).toFixed(2)} MB, ${built.filter((p) => p.entry.provenance.physionet.septic).length} septic, ` +
      `${built.filter((p) => p.entry.provenance.uci).length} with heart work-up, ${Date.now() - started} ms (${readdirSync(outDir).length} files)`,
  );
}

main();
