/**
 * FHIR R4 SampledData (https://hl7.org/fhir/R4/datatypes.html#SampledData) ⇄ Float32Array, and
 * resampling to another rate. Pure functions; the ECG service and the sandbox data builder use them.
 *
 * R4 semantics implemented: value = origin.value + factor × datum (factor defaults to 1); `period` is the
 * number of milliseconds between samples; `dimensions` > 1 interleaves that many channels per time point;
 * `data` is decimals separated by single spaces, where "E" is an error (no value), "L" is below the
 * detection limit (reported as lowerLimit) and "U" above it (reported as upperLimit). R4 does not say in
 * which units lowerLimit/upperLimit are; we read them, as the spec's own examples do, as data units (before
 * origin and factor) — the deliberate interpretation is documented in docs/services/ecg-rhythm.md.
 */
import type { SampledData } from 'fhir/r4';
import { UnprocessableEntityError } from '../errors.js';

/** UCUM voltage codes accepted for origin, and their factor to millivolts. */
export const VOLTAGE_TO_MV: Readonly<Record<string, number>> = { mV: 1, uV: 1e-3, 'µV': 1e-3, V: 1000 };

export interface DecodedSignal {
  /** One channel's values in millivolts; NaN where the datum was "E". */
  values: Float32Array;
  /** Sampling rate, Hz (1000 / period). */
  rateHz: number;
  /** Counts of the special codes in this channel. */
  errors: number;
  belowLimit: number;
  aboveLimit: number;
}

export interface DecodeOptions {
  /** Which of `dimensions` interleaved channels to read (0-based). Default 0. */
  channel?: number;
  /** Refuse more than this many time points (memory guard for hostile input). Default 600 s at 1 kHz. */
  maxSamples?: number;
}

/**
 * Decodes one channel of a SampledData to millivolts.
 * @throws UnprocessableEntityError when the element is malformed or not a voltage.
 */
export function decodeSampledData(sd: SampledData, options: DecodeOptions = {}): DecodedSignal {
  const channel = options.channel ?? 0;
  const maxSamples = options.maxSamples ?? 600_000;
  if (!sd || typeof sd !== 'object') throw new UnprocessableEntityError('SampledData is missing');
  if (!(typeof sd.period === 'number' && sd.period > 0 && Number.isFinite(sd.period))) throw new UnprocessableEntityError('SampledData.period must be a positive number of milliseconds');
  const dimensions = sd.dimensions ?? 1;
  if (!Number.isInteger(dimensions) || dimensions < 1) throw new UnprocessableEntityError('SampledData.dimensions must be a positive integer');
  if (!Number.isInteger(channel) || channel < 0 || channel >= dimensions) throw new UnprocessableEntityError(`SampledData has ${dimensions} dimension(s); channel ${channel} does not exist`);
  const unit = sd.origin?.code ?? sd.origin?.unit;
  const toMv = unit === undefined ? undefined : VOLTAGE_TO_MV[unit];
  if (toMv === undefined) throw new UnprocessableEntityError(`SampledData.origin unit "${unit ?? ''}" is not a voltage (mV, uV or V)`);
  const origin = sd.origin.value ?? 0;
  const factor = sd.factor ?? 1;
  if (!Number.isFinite(origin) || !Number.isFinite(factor) || factor === 0) throw new UnprocessableEntityError('SampledData.origin.value and factor must be finite (factor non-zero)');
  if (typeof sd.data !== 'string' || sd.data.trim() === '') throw new UnprocessableEntityError('SampledData.data is empty');
  const tokens = sd.data.trim().split(/\s+/);
  if (tokens.length % dimensions !== 0) throw new UnprocessableEntityError(`SampledData.data has ${tokens.length} values, not a multiple of ${dimensions} dimensions`);
  const n = tokens.length / dimensions;
  if (n > maxSamples) throw new UnprocessableEntityError(`SampledData has ${n} samples per channel; at most ${maxSamples} are accepted`);
  const values = new Float32Array(n);
  let errors = 0;
  let belowLimit = 0;
  let aboveLimit = 0;
  const scale = (datum: number) => (origin + factor * datum) * toMv;
  for (let i = 0; i < n; i++) {
    const token = tokens[i * dimensions + channel]!;
    if (token === 'E') {
      values[i] = NaN;
      errors++;
    } else if (token === 'L' || token === 'U') {
      const limit = token === 'L' ? sd.lowerLimit : sd.upperLimit;
      if (token === 'L') belowLimit++;
      else aboveLimit++;
      values[i] = limit === undefined ? NaN : scale(limit);
    } else {
      const datum = Number(token);
      if (!Number.isFinite(datum) || !/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(token)) throw new UnprocessableEntityError(`SampledData.data value ${i * dimensions + channel} ("${token.slice(0, 20)}") is not a decimal, E, L or U`);
      values[i] = scale(datum);
    }
  }
  // A period written with finite digits (3.33333 ms) means a whole rate (300 Hz): snap within 1 ppm.
  const rate = 1000 / sd.period;
  const rateHz = Math.abs(rate - Math.round(rate)) < 1e-6 * rate ? Math.round(rate) : rate;
  return { values, rateHz, errors, belowLimit, aboveLimit };
}

export interface EncodeOptions {
  /** Resolution of the integers written, mV per unit (factor). Default 0.001 (1 µV, the Challenge ADC step). */
  resolutionMv?: number;
  lowerLimit?: number;
  upperLimit?: number;
}

/** One channel in millivolts → SampledData with integer data, origin 0 mV and factor = resolution. NaN → "E". */
export function encodeSampledData(values: ArrayLike<number>, rateHz: number, options: EncodeOptions = {}): SampledData {
  const resolution = options.resolutionMv ?? 0.001;
  const data = Array.from(values, (v) => (Number.isFinite(v) ? String(Math.round(v / resolution)) : 'E')).join(' ');
  const out: SampledData = {
    origin: { value: 0, unit: 'mV', system: 'http://unitsofmeasure.org', code: 'mV' },
    period: Number((1000 / rateHz).toPrecision(12)),
    factor: resolution,
    dimensions: 1,
    data,
  };
  if (options.lowerLimit !== undefined) out.lowerLimit = options.lowerLimit;
  if (options.upperLimit !== undefined) out.upperLimit = options.upperLimit;
  return out;
}

/**
 * Band-limited resampling by windowed-sinc interpolation (Smith, "Digital Audio Resampling", bandlimited
 * interpolation): each output sample is a Hann-windowed sinc-weighted sum of nearby inputs, with the cut-off
 * at the lower Nyquist frequency so down-sampling does not alias. NaN inputs count as 0 weight.
 */
export function resample(values: ArrayLike<number>, fromHz: number, toHz: number, halfWidth = 16): Float32Array {
  if (!(fromHz > 0 && toHz > 0)) throw new RangeError('resample: rates must be positive');
  if (fromHz === toHz) return Float32Array.from(values);
  const n = values.length;
  const ratio = toHz / fromHz;
  const m = Math.max(1, Math.floor(n * ratio + 1e-9));
  const out = new Float32Array(m);
  // Cut-off in cycles per input sample: 0.5 up-sampling, 0.5·ratio down-sampling.
  const cutoff = 0.5 * Math.min(1, ratio);
  const reach = Math.ceil(halfWidth / Math.min(1, ratio));
  // The kernel is tabulated once (256 points per input sample, linear interpolation between them): no
  // trigonometry in the inner loop, and the table's error (< 1e-5 of the peak) is far below an ADC step.
  const perSample = 256;
  const table = new Float64Array((reach + 1) * perSample + 2);
  for (let k = 0; k < table.length; k++) {
    const d = k / perSample;
    const window = d >= reach + 1 ? 0 : 0.5 + 0.5 * Math.cos((Math.PI * d) / (reach + 1));
    const x = 2 * cutoff * d;
    table[k] = 2 * cutoff * (x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x)) * window;
  }
  const kernel = (d: number) => {
    const p = Math.abs(d) * perSample;
    const k = Math.floor(p);
    const f = p - k;
    return table[k]! * (1 - f) + table[k + 1]! * f;
  };
  for (let j = 0; j < m; j++) {
    const t = j / ratio;
    const centre = Math.floor(t);
    let sum = 0;
    let weights = 0;
    for (let i = Math.max(0, centre - reach + 1); i <= Math.min(n - 1, centre + reach); i++) {
      const v = values[i]!;
      if (!Number.isFinite(v)) continue;
      const w = kernel(t - i);
      sum += w * v;
      weights += w;
    }
    // Normalising by the weight sum keeps DC exact near the edges and around gaps.
    out[j] = weights > 1e-9 ? sum / weights : NaN;
  }
  return out;
}
