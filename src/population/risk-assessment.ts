/**
 * The FHIR R4 RiskAssessment (https://hl7.org/fhir/R4/riskassessment.html) a population run writes for
 * one patient and one model, and the transaction that writes a batch of them. Pure.
 *
 * - `identifier` is deterministic — a hash of (FHIR server, model id, model version, patient, export
 *   transactionTime) — and each entry is a conditional create on it (`ifNoneExist`), so writing the same
 *   batch twice (a retry, or a resumed run redoing a batch whose write landed before the crash) creates
 *   nothing new.
 * - `method.coding[0].code` is the model id, as the explanation view reads it (src/web/model.ts), with the
 *   model version in `coding.version`; `prediction.qualitativeRisk` uses the risk-probability code system.
 * - `basis` lists the Observations the input was built from.
 */
import { createHash } from 'node:crypto';
import type { Bundle, RiskAssessment } from 'fhir/r4';
import type { ModelManifest, RiskBand } from '../models/index.js';

/** Identifier system of population RiskAssessments. */
export const POPULATION_RISK_IDENTIFIER_SYSTEM = 'http://vigil.example.org/fhir/population-risk-assessment';
/** Code system naming Vigil's models (code = model id, version = model version). */
export const VIGIL_MODEL_SYSTEM = 'http://vigil.example.org/CodeSystem/model';
const RISK_PROBABILITY = 'http://terminology.hl7.org/CodeSystem/risk-probability';
const HOUR_MS = 3_600_000;

export interface ScoredPatient {
  patientId: string;
  manifest: Pick<ModelManifest, 'id' | 'version' | 'title' | 'output'>;
  probability: number;
  band: RiskBand;
  /** "Observation/<id>" references. */
  basis: readonly string[];
  /** The instant the assessment is for: the export's transactionTime. */
  asOf: string;
}

export function riskAssessmentIdentifier(fhirBase: string, s: Pick<ScoredPatient, 'patientId' | 'manifest' | 'asOf'>): string {
  return createHash('sha256').update([fhirBase.replace(/\/+$/, ''), s.manifest.id, s.manifest.version, s.patientId, s.asOf].join('\n')).digest('hex').slice(0, 32);
}

const BAND_DISPLAY: Record<RiskBand, string> = { low: 'Low likelihood', moderate: 'Moderate likelihood', high: 'High likelihood' };

export function buildRiskAssessment(fhirBase: string, s: ScoredPatient): RiskAssessment {
  const horizon = s.manifest.output.horizonHours;
  const at = Date.parse(s.asOf);
  return {
    resourceType: 'RiskAssessment',
    identifier: [{ system: POPULATION_RISK_IDENTIFIER_SYSTEM, value: riskAssessmentIdentifier(fhirBase, s) }],
    status: 'final',
    subject: { reference: `Patient/${s.patientId}` },
    occurrenceDateTime: s.asOf,
    method: {
      coding: [{ system: VIGIL_MODEL_SYSTEM, code: s.manifest.id, version: s.manifest.version, display: s.manifest.title }],
      text: `${s.manifest.title} ${s.manifest.version} (Vigil population scoring)`,
    },
    code: { coding: [{ system: VIGIL_MODEL_SYSTEM, code: s.manifest.id }], text: s.manifest.title },
    ...(s.basis.length ? { basis: s.basis.map((reference) => ({ reference })) } : {}),
    prediction: [
      {
        outcome: { text: s.manifest.output.description },
        probabilityDecimal: s.probability,
        qualitativeRisk: { coding: [{ system: RISK_PROBABILITY, code: s.band, display: BAND_DISPLAY[s.band] }] },
        ...(horizon && Number.isFinite(at) ? { whenPeriod: { start: s.asOf, end: new Date(at + horizon * HOUR_MS).toISOString() } } : {}),
      },
    ],
    note: [{ text: 'Model output for decision support, not a diagnosis. Written by Vigil population scoring (npm run score-population).' }],
  };
}

/** FHIR R4 transaction (§3.1.0.11) of conditional creates, one per RiskAssessment. */
export function riskAssessmentTransaction(assessments: readonly RiskAssessment[]): Bundle {
  return {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: assessments.map((ra) => {
      const id = ra.identifier![0]!;
      return {
        resource: ra,
        request: { method: 'POST', url: 'RiskAssessment', ifNoneExist: `identifier=${encodeURIComponent(`${id.system}|${id.value}`)}` },
      };
    }),
  };
}
