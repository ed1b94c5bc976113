/**
 * The deterioration encoding's cell decoder (src/explain/encodings/physionet-window.ts) finds the step each
 * cell's value comes from in one pass per feature and keeps decoded cells. It must decode exactly what a walk
 * back from the cell to its latest measurement gives — value, unit, direction, carried-forward flag, time and
 * Observation ids — for windows shorter than the model's (padded) and full ones, asked in any order and twice.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { initBackend } from '../../src/models/backend/index.js';
import { ModelRegistry } from '../../src/models/registry.js';
import { MEASUREMENTS, type PhysionetEncodingSpec } from '../../src/models/data/physionet.js';
import type { DeteriorationInput } from '../../src/models/types.js';
import { explainableFromRegistered } from '../../src/explain/explainable.js';
import { directionOf, IONIZED_CALCIUM, REFERENCE } from '../../src/explain/reference-ranges.js';
import { physioNetMapping, representationFor, type PhysioNetColumn } from '../../src/fhir/mappings/physionet.js';
import type { CellValue, Explainable, Provenance } from '../../src/explain/types.js';
import type { RegisteredModel } from '../../src/models/registry.js';

let registry: ModelRegistry;
let model: RegisteredModel<DeteriorationInput>;
let explainable: Explainable<DeteriorationInput>;

beforeAll(async () => {
  await initBackend();
  registry = await ModelRegistry.open({ dir: 'models' });
  model = registry.get<DeteriorationInput>('deterioration');
  explainable = explainableFromRegistered(model);
});
afterAll(() => registry.close());

const HOUR = 3_600_000;
const T0 = Date.parse('2026-03-01T00:00:00Z');

/** The decoding as a walk back from the cell to its latest measurement (what the adapter did before). */
function walkBack(input: DeteriorationInput, provenance: Provenance, W: number, t: number, feature: string): CellValue {
  if (feature === 'Age') return { value: Number.isNaN(input.age) ? null : input.age, imputed: Number.isNaN(input.age), sources: [] };
  if (feature === 'Sex') {
    const known = input.sex === 0 || input.sex === 1;
    return { value: known ? input.sex : null, imputed: !known, sources: [], ...(known ? { valueText: REFERENCE.Sex!.values![input.sex]! } : {}) };
  }
  const m = MEASUREMENTS.indexOf(feature as (typeof MEASUREMENTS)[number]);
  if (m < 0) return { value: null, imputed: true, sources: [] };
  const first = Math.max(0, input.rows.length - W);
  const pad = W - (input.rows.length - first);
  for (let s = t; s >= pad; s--) {
    const v = input.rows[first + s - pad]![m]!;
    if (Number.isNaN(v)) continue;
    const representation = representationFor(feature as PhysioNetColumn, v);
    const value = Number((representation ? representation.fromSource(v) : v).toPrecision(6));
    const ionized = feature === 'Calcium' && representation?.ucum === 'mmol/L';
    const direction = directionOf(ionized ? IONIZED_CALCIUM : REFERENCE[feature], value);
    return {
      value,
      ...(ionized ? { unitText: IONIZED_CALCIUM.unitText } : {}),
      ...(direction ? { direction } : {}),
      imputed: s !== t,
      measuredAt: provenance.stepTimes![first + s - pad]!,
      sources: provenance.sources[first + s - pad]![m]!,
    };
  }
  return { value: null, imputed: true, sources: [] };
}

/** A random window of `hours` rows (1–48; the model takes at most its 48): each measurement present with its own probability, in plausible source units. */
const windowArb = fc
  .record({ seed: fc.integer({ min: 1, max: 1e6 }), hours: fc.integer({ min: 1, max: 48 }), age: fc.oneof(fc.integer({ min: 18, max: 95 }), fc.constant(NaN)), sex: fc.constantFrom(0, 1, NaN) })
  .map(({ seed, hours, age, sex }) => {
    let s = seed;
    const rand = () => ((s = (s * 16807) % 2147483647) - 1) / 2147483646;
    const density = MEASUREMENTS.map(() => [0, 0.05, 0.3, 0.9][Math.floor(rand() * 4)]!);
    const rows = Array.from({ length: hours }, () =>
      Float32Array.from(MEASUREMENTS, (column, m) => {
        if (rand() >= density[m]!) return NaN;
        const mapping = physioNetMapping(column);
        if (mapping.kind !== 'observation') return NaN;
        const { min, max } = mapping.primary.plausible;
        return mapping.primary.toSource(min + (max - min) * (0.2 + 0.6 * rand()));
      }),
    );
    // The model scores only windows with a vital sign.
    rows[hours - 1]![MEASUREMENTS.indexOf('HR')] = 80;
    const sources = rows.map((row, h) => Array.from(row, (v, m) => (Number.isNaN(v) ? [] : [`obs-${h}-${m}`])));
    const stepTimes = rows.map((_, h) => new Date(T0 + h * HOUR).toISOString());
    return { input: { rows, age, sex } as DeteriorationInput, provenance: { sources, stepTimes } as Provenance };
  });

describe('physionet-window cells', () => {
  it('decode what a walk back to the latest measurement gives, for every cell, asked twice in any order', () => {
    const W = (model.preprocess as PhysionetEncodingSpec).windowHours;
    const features = explainable.layout.features.map((f) => f.name);
    fc.assert(
      fc.property(windowArb, fc.boolean(), ({ input, provenance }, backwards) => {
        const prepared = explainable.prepare(input, provenance);
        const order = Array.from({ length: W }, (_, t) => (backwards ? W - 1 - t : t));
        const expected = order.map((t) => features.map((name) => walkBack(input, provenance, W, t, name)));
        for (const pass of [0, 1]) {
          const steps = pass ? [...order].reverse() : order;
          const cells = steps.map((t) => features.map((_, f) => prepared.cell(t, f)));
          expect(cells).toEqual(pass ? [...expected].reverse() : expected);
        }
      }),
      { numRuns: 30 },
    );
  });

  it('a carried-forward cell names the earlier measurement and is marked imputed; before the first, nothing', () => {
    const W = (model.preprocess as PhysionetEncodingSpec).windowHours;
    const hr = MEASUREMENTS.indexOf('HR');
    const rows = Array.from({ length: W }, () => new Float32Array(MEASUREMENTS.length).fill(NaN));
    rows[10]![hr] = 88;
    const sources = rows.map((_, h) => MEASUREMENTS.map((__, m) => (h === 10 && m === hr ? ['hr-10'] : [])));
    const stepTimes = rows.map((_, h) => new Date(T0 + h * HOUR).toISOString());
    const prepared = explainable.prepare({ rows, age: 70, sex: 1 }, { sources, stepTimes });
    const f = explainable.layout.features.findIndex((x) => x.name === 'HR');
    expect(prepared.cell(9, f)).toEqual({ value: null, imputed: true, sources: [] });
    expect(prepared.cell(10, f)).toMatchObject({ value: 88, imputed: false, measuredAt: stepTimes[10], sources: ['hr-10'] });
    expect(prepared.cell(30, f)).toMatchObject({ value: 88, imputed: true, measuredAt: stepTimes[10], sources: ['hr-10'] });
    expect(prepared.cell(10, f).imputed).toBe(false);
  });
});
