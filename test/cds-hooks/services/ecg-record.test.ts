/**
 * The ECG explanation record, format 2 (src/cds-hooks/services/ecg-rhythm/record.ts), built from a synthetic
 * 30 s explanation with noisy saliency: below the stated size, the tracing exact to
 * its 0.001 mV step, each method's saliency summed per 40 ms with its full-resolution total, the consensus
 * still ranking the 1 s segments as before (top segments and their clock times), and what the view decodes.
 */
import { describe, expect, it } from '@jest/globals';
import { bucketSums, buildEcgRecord, SALIENCY_BUCKET_SECONDS } from '../../../src/cds-hooks/services/ecg-rhythm/record.js';
import { fromFixedPoint } from '../../../src/explanations/fixed-point.js';
import type { ExplanationRecord } from '../../../src/explanations/record.js';
import { segmentsOf, type EcgExplanation, type SaliencyTrack } from '../../../src/models/ecg/explain.js';
import { ecgOf, saliencyLevels, topSegments } from '../../../src/web/ecg-model.js';

const RATE = 150;
const N = 30 * RATE;

/** Deterministic pseudo-random numbers in [0, 1) (mulberry32). */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function synthetic(): { signal: Float32Array; explanation: EcgExplanation } {
  const next = random(7);
  // An ECG-ish tracing (a spike every 0.8 s) with noise, in mV.
  const signal = Float32Array.from({ length: N }, (_, i) => (i % 120 < 4 ? 1.2 : 0) + 0.3 * Math.sin(i / 20) + 0.05 * (next() - 0.5));
  // Every sample carries noise (worst case for size); seconds 2, 21 and 25 carry clear support, strongest first.
  const strong = new Map([
    [2, 3e-3],
    [21, 2e-3],
    [25, 1e-3],
  ]);
  const track = (method: SaliencyTrack['method'], scale: number): SaliencyTrack => ({
    method,
    baseline: 'flat line',
    values: Float32Array.from({ length: N }, (_, i) => scale * ((next() - 0.5) * 1e-4 + (i % 120 < 8 ? (strong.get(Math.floor(i / RATE)) ?? 0) : 0))),
    ...(method === 'ig-flat' ? { steps: 64, delta: 0.004, converged: true, baselineScore: -1.5 } : {}),
  });
  const tracks = [track('ig-flat', 1), track('ig-smoothed', 0.8), track('smoothgrad', 1.3), track('occlusion', 0.5)];
  const consensus = new Float32Array(N);
  for (const t of tracks) {
    const total = t.values.reduce((a, v) => a + Math.abs(v), 0);
    for (let i = 0; i < N; i++) consensus[i]! += t.values[i]! / total / tracks.length;
  }
  const segments = segmentsOf(consensus, tracks, RATE, 1);
  return { signal, explanation: { classIndex: 1, score: 1.2, tracks, consensus, segments, segmentSeconds: 1, milliseconds: 2500 } };
}

function record(signal: Float32Array, explanation: EcgExplanation) {
  return buildEcgRecord({
    id: 'e1',
    cardUuid: 'c1',
    patientId: 'p1',
    serviceId: 'vigil-ecg-rhythm',
    manifest: { id: 'ecg-rhythm', version: '2.0.0', output: { type: 'multiclass' } } as never,
    now: new Date('2026-01-01T10:01:00Z'),
    rhythm: 'A',
    probabilities: { N: 0.1, A: 0.8, O: 0.07, '~': 0.03 },
    windows: [],
    signal,
    rateHz: RATE,
    start: '2026-01-01T10:00:00.000Z',
    observation: 'Observation/o1',
    lead: 'Observation.valueSampledData',
    explanation,
  });
}

describe('ECG explanation record, format 2', () => {
  const { signal, explanation } = synthetic();
  const built = record(signal, explanation);
  const json = JSON.stringify(built);
  const e = built.ecg;

  it('stays below 90 KB of JSON for a 30 s tracing even with noise in every saliency sample', () => {
    expect(e.format).toBe(2);
    expect(e.durationSeconds).toBe(30);
    expect(json.length).toBeLessThan(90_000);
    // Format 1 (plain per-sample arrays) for the same data, for scale: more than three times as large.
    const plain = JSON.stringify({ signal: Array.from(signal, (v) => Number(v.toFixed(3))), saliency: explanation.tracks.map((t) => Array.from(t.values, (v) => Number(v.toFixed(6)))), consensus: Array.from(explanation.consensus, (v) => Number(v.toFixed(6))) });
    expect(plain.length).toBeGreaterThan(3 * json.length);
  });

  it('keeps the tracing at full resolution (every sample, exact to 0.001 mV)', () => {
    expect(e.signal.q).toHaveLength(N);
    fromFixedPoint(e.signal).forEach((v, i) => expect(Math.abs(v - signal[i]!)).toBeLessThanOrEqual(0.0005 + 1e-9));
  });

  it('sums each method per 40 ms bucket, keeping the full-resolution total and the completeness figures', () => {
    expect(e.saliencyBucketSeconds).toBeCloseTo(SALIENCY_BUCKET_SECONDS, 9);
    expect(e.score).toBe(1.2);
    e.saliency!.forEach((s, k) => {
      const values = explanation.tracks[k]!.values;
      expect(s.sums.q).toHaveLength(N / 6);
      expect(s.total).toBeCloseTo(values.reduce((a, b) => a + b, 0), 9);
      const exact = bucketSums(values, 6);
      const stored = fromFixedPoint(s.sums);
      // Each bucket to ≈ 3 significant digits of the largest bucket.
      const peak = Math.max(...exact.map(Math.abs));
      stored.forEach((v, i) => expect(Math.abs(v - exact[i]!)).toBeLessThanOrEqual(peak / 1000));
    });
    expect(e.saliency![0]).toMatchObject({ method: 'ig-flat', steps: 64, convergenceDelta: 0.004, converged: true, baselineScore: -1.5 });
  });

  it('the stored consensus ranks the segments as the full-resolution one did: same top segments, same times', () => {
    expect(e.segments!.slice(0, 3).map((s) => [s.from, s.fromTime])).toEqual([
      [2, '2026-01-01T10:00:02.000Z'],
      [21, '2026-01-01T10:00:21.000Z'],
      [25, '2026-01-01T10:00:25.000Z'],
    ]);
    const view = ecgOf(built as unknown as ExplanationRecord)!;
    const recomputed = segmentsOf(Float32Array.from(view.consensus!), [], RATE, 1);
    expect(recomputed.slice(0, 5).map((s) => s.from)).toEqual(e.segments!.slice(0, 5).map((s) => s.from));
    expect(topSegments(view)).toEqual(topSegments({ segments: explanation.segments.map((s) => ({ ...s, fromTime: new Date(Date.parse('2026-01-01T10:00:00.000Z') + s.from * 1000).toISOString() })) }));
  });

  it('draws the same band: the decoded consensus gives the full-resolution levels to within 1 %', () => {
    const view = ecgOf(built as unknown as ExplanationRecord)!;
    const stored = saliencyLevels(view.consensus!, RATE);
    const exact = saliencyLevels(Array.from(explanation.consensus), RATE);
    let worst = 0;
    for (let i = 0; i < N; i++) worst = Math.max(worst, Math.abs(stored[i]! - exact[i]!));
    expect(worst).toBeLessThan(0.01);
  });

  it('without saliency: the tracing and the call only', () => {
    const bare = buildEcgRecord({ ...{ id: 'e2', cardUuid: 'c2', patientId: 'p1', serviceId: 's', manifest: { id: 'ecg-rhythm', version: '2.0.0' } as never, now: new Date(), rhythm: 'N', probabilities: { N: 0.9, A: 0.05, O: 0.03, '~': 0.02 }, windows: [], signal, rateHz: RATE, lead: 'Observation.valueSampledData' } });
    expect(bare.ecg.saliency).toBeUndefined();
    expect(bare.ecg.consensus).toBeUndefined();
    expect(ecgOf(bare as unknown as ExplanationRecord)!.signal).toHaveLength(N);
  });
});
