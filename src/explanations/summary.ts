/**
 * The one-line view of an explanation record that GET /patients/{id}/explanations/latest lists (issue 8:
 * "the current risk score and band for each model"). Enough to draw a model's tile and to fetch its full
 * record by id; no factors, attributions or tracings. Pure.
 */
import type { RiskBand } from '../models/index.js';
import type { ExplanationRecord } from './record.js';

export interface ExplanationSummary {
  /** Explanation id: GET /explanations/{id} returns the whole record. */
  id: string;
  model: { id: string; version: string };
  serviceId: string;
  /** Absent when no score was computed (`unclassified`). */
  probability?: number;
  band?: RiskBand;
  /** What the probability is of (the record's prediction.outcome). */
  outcome?: string;
  /** The model's band cut-offs (the record's prediction.thresholds): the tile states the score against them. */
  thresholds?: { moderate: number; high: number };
  horizonHours?: number;
  /** When the record was made, and the instant its data end at (ISO 8601). */
  created: string;
  asOf: string;
  /** ECG records: the rhythm called and its probability (the record's probability is p(AF) whatever the call). */
  rhythm?: { code: string; name: string; probability: number };
  /** ECG records of a tracing refused before classification: no rhythm and no probability were computed. */
  unclassified?: true;
  /**
   * Tabular records (no time-series window): the newest measurement the score used. Such a score is made at
   * the hook call from a work-up that can be weeks older, so its asOf says nothing about how fresh the data are.
   */
  measuredUpTo?: string;
}

/** The newest factor time of a record without a time-series window (ISO 8601), or undefined. */
export function newestMeasurement(record: Pick<ExplanationRecord, 'window' | 'factors'>): string | undefined {
  if (record.window) return undefined;
  let newest = Number.NaN;
  for (const f of record.factors) {
    const t = f.time ? Date.parse(f.time) : Number.NaN;
    if (Number.isFinite(t) && !(t <= newest)) newest = t;
  }
  return Number.isFinite(newest) ? new Date(newest).toISOString() : undefined;
}

/** The shape of an ECG record's class list, read without depending on the ECG service's types. */
function rhythmOf(record: ExplanationRecord): ExplanationSummary['rhythm'] {
  const ecg = (record as { ecg?: { rhythm?: unknown; classes?: unknown } }).ecg;
  if (!ecg || typeof ecg.rhythm !== 'string' || !Array.isArray(ecg.classes)) return undefined;
  const called = (ecg.classes as Array<{ code?: unknown; name?: unknown; probability?: unknown }>).find((c) => c.code === ecg.rhythm);
  if (!called || typeof called.name !== 'string' || typeof called.probability !== 'number') return undefined;
  return { code: ecg.rhythm, name: called.name, probability: called.probability };
}

export function summarizeExplanation(record: ExplanationRecord): ExplanationSummary {
  const p = record.prediction;
  const rhythm = rhythmOf(record);
  const unclassified = typeof (record as { ecg?: { unclassified?: unknown } }).ecg?.unclassified === 'object';
  const measuredUpTo = newestMeasurement(record);
  return {
    id: record.id,
    model: { id: record.model.id, version: record.model.version },
    serviceId: record.serviceId,
    ...(p ? { probability: p.probability, band: p.band, outcome: p.outcome, thresholds: { moderate: p.thresholds.moderate, high: p.thresholds.high } } : {}),
    ...(p?.horizonHours !== undefined ? { horizonHours: p.horizonHours } : {}),
    created: record.created,
    asOf: record.asOf,
    ...(rhythm ? { rhythm } : {}),
    ...(unclassified ? { unclassified: true as const } : {}),
    ...(measuredUpTo ? { measuredUpTo } : {}),
  };
}
