/**
 * Test fixtures for explanation records (src/explanations/record.ts): a high sepsis-risk deterioration record
 * for a given patient, the one the access-control suites store and read back, and a bare record the storage
 * suites file by patient, model and creation time.
 */
import { dataHash, type ExplanationRecord } from '../../src/explanations/record.js';

/** One lactate factor with its evidence; `rows` feeds dataHash, so suites can vary the hashed input. */
export function sepsisRecord(id: string, patientId: string, rows: number[][]): ExplanationRecord {
  return {
    id,
    patientId,
    serviceId: 'vigil-deterioration',
    cardUuid: `card-${id}`,
    model: { id: 'deterioration', version: '1.1.0' },
    created: '2026-01-01T12:00:00.000Z',
    asOf: '2026-01-01T12:00:00.000Z',
    dataHash: dataHash({ rows, age: 60, sex: 1 }),
    prediction: { probability: 0.07, band: 'high', indicator: 'critical', thresholds: { moderate: 0.01, high: 0.05 }, outcome: 'sepsis', horizonHours: 6 },
    factors: [{ feature: 'Lactate', label: 'Lactate', text: 'Lactate 4 mmol/L raised the risk', contribution: 0.03, evidence: ['Observation/lac-1'] }],
    notUsed: [],
  };
}

/** No factors, a moderate prediction and a hash named after the id: only where and when it was filed matter. */
export function bareRecord(id: string, patientId: string, model: string, created: string): ExplanationRecord {
  return {
    id,
    patientId,
    serviceId: `vigil-${model}`,
    cardUuid: `card-${id}`,
    model: { id: model, version: '1.0.0' },
    created,
    asOf: created,
    dataHash: `hash-${id}`,
    prediction: { probability: 0.2, band: 'moderate', indicator: 'warning', thresholds: { moderate: 0.1, high: 0.3 }, outcome: 'test' },
    factors: [],
    notUsed: [],
  };
}
