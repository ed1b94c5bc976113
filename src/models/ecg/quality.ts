/**
 * Can this tracing be classified at all? Signal-level checks made before the network sees it, so that a
 * short, flat, saturated or error-riddled recording gets a "cannot classify" answer that says why, rather
 * than a confident-looking probability. (A tracing that passes but is noisy is the network's own "~" class.)
 */

export interface QualityInput {
  /** Millivolts at the recorded rate; NaN for samples marked as errors. */
  values: Float32Array;
  rateHz: number;
  /** Samples reported below / above the device's detection limits (SampledData "L" / "U"). */
  belowLimit?: number;
  aboveLimit?: number;
}

export interface QualityThresholds {
  minSeconds: number;
  /** Largest fraction of error samples accepted (they are interpolated over). */
  maxErrorFraction: number;
  /** Largest fraction of samples at a detection limit or clipped flat at the extreme value. */
  maxSaturatedFraction: number;
  /** Largest fraction of 1-second stretches with a peak-to-peak amplitude under flatMv. */
  maxFlatFraction: number;
  flatMv: number;
  /** Beyond this absolute value (mV) the signal cannot be a surface ECG. */
  maxAbsMv: number;
}

export const DEFAULT_QUALITY: QualityThresholds = {
  minSeconds: 10,
  maxErrorFraction: 0.05,
  maxSaturatedFraction: 0.02,
  maxFlatFraction: 0.3,
  flatMv: 0.03,
  maxAbsMv: 15,
};

export type QualityProblem = 'too-short' | 'errors' | 'saturated' | 'flat' | 'implausible-amplitude';

export interface QualityResult {
  ok: boolean;
  problems: Array<{ code: QualityProblem; reason: string }>;
  /** The values with error samples linearly interpolated (only meaningful when ok). */
  cleaned: Float32Array;
  durationSeconds: number;
}

function pct(x: number): string {
  return `${(x * 100).toFixed(1)} %`;
}

/** Checks a tracing; pure. */
export function assessSignalQuality(input: QualityInput, thresholds: QualityThresholds = DEFAULT_QUALITY): QualityResult {
  const { values, rateHz } = input;
  const n = values.length;
  const durationSeconds = n / rateHz;
  const problems: QualityResult['problems'] = [];
  if (durationSeconds < thresholds.minSeconds) {
    problems.push({ code: 'too-short', reason: `the tracing is ${durationSeconds.toFixed(1)} s long; at least ${thresholds.minSeconds} s are needed` });
  }
  let errors = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    if (!Number.isFinite(v)) errors++;
    else {
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
  }
  if (n === 0 || errors === n) {
    problems.push({ code: 'errors', reason: 'the tracing has no valid samples' });
    return { ok: false, problems, cleaned: new Float32Array(n), durationSeconds };
  }
  if (errors / n > thresholds.maxErrorFraction) {
    problems.push({ code: 'errors', reason: `${pct(errors / n)} of the samples are marked as errors (at most ${pct(thresholds.maxErrorFraction)} is accepted)` });
  }
  // Clipping shows as runs pinned at the extreme value even when the sender did not code them L/U. A
  // constant tracing (min = max) is flat, not clipped: calling it saturated gave the card a wrong first reason.
  let pinned = 0;
  for (let i = 1; i < n && max > min; i++) {
    const v = values[i]!;
    if ((v === max || v === min) && values[i - 1] === v) pinned++;
  }
  const limited = (input.belowLimit ?? 0) + (input.aboveLimit ?? 0);
  const saturated = Math.max(limited, pinned) / n;
  if (saturated > thresholds.maxSaturatedFraction) {
    problems.push({ code: 'saturated', reason: `${pct(saturated)} of the samples are at the amplifier's limits (saturated or clipped)` });
  }
  if (Math.max(Math.abs(min), Math.abs(max)) > thresholds.maxAbsMv) {
    problems.push({ code: 'implausible-amplitude', reason: `values reach ${Math.max(Math.abs(min), Math.abs(max)).toFixed(1)} mV, beyond any surface ECG (${thresholds.maxAbsMv} mV); check the units or the lead` });
  }
  const second = Math.max(1, Math.round(rateHz));
  let flat = 0;
  let stretches = 0;
  for (let s = 0; s + second <= n; s += second) {
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = s; i < s + second; i++) {
      const v = values[i]!;
      if (!Number.isFinite(v)) continue;
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    stretches++;
    if (!(hi - lo >= thresholds.flatMv)) flat++;
  }
  if (stretches && flat / stretches > thresholds.maxFlatFraction) {
    problems.push({ code: 'flat', reason: `${flat} of ${stretches} one-second stretches are flat (under ${thresholds.flatMv} mV peak to peak): lead off or no signal` });
  }
  const cleaned = Float32Array.from(values);
  if (errors) {
    // Linear interpolation across error samples; edges take the nearest valid value.
    let last = -1;
    for (let i = 0; i <= n; i++) {
      if (i < n && !Number.isFinite(cleaned[i]!)) continue;
      if (i - last > 1) {
        const a = last >= 0 ? cleaned[last]! : cleaned[i]!;
        const b = i < n ? cleaned[i]! : a;
        for (let j = last + 1; j < i; j++) cleaned[j] = a + ((b - a) * (j - last)) / (i - last);
      }
      last = i;
    }
  }
  return { ok: problems.length === 0, problems, cleaned, durationSeconds };
}
