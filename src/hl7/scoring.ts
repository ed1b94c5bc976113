/**
 * Scoring patients whose data arrived over HL7, and the ORU^R01 that carries the result back to the
 * EHR. A scorer is a pure function over the patient's recent Observations (the seam the deterioration
 * model will plug into); NEWS2 (src/cds-hooks/services/news2) is the first one.
 *
 * Outbound ORU^R01 (v2.5.1 §7.3.1): MSH, PID (PID-3 the patient's first identifier, its FHIR system as
 * the assigning authority's universal id, type URI), OBR (the score as the "test"), one OBX (NM score,
 * OBX-8 flag from the risk band), and NTE segments: the summary, then the top contributing factors.
 */
import { randomUUID } from 'node:crypto';
import type { Observation, Patient } from 'fhir/r4';
import { NEWS2_CODES, VITALS } from '../fhir/codes.js';
import { PARAMETER_LABELS, scoreNews2 } from '../cds-hooks/services/news2/score.js';
import { inputsFrom, selectReadings } from '../cds-hooks/services/news2/observations.js';
import { hl7Timestamp, messageText, mshSegment, segment } from './build.js';
import type { FhirWriter } from './fhir-writer.js';
import type { MessageStore } from './queue.js';

export interface ScoreResult {
  /** Coded score: HL7 v2 coding-system name (e.g. SCT, LN) and code. */
  code: { code: string; display: string; system: string };
  value: number;
  /** OBX-8 abnormal flag (table 0078): N, A, H, HH. */
  flag: 'N' | 'A' | 'H' | 'HH';
  summary: string;
  /** Most important contributions first. */
  factors: string[];
}

export interface PatientScorer {
  id: string;
  /** LOINC codes of the Observations the scorer reads. */
  loincCodes: readonly string[];
  /** How far back to read. */
  lookbackMs: number;
  score(observations: readonly Observation[], now: Date): ScoreResult | undefined;
}

const NEWS2_LOINC = [
  VITALS.respiratoryRate,
  VITALS.spo2,
  VITALS.oxygenSaturation,
  VITALS.bodyTemperature,
  NEWS2_CODES.oralTemperature,
  VITALS.bloodPressurePanel,
  NEWS2_CODES.bloodPressurePanelLegacy,
  VITALS.systolicBp,
  VITALS.heartRate,
  VITALS.inhaledO2Concentration,
  VITALS.inhaledO2FlowRate,
  VITALS.levelOfResponsiveness,
  VITALS.glasgowComaScoreTotal,
];

const FLAG_BY_RISK = { low: 'N', 'low-medium': 'A', medium: 'H', high: 'HH' } as const;

/** NEWS2 (RCP 2017) over the last 24 h of vital signs; undefined when no parameter has a reading. */
export const news2Scorer: PatientScorer = {
  id: 'news2',
  loincCodes: NEWS2_LOINC,
  lookbackMs: 24 * 3_600_000,
  score(observations, now) {
    const selection = selectReadings(observations, { now, staleAfterMs: 12 * 3_600_000 });
    if (Object.keys(selection.readings).length === 0) return undefined;
    const result = scoreNews2(inputsFrom(selection));
    const factors = [...result.subScores]
      .filter((s) => s.points > 0)
      .sort((a, b) => b.points - a.points)
      .slice(0, 3)
      .map((s) => `${PARAMETER_LABELS[s.parameter]}: ${s.points} point${s.points === 1 ? '' : 's'}`);
    const missing = result.missing.length ? `; not recorded: ${result.missing.map((p) => PARAMETER_LABELS[p]).join(', ')}` : '';
    return {
      code: { code: NEWS2_CODES.news2TotalScore, display: 'NEWS2 total score', system: 'SCT' },
      value: result.total,
      flag: FLAG_BY_RISK[result.risk],
      summary: `NEWS2 ${result.total} (${result.risk} clinical risk, response: ${result.response})${missing}`,
      factors,
    };
  },
};

export interface ResultMessageOptions {
  now: Date;
  controlId: string;
  receivingApplication?: string;
  receivingFacility?: string;
}

/** The ORU^R01 for one score. Pure. */
export function buildResultOru(patient: Patient, result: ScoreResult, options: ResultMessageOptions): string {
  const ts = hl7Timestamp(options.now);
  const id = patient.identifier?.find((i) => i.value) ;
  const name = patient.name?.[0];
  const pid3 = id ? { raw: [escapeComponent(id.value!), '', '', `&${escapeSub(id.system ?? '')}&URI`].join('^') } : undefined;
  const code = [result.code.code, result.code.display, result.code.system];
  const segments = [
    mshSegment(['VIGIL', 'VIGIL', options.receivingApplication, options.receivingFacility, ts, undefined, ['ORU', 'R01', 'ORU_R01'], options.controlId, 'P', '2.5.1']),
    segment('PID', ['1', undefined, pid3, undefined, name ? [name.family, name.given?.[0]] : undefined]),
    segment('OBR', ['1', undefined, options.controlId, code, undefined, undefined, ts, ...Array<undefined>(14).fill(undefined), ts, undefined, undefined, 'F']),
    segment('OBX', ['1', 'NM', code, undefined, String(result.value), undefined, undefined, result.flag, undefined, undefined, 'F', undefined, undefined, ts]),
    ...[result.summary, ...result.factors].map((text, i) => segment('NTE', [String(i + 1), 'L', text])),
  ];
  return messageText(segments);
}

function escapeComponent(text: string): string {
  return text.replace(/\\/g, '\\E\\').replace(/\|/g, '\\F\\').replace(/\^/g, '\\S\\').replace(/&/g, '\\T\\').replace(/~/g, '\\R\\');
}
const escapeSub = escapeComponent;

/** Reads the patient's recent data, runs every scorer, and queues one ORU^R01 per result. */
export async function scoreAndQueue(
  patientId: string,
  deps: { writer: FhirWriter; scorers: readonly PatientScorer[]; store: MessageStore; now: Date; receivingApplication?: string },
): Promise<number> {
  const patient = await deps.writer.read<Patient>('Patient', patientId);
  if (!patient) return 0;
  let queued = 0;
  for (const scorer of deps.scorers) {
    const since = new Date(deps.now.getTime() - scorer.lookbackMs);
    const observations = await deps.writer.observations(patientId, scorer.loincCodes, since);
    const result = scorer.score(observations, deps.now);
    if (!result) continue;
    const controlId = randomUUID().replace(/-/g, '').slice(0, 20);
    await deps.store.enqueueOutbound({ controlId, raw: buildResultOru(patient, result, { now: deps.now, controlId }) }, deps.now.getTime());
    queued++;
  }
  return queued;
}
