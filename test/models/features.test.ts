import { describe, expect, it } from '@jest/globals';
import type { Observation, Patient } from 'fhir/r4';
import { buildDeteriorationWindow } from '../../src/models/features/deterioration-window.js';
import { MEASUREMENTS } from '../../src/models/data/physionet.js';

const now = new Date('2026-01-02T12:00:00Z');
const patient: Patient = { resourceType: 'Patient', id: 'p', gender: 'female', birthDate: '1956-01-01' };

function obs(id: string, code: string, value: number, unit: string, at: string): Observation {
  return {
    resourceType: 'Observation',
    id,
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code }] },
    effectiveDateTime: at,
    valueQuantity: { value, unit, system: 'http://unitsofmeasure.org', code: unit },
  };
}

const HR = MEASUREMENTS.indexOf('HR');
const TEMP = MEASUREMENTS.indexOf('Temp');

describe('FHIR Observations → deterioration window', () => {
  it('bins by hour ending now, keeps the latest value per hour and the source ids', () => {
    const w = buildDeteriorationWindow(
      patient,
      [
        obs('hr1', '8867-4', 80, '/min', '2026-01-02T11:05:00Z'),
        obs('hr2', '8867-4', 95, '/min', '2026-01-02T11:40:00Z'),
        obs('hr0', '8867-4', 70, '/min', '2026-01-02T09:59:00Z'),
        obs('old', '8867-4', 60, '/min', '2025-12-30T09:00:00Z'),
      ],
      now,
    );
    expect(w.input.rows).toHaveLength(48);
    expect(w.input.rows[47]![HR]).toBe(95);
    expect(w.sources[47]![HR]).toEqual(['hr2']);
    expect(w.input.rows[45]![HR]).toBe(70);
    expect(w.hourStarts[47]).toBe('2026-01-02T11:00:00.000Z');
    expect(w.measuredCells).toBe(2);
    expect(w.input.age).toBe(70);
    expect(w.input.sex).toBe(0);
  });

  it('converts units through the mapping (°F → °C) and rejects unknown units and implausible values with a reason', () => {
    const w = buildDeteriorationWindow(
      patient,
      [
        obs('t', '8310-5', 101.3, '[degF]', '2026-01-02T11:00:00Z'),
        obs('hr900', '8867-4', 900, '/min', '2026-01-02T11:10:00Z'),
        obs('hrbad', '8867-4', 80, 'furlongs', '2026-01-02T10:10:00Z'),
      ],
      now,
    );
    expect(w.input.rows[47]![TEMP]).toBeCloseTo(38.5, 4);
    expect(w.input.rows[47]![HR]).toBeNaN();
    expect(w.rejected.map((r) => r.observationId).sort()).toEqual(['hr900', 'hrbad']);
    expect(w.rejected[0]!.reason).toMatch(/unknown unit or is implausible/);
  });
});
