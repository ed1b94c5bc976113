/**
 * The registry's view of the ECG model (src/models/registry.ts hooks it in by preprocess kind): the raw
 * input is a tracing in millivolts at any rate; encode() resamples it to the model rate and returns its
 * inference window rows laid end to end, so `forward(encoded, encoded.length / rowWidth(spec))` gives one
 * probability row per window (a row is the normalised samples, followed by the tracing's standardised
 * rhythm features when the model is the hybrid). Whole-tracing classification (mean of windows), quality checks and
 * explanations are in classify.ts / explain.ts; the registry's single-probability predict() does not
 * apply to this four-class model.
 */
import { UnprocessableEntityError } from '../../errors.js';
import { encodeTracing, rowWidth, toModelRate, type EcgEncodingSpec } from './windows.js';

export const ECG_ENCODING_KIND = 'ecg-windows-v1';

/** Raw input of the ECG model. */
export interface EcgInput {
  /** Millivolts. */
  samples: Float32Array;
  rateHz: number;
}

export function isEcgSpec(preprocess: { kind: string }): preprocess is EcgEncodingSpec {
  return preprocess.kind === ECG_ENCODING_KIND;
}

export function ecgEncoder(spec: EcgEncodingSpec): { inputShape: number[]; encode(input: unknown): Float32Array } {
  return {
    inputShape: [rowWidth(spec), 1],
    encode(input) {
      const { samples, rateHz } = (input ?? {}) as Partial<EcgInput>;
      if (!(samples instanceof Float32Array) || !(typeof rateHz === 'number' && rateHz > 0)) throw new UnprocessableEntityError('ECG input needs samples (Float32Array, mV) and rateHz');
      const signal = toModelRate(samples, rateHz, spec);
      if (signal.length < spec.windowSamples) throw new UnprocessableEntityError(`the tracing is ${(samples.length / rateHz).toFixed(1)} s long; at least ${spec.windowSamples / spec.rateHz} s are needed`);
      if (signal.some((v) => !Number.isFinite(v))) throw new UnprocessableEntityError('the tracing has missing samples');
      return encodeTracing(signal, spec).windows;
    },
  };
}
