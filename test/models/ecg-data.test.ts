/**
 * ECG data pipeline, signal checks, R-peak baseline and multi-class metrics (src/models/ecg): pure parts,
 * on synthetic tracings and a slice of the shipped Challenge records.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { ECG_CLASSES } from '../../src/models/ecg/classes.js';
import { parseEcgRecords, stratifiedRecordSplit } from '../../src/models/ecg/data.js';
import { challengeF1, confusionMatrix, confusionSvg, f1FromConfusion, multiclassReport } from '../../src/models/ecg/metrics.js';
import { assessSignalQuality } from '../../src/models/ecg/quality.js';
import { RHYTHM_FEATURES, detectRPeaks, rhythmFeatures, rrFeatures, sampleEntropy } from '../../src/models/ecg/rpeaks.js';
import { fitSoftmax, predictSoftmax } from '../../src/models/ecg/softmax-regression.js';
import { DEFAULT_AUGMENT, augmentedWindow, defaultEcgSpec, encodeTracing, normaliseWindow, rowWidth, windowStarts } from '../../src/models/ecg/windows.js';
import { seededRandom } from '../../src/models/random.js';

/** A crude synthetic ECG: narrow Gaussian R waves at the given beat times (s), small T waves, mV. */
function synthEcg(beats: number[], seconds: number, rate = 300, noise = 0): Float32Array {
  const out = new Float32Array(Math.round(seconds * rate));
  const random = seededRandom(7);
  for (let i = 0; i < out.length; i++) {
    const t = i / rate;
    let v = 0;
    for (const b of beats) {
      v += 1.2 * Math.exp(-(((t - b) / 0.012) ** 2)) + 0.25 * Math.exp(-(((t - b - 0.25) / 0.05) ** 2));
    }
    out[i] = v + noise * (random() - 0.5);
  }
  return out;
}

const regularBeats = (seconds: number, rr = 0.8) => Array.from({ length: Math.floor(seconds / rr) }, (_, k) => 0.3 + k * rr);
function irregularBeats(seconds: number): number[] {
  const random = seededRandom(3);
  const beats = [0.3];
  while (beats[beats.length - 1]! < seconds - 1) beats.push(beats[beats.length - 1]! + 0.4 + 0.7 * random());
  return beats;
}

describe('records and split', () => {
  const text = readFileSync('data/raw/ecg-cinc2017/records.jsonl', 'utf8').split('\n').slice(0, 40).join('\n');
  const records = parseEcgRecords(text);

  it('parses records.jsonl: ids, labels, 300 Hz, samples in mV', () => {
    expect(records).toHaveLength(40);
    expect(records[0]).toMatchObject({ id: 'A00001', label: 'N', fs: 300 });
    expect(records[0]!.samples[0]).toBeCloseTo(-0.127, 6);
    expect(() => parseEcgRecords('{"record":"X","label":"Z","fs":300,"samples":[1]}')).toThrow(/unknown ECG class/);
    expect(() => parseEcgRecords('{"record":"X","label":"N","fs":300,"units":"uV","samples":[1]}')).toThrow(/mV/);
  });

  it('splits by record, stratified, disjoint and deterministic for a seed', () => {
    const all = parseEcgRecords(readFileSync('data/raw/ecg-cinc2017/records.jsonl', 'utf8'));
    const a = stratifiedRecordSplit(all, 42);
    expect(stratifiedRecordSplit(all, 42)).toEqual(a);
    expect(stratifiedRecordSplit(all, 43).test).not.toEqual(a.test);
    const parts = [...a.train, ...a.validation, ...a.test];
    expect(new Set(parts).size).toBe(all.length);
    const label = new Map(all.map((r) => [r.id, r.label]));
    for (const c of ECG_CLASSES) {
      const total = all.filter((r) => r.label === c).length;
      const test = a.test.filter((id) => label.get(id) === c).length;
      expect(test).toBe(Math.round(total * 0.2));
      expect(a.validation.some((id) => label.get(id) === c)).toBe(true);
    }
  });

  it('the committed split is the one the committed seed gives', () => {
    const committed = JSON.parse(readFileSync('models/ecg-rhythm/split.json', 'utf8')) as { seed: number; test: string[]; train: string[] };
    const all = parseEcgRecords(readFileSync('data/raw/ecg-cinc2017/records.jsonl', 'utf8'));
    const again = stratifiedRecordSplit(all, committed.seed);
    expect(again.test).toEqual(committed.test);
    expect(again.train).toEqual(committed.train);
  });
});

describe('windows', () => {
  const spec = defaultEcgSpec(150, 10);

  it('covers the tracing with stride windows plus one aligned to the end', () => {
    expect(windowStarts(4500, 1500, 1500)).toEqual([0, 1500, 3000]);
    expect(windowStarts(4000, 1500, 1500)).toEqual([0, 1500, 2500]);
    expect(windowStarts(1500, 1500, 1500)).toEqual([0]);
    expect(windowStarts(1499, 1500, 1500)).toEqual([]);
  });

  it('normalises each window to mean 0, SD 1 (with an SD floor for near-flat windows)', () => {
    const out = new Float32Array(4);
    normaliseWindow([1, 3, 1, 3], 0, 4, 0.05, out, 0);
    expect(Array.from(out)).toEqual([-1, 1, -1, 1]);
    normaliseWindow([1, 1.01, 1, 1.01], 0, 4, 0.05, out, 0);
    expect(Math.max(...Array.from(out).map(Math.abs))).toBeCloseTo(0.1, 5);
    const { windows, starts } = encodeTracing(synthEcg(regularBeats(30), 30, 150), spec);
    expect(starts).toHaveLength(3);
    expect(windows).toHaveLength(4500);
  });

  it('augmented windows are deterministic per seed, differ between draws, and are normalised', () => {
    const signal = synthEcg(regularBeats(30), 30, 150);
    const a = new Float32Array(spec.windowSamples);
    const b = new Float32Array(spec.windowSamples);
    augmentedWindow(signal, spec, seededRandom(1), DEFAULT_AUGMENT, a, 0);
    augmentedWindow(signal, spec, seededRandom(1), DEFAULT_AUGMENT, b, 0);
    expect(Array.from(a)).toEqual(Array.from(b));
    augmentedWindow(signal, spec, seededRandom(2), DEFAULT_AUGMENT, b, 0);
    expect(Array.from(a)).not.toEqual(Array.from(b));
    const mean = a.reduce((s, v) => s + v, 0) / a.length;
    const sd = Math.sqrt(a.reduce((s, v) => s + (v - mean) ** 2, 0) / a.length);
    expect(mean).toBeCloseTo(0, 4);
    expect(sd).toBeCloseTo(1, 3);
  });

  it('pads a tracing shorter than a window', () => {
    const out = new Float32Array(spec.windowSamples);
    augmentedWindow(synthEcg(regularBeats(8), 8, 150), spec, seededRandom(1), DEFAULT_AUGMENT, out, 0);
    expect(out.every(Number.isFinite)).toBe(true);
  });
});

describe('signal quality', () => {
  const ok = synthEcg(regularBeats(30), 30, 300);

  it('accepts a clean 30 s tracing', () => {
    const q = assessSignalQuality({ values: ok, rateHz: 300 });
    expect(q.ok).toBe(true);
    expect(q.durationSeconds).toBe(30);
  });

  it.each([
    ['too short', { values: ok.slice(0, 300 * 8), rateHz: 300 }, 'too-short'],
    ['flat', { values: new Float32Array(9000).fill(0.2), rateHz: 300 }, 'flat'],
    ['saturated (L/U codes)', { values: ok, rateHz: 300, aboveLimit: 500 }, 'saturated'],
    ['implausible amplitude', { values: ok.map((v) => v * 1000), rateHz: 300 }, 'implausible-amplitude'],
    ['mostly errors', { values: ok.map((v, i) => (i % 5 === 0 ? NaN : v)), rateHz: 300 }, 'errors'],
  ])('refuses a %s tracing with a reason', (_name, input, code) => {
    const q = assessSignalQuality(input);
    expect(q.ok).toBe(false);
    expect(q.problems.map((p) => p.code)).toContain(code);
    expect(q.problems.every((p) => p.reason.length > 10)).toBe(true);
  });

  it('a constant tracing is flat (lead off), not clipped: the card gives that reason, not saturation', () => {
    for (const level of [0, 0.2]) {
      const q = assessSignalQuality({ values: new Float32Array(9000).fill(level), rateHz: 300 });
      expect(q.problems.map((p) => p.code)).toEqual(['flat']);
    }
  });

  it('detects clipping that was not coded as L/U', () => {
    const clipped = ok.map((v) => Math.min(v, 0.3));
    expect(assessSignalQuality({ values: clipped, rateHz: 300 }).problems.map((p) => p.code)).toContain('saturated');
  });

  it('interpolates a few error samples', () => {
    const gappy = Float32Array.from(ok);
    gappy[100] = NaN;
    gappy[101] = NaN;
    const q = assessSignalQuality({ values: gappy, rateHz: 300 });
    expect(q.ok).toBe(true);
    expect(q.cleaned[100]).toBeCloseTo(ok[99]! + (ok[102]! - ok[99]!) / 3, 5);
  });
});

describe('R peaks and RR features', () => {
  it('finds every beat of a regular synthetic ECG within 20 ms, also inverted and at 150 Hz', () => {
    const beats = regularBeats(30);
    for (const [rate, sign] of [[300, 1], [300, -1], [150, 1]] as const) {
      const peaks = detectRPeaks(synthEcg(beats, 30, rate, 0.05).map((v) => sign * v), rate);
      expect(peaks).toHaveLength(beats.length);
      peaks.forEach((p, k) => expect(Math.abs(p / rate - beats[k]!)).toBeLessThan(0.02));
    }
  });

  it('irregular rhythm scores higher RMSSD, pNN50 and CV than regular', () => {
    const regular = rrFeatures(synthEcg(regularBeats(30), 30), 300);
    const irregular = rrFeatures(synthEcg(irregularBeats(30), 30), 300);
    expect(regular[0]).toBeCloseTo(75, 0);
    for (const i of [2, 3, 4]) expect(irregular[i]!).toBeGreaterThan(regular[i]! + 0.05);
  });

  it('rhythm features (hybrid input): regular 75/min scores ~0 irregularity, an irregular rhythm scores high on every irregularity feature', () => {
    const regular = rhythmFeatures(synthEcg(regularBeats(30), 30, 150), 150);
    const irregular = rhythmFeatures(synthEcg(irregularBeats(30), 30, 150), 150);
    expect(regular).toHaveLength(RHYTHM_FEATURES.length);
    expect(regular[0]).toBeCloseTo(75, 0);
    // cvRR, rmssdRatio, pnn50, irregularFraction, medianAbsDiffRatio.
    for (const i of [1, 2, 3, 5, 6]) {
      expect(regular[i]!).toBeLessThan(0.02);
      expect(irregular[i]!).toBeGreaterThan(0.1);
    }
    // Too few beats to call anything irregular: the beat rate and zeros.
    expect(rhythmFeatures(synthEcg([0.5, 1.5], 3, 150), 150)).toEqual([40, 0, 0, 0, 0, 0, 0]);
  });

  it('hybrid encoding: every window row ends with the same standardised, clipped rhythm cells', () => {
    const spec = { ...defaultEcgSpec(150, 4), rhythm: { features: [...RHYTHM_FEATURES], means: [75, 0, 0, 0, 0, 0, 0], sds: [10, 0.01, 1, 1, 1, 1, 1], clip: 5 } };
    const signal = synthEcg(irregularBeats(10), 10, 150);
    const e = encodeTracing(signal, spec);
    const R = rowWidth(spec);
    expect(R).toBe(600 + 7);
    expect(e.windows).toHaveLength(e.starts.length * R);
    expect(e.rhythm!.raw).toEqual(rhythmFeatures(signal, 150));
    expect(e.rhythm!.cells[0]).toBeCloseTo((e.rhythm!.raw[0]! - 75) / 10, 5);
    expect(e.rhythm!.cells[1]).toBe(5); // cvRR / 0.01 is far past the clip
    e.starts.forEach((_, k) => expect(Array.from(e.windows.subarray(k * R + 600, (k + 1) * R))).toEqual(Array.from(e.rhythm!.cells)));
    const plain = encodeTracing(signal, defaultEcgSpec(150, 4));
    e.starts.forEach((_, k) => expect(Array.from(e.windows.subarray(k * R, k * R + 600))).toEqual(Array.from(plain.windows.subarray(k * 600, (k + 1) * 600))));
  });

  it('sample entropy: 0 for a constant series, higher for random than periodic', () => {
    expect(sampleEntropy(new Array(30).fill(0.8))).toBe(0);
    const random = seededRandom(5);
    const noisy = Array.from({ length: 40 }, () => random());
    const periodic = Array.from({ length: 40 }, (_, i) => (i % 2 ? 0.2 : 0.8));
    expect(sampleEntropy(noisy, 2, 0.2)).toBeGreaterThan(sampleEntropy(periodic, 2, 0.2));
  });

  it('softmax regression separates separable classes', () => {
    const rows = [[0, 0], [0.1, 0.2], [5, 5], [5.2, 4.9], [0, 5], [0.2, 5.1]];
    const labels = [0, 0, 1, 1, 2, 2];
    const model = fitSoftmax(rows, labels, { classes: 3, iterations: 500 });
    rows.forEach((r, i) => {
      const p = predictSoftmax(model, r);
      expect(p.indexOf(Math.max(...p))).toBe(labels[i]);
      expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
    });
  });
});

describe('multi-class metrics', () => {
  it('F1 per class is 2·TP / (row + column) and the Challenge score averages N, A, O', () => {
    const labels = [0, 0, 1, 1, 2, 3];
    const predicted = [0, 1, 1, 1, 0, 3];
    const m = confusionMatrix(labels, predicted);
    expect(m).toEqual([[1, 1, 0, 0], [0, 2, 0, 0], [1, 0, 0, 0], [0, 0, 0, 1]]);
    const f1 = f1FromConfusion(m);
    expect(f1[0]).toBeCloseTo(2 / 4, 9);
    expect(f1[1]).toBeCloseTo(4 / 5, 9);
    expect(f1[2]).toBe(0);
    expect(f1[3]).toBe(1);
    expect(challengeF1(labels, predicted)).toBeCloseTo((0.5 + 0.8 + 0) / 3, 9);
  });

  it('report: one-vs-rest AUROC and AF-vs-normal AUROC with intervals; perfect scores give 1', () => {
    const labels = [0, 0, 1, 1, 2, 2, 3, 3];
    const probs = labels.map((y) => ECG_CLASSES.map((_, k) => (k === y ? 0.7 : 0.1)));
    const r = multiclassReport(labels, probs, { replicates: 50 });
    expect(r.challengeF1).toBe(1);
    expect(r.aurocAfVsNormal.estimate).toBe(1);
    for (const c of ECG_CLASSES) expect(r.aurocOvR[c]!.estimate).toBe(1);
    expect(r.support).toEqual({ N: 2, A: 2, O: 2, '~': 2 });
    const svg = confusionSvg(r.confusion, 'test <1>');
    expect(svg).toContain('<svg');
    expect(svg).toContain('test &lt;1&gt;');
    expect(svg.match(/<rect /g)).toHaveLength(16);
  });
});

describe('model card regeneration', () => {
  it('keeps the measured blocks (notes, bench) of the previous card', async () => {
    const { preservedBlocks } = await import('../../src/models/ecg/card.js');
    const doc = '# card\nold numbers\n<!-- notes:start -->\nN\n<!-- notes:end -->\nx\n<!-- bench:start -->\nB\n<!-- bench:end -->\n';
    expect(preservedBlocks(doc)).toBe('\n<!-- notes:start -->\nN\n<!-- notes:end -->\n\n<!-- bench:start -->\nB\n<!-- bench:end -->\n');
    expect(preservedBlocks('# card')).toBe('');
  });
});
