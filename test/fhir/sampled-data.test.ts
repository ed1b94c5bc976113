/** FHIR R4 SampledData decode/encode and resampling (src/fhir/sampled-data.ts). */
import { describe, expect, it } from '@jest/globals';
import type { SampledData } from 'fhir/r4';
import { UnprocessableEntityError } from '../../src/errors.js';
import { decodeSampledData, encodeSampledData, resample } from '../../src/fhir/sampled-data.js';

const sd = (over: Partial<SampledData> = {}): SampledData => ({ origin: { value: 0, code: 'mV', system: 'http://unitsofmeasure.org' }, period: 2, dimensions: 1, data: '1 2 3', ...over });

describe('decodeSampledData', () => {
  it('applies origin + factor × datum and converts the origin unit to mV; rate is 1000 / period', () => {
    const d = decodeSampledData(sd({ origin: { value: 100, code: 'uV' }, factor: 10, data: '0 5 -10' }));
    expect(Array.from(d.values)).toEqual([0.1, 0.15, 0].map((v) => Math.fround(v)));
    expect(d.rateHz).toBe(500);
  });

  it('reads V and mV origins, factor defaulting to 1', () => {
    expect(decodeSampledData(sd({ origin: { value: 0, code: 'V' }, data: '0.001' })).values[0]).toBeCloseTo(1, 6);
    expect(decodeSampledData(sd({ data: '0.5' })).values[0]).toBeCloseTo(0.5, 6);
  });

  it('E is an error (NaN); L and U are the limits (counted)', () => {
    const d = decodeSampledData(sd({ lowerLimit: -5, upperLimit: 5, factor: 0.1, data: '1 E L U 2' }));
    expect(d.values[1]).toBeNaN();
    expect(d.values[2]).toBeCloseTo(-0.5, 6);
    expect(d.values[3]).toBeCloseTo(0.5, 6);
    expect([d.errors, d.belowLimit, d.aboveLimit]).toEqual([1, 1, 1]);
  });

  it('L/U without limits decode to NaN', () => {
    expect(decodeSampledData(sd({ data: 'L 1' })).values[0]).toBeNaN();
  });

  it('de-interleaves dimensions and picks the requested channel', () => {
    const d = decodeSampledData(sd({ dimensions: 3, data: '1 10 100 2 20 200' }), { channel: 1 });
    expect(Array.from(d.values)).toEqual([10, 20]);
  });

  it.each([
    ['no period', { period: undefined as unknown as number }, /period/],
    ['zero period', { period: 0 }, /period/],
    ['non-voltage unit', { origin: { value: 0, code: 'mm[Hg]' } }, /not a voltage/],
    ['bad token', { data: '1 x 3' }, /not a decimal/],
    ['hex token', { data: '0x10' }, /not a decimal/],
    ['empty data', { data: '  ' }, /empty/],
    ['ragged dimensions', { dimensions: 2, data: '1 2 3' }, /multiple of 2/],
    ['zero factor', { factor: 0 }, /factor/],
  ])('refuses %s', (_name, over, message) => {
    expect(() => decodeSampledData(sd(over as Partial<SampledData>))).toThrow(UnprocessableEntityError);
    expect(() => decodeSampledData(sd(over as Partial<SampledData>))).toThrow(message);
  });

  it('refuses a missing channel and too many samples', () => {
    expect(() => decodeSampledData(sd(), { channel: 1 })).toThrow(/channel 1/);
    expect(() => decodeSampledData(sd(), { maxSamples: 2 })).toThrow(/at most 2/);
  });
});

describe('encodeSampledData', () => {
  it('round-trips through decode at 1 µV resolution, NaN as E', () => {
    const values = Float32Array.from([0.127, -1.5, NaN, 2.001]);
    const encoded = encodeSampledData(values, 300);
    expect(encoded.data).toBe('127 -1500 E 2001');
    expect(encoded.period).toBeCloseTo(3.3333333333, 8);
    const back = decodeSampledData(encoded);
    expect(back.rateHz).toBeCloseTo(300, 6);
    expect(back.values[2]).toBeNaN();
    [0, 1, 3].forEach((i) => expect(back.values[i]).toBeCloseTo(values[i]!, 6));
  });
});

describe('resample', () => {
  const sine = (hz: number, rate: number, seconds: number) => Float32Array.from({ length: rate * seconds }, (_, i) => Math.sin((2 * Math.PI * hz * i) / rate));

  it('is the identity at the same rate and keeps a constant exactly', () => {
    expect(Array.from(resample([1, 2, 3], 100, 100))).toEqual([1, 2, 3]);
    const out = resample(new Float32Array(300).fill(0.7), 300, 150);
    expect(out.length).toBe(150);
    out.forEach((v) => expect(v).toBeCloseTo(0.7, 5));
  });

  it('keeps an in-band sine (5 Hz, 300 → 150 Hz and 250 → 300 Hz)', () => {
    for (const [from, to] of [[300, 150], [250, 300]] as const) {
      const out = resample(sine(5, from, 4), from, to);
      const expected = sine(5, to, 4);
      // Interior only: the kernel is truncated at the edges.
      for (let i = 50; i < out.length - 50; i++) expect(out[i]).toBeCloseTo(expected[i]!, 2);
    }
  });

  it('attenuates a tone above the new Nyquist frequency instead of aliasing it', () => {
    const out = resample(sine(100, 300, 4), 300, 150);
    const rms = Math.sqrt(out.slice(50, -50).reduce((s, v) => s + v * v, 0) / (out.length - 100));
    expect(rms).toBeLessThan(0.1);
  });
});
