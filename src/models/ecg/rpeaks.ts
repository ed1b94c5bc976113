/**
 * R-peak detection in the spirit of Pan & Tompkins (1985, "A Real-Time QRS Detection Algorithm", IEEE TBME
 * 32(3)): band-pass (≈ 5–15 Hz by differences of moving averages), five-point derivative, squaring,
 * 150 ms moving-window integration, and adaptive signal/noise peak levels with a 200 ms refractory period.
 * The R peak is placed at the largest |band-passed| sample in the integration window (polarity-free: the
 * handheld lead may be inverted). Pure TypeScript, any sampling rate.
 */

function movingAverage(x: ArrayLike<number>, width: number): Float64Array {
  const out = new Float64Array(x.length);
  const half = Math.floor(width / 2);
  let sum = 0;
  let count = 0;
  let lo = 0;
  let hi = -1;
  for (let i = 0; i < x.length; i++) {
    const wantLo = Math.max(0, i - half);
    const wantHi = Math.min(x.length - 1, i + half);
    while (hi < wantHi) {
      hi++;
      sum += x[hi]!;
      count++;
    }
    while (lo < wantLo) {
      sum -= x[lo]!;
      count--;
      lo++;
    }
    out[i] = sum / count;
  }
  return out;
}

/** The band-passed signal (for locating peaks) and the integrated energy envelope (for detecting them). */
export function qrsEnvelope(signal: ArrayLike<number>, rateHz: number): { bandpassed: Float64Array; integrated: Float64Array } {
  const n = signal.length;
  const clean = Float64Array.from({ length: n }, (_, i) => (Number.isFinite(signal[i]!) ? signal[i]! : 0));
  // Low-pass ≈ 15 Hz (moving average of ~1/30 s) minus a wide moving average (high-pass ≈ 5 Hz).
  const low = movingAverage(clean, Math.max(1, Math.round(rateHz / 30)));
  const wide = movingAverage(clean, Math.max(3, Math.round(rateHz / 5)));
  const bandpassed = Float64Array.from(low, (v, i) => v - wide[i]!);
  const derivative = new Float64Array(n);
  const step = Math.max(1, Math.round(rateHz / 200));
  for (let i = 4 * step; i < n; i++) {
    derivative[i] = (2 * bandpassed[i]! + bandpassed[i - step]! - bandpassed[i - 3 * step]! - 2 * bandpassed[i - 4 * step]!) / 8;
  }
  const squared = Float64Array.from(derivative, (d) => d * d);
  return { bandpassed, integrated: movingAverage(squared, Math.max(1, Math.round(0.15 * rateHz))) };
}

/** Sample indices of detected R peaks, ascending. */
export function detectRPeaks(signal: ArrayLike<number>, rateHz: number): number[] {
  const { bandpassed, integrated } = qrsEnvelope(signal, rateHz);
  const n = integrated.length;
  const refractory = Math.round(0.2 * rateHz);
  const search = Math.round(0.15 * rateHz);
  // Initial levels from the first two seconds (Pan & Tompkins' learning phase).
  const learn = Math.min(n, Math.round(2 * rateHz));
  let spk = 0;
  for (let i = 0; i < learn; i++) spk = Math.max(spk, integrated[i]!);
  spk *= 0.5;
  let npk = 0;
  for (let i = 0; i < learn; i++) npk += integrated[i]!;
  npk = (npk / Math.max(1, learn)) * 0.5;
  const peaks: number[] = [];
  for (let i = 1; i < n - 1; i++) {
    const v = integrated[i]!;
    if (!(v > integrated[i - 1]! && v >= integrated[i + 1]!)) continue;
    const threshold = npk + 0.25 * (spk - npk);
    const last = peaks[peaks.length - 1];
    if (v > threshold && (last === undefined || i - last > refractory)) {
      // Locate the R peak: largest |band-passed| value in the preceding integration window.
      let best = i;
      for (let j = Math.max(0, i - search); j <= Math.min(n - 1, i + Math.round(search / 3)); j++) {
        if (Math.abs(bandpassed[j]!) > Math.abs(bandpassed[best]!)) best = j;
      }
      if (last === undefined || best - last > refractory) {
        peaks.push(best);
        spk = 0.125 * v + 0.875 * spk;
        continue;
      }
    }
    npk = 0.125 * v + 0.875 * npk;
  }
  return peaks;
}

/** The upper median (the middle of an odd count, the higher of the two middles of an even one). */
function median(xs: readonly number[]): number {
  const sorted = xs.slice().sort((p, q) => p - q);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** The RR-irregularity features the baseline model uses, in this order. */
export const RR_FEATURES = ['heartRate', 'sdnn', 'rmssd', 'pnn50', 'cvRR', 'sampleEntropy', 'medianAbsDiffRatio', 'beatsPerSecondDetected'] as const;

/**
 * Sample entropy SampEn(m, r) of a short series (Richman & Moorman 2000): −ln(A/B) with B the number of
 * template matches of length m and A of length m + 1 (Chebyshev distance ≤ r, self-matches excluded).
 * Capped at ln(count) when A = 0, as is usual for short RR series.
 */
export function sampleEntropy(series: ArrayLike<number>, m = 2, r = 0.2): number {
  const n = series.length;
  if (n < m + 2) return 0;
  let a = 0;
  let b = 0;
  for (let i = 0; i < n - m; i++) {
    for (let j = i + 1; j < n - m; j++) {
      let match = true;
      for (let k = 0; k < m; k++) {
        if (Math.abs(series[i + k]! - series[j + k]!) > r) {
          match = false;
          break;
        }
      }
      if (!match) continue;
      b++;
      if (Math.abs(series[i + m]! - series[j + m]!) <= r) a++;
    }
  }
  if (b === 0) return 0;
  return a === 0 ? Math.log(b) : Math.log(b / a);
}

/** RR features of one tracing (seconds-based; NaN-free: degenerate tracings give zeros). */
export function rrFeatures(signal: ArrayLike<number>, rateHz: number): number[] {
  const peaks = detectRPeaks(signal, rateHz);
  const duration = signal.length / rateHz;
  const rr = peaks.slice(1).map((p, i) => (p - peaks[i]!) / rateHz);
  if (rr.length < 3) return [0, 0, 0, 0, 0, 0, 0, peaks.length / duration];
  const mean = rr.reduce((s, v) => s + v, 0) / rr.length;
  const sdnn = Math.sqrt(rr.reduce((s, v) => s + (v - mean) ** 2, 0) / rr.length);
  const diffs = rr.slice(1).map((v, i) => v - rr[i]!);
  const rmssd = Math.sqrt(diffs.reduce((s, d) => s + d * d, 0) / diffs.length);
  const pnn50 = diffs.filter((d) => Math.abs(d) > 0.05).length / diffs.length;
  const mad = median(diffs.map(Math.abs)) / median(rr);
  return [60 / mean, sdnn, rmssd, pnn50, sdnn / mean, sampleEntropy(rr, 2, 0.2 * Math.max(sdnn, 1e-3)), mad, peaks.length / duration];
}

/**
 * The rhythm-irregularity features the hybrid network takes beside the signal (issue 10), in this order.
 * Irregularly irregular RR intervals define atrial fibrillation (Clifford et al. 2017, §1), so these carry
 * the information a small CNN struggles to learn from 120 records.
 */
export const RHYTHM_FEATURES = ['heartRate', 'cvRR', 'rmssdRatio', 'pnn50', 'sampleEntropy', 'irregularFraction', 'medianAbsDiffRatio'] as const;
export type RhythmFeature = (typeof RHYTHM_FEATURES)[number];

/** Words and units for each rhythm feature, for cards and the model card. */
export const RHYTHM_FEATURE_INFO: Readonly<Record<RhythmFeature, { label: string; unit: string; percent?: boolean }>> = {
  heartRate: { label: 'heart rate', unit: '/min' },
  cvRR: { label: 'RR coefficient of variation', unit: '' },
  rmssdRatio: { label: 'RMSSD / mean RR', unit: '' },
  pnn50: { label: 'successive RR differences > 50 ms', unit: '%', percent: true },
  sampleEntropy: { label: 'RR sample entropy', unit: '' },
  irregularFraction: { label: 'beats > 15 % off the median RR', unit: '%', percent: true },
  medianAbsDiffRatio: { label: 'median successive RR difference / median RR', unit: '' },
};

/**
 * Rhythm features of one tracing (any rate): heart rate (beats/min), SD/mean of the RR intervals, RMSSD/mean
 * RR, pNN50, sample entropy of the RR series (m = 2, r = 0.2·SD), the fraction of RR intervals more than 15 %
 * from the median, and median |successive difference| / median RR. Ratios keep them rate-free. Fewer than
 * three RR intervals give the detected beat rate and zeros (nothing to call irregular).
 */
export function rhythmFeatures(signal: ArrayLike<number>, rateHz: number): number[] {
  const peaks = detectRPeaks(signal, rateHz);
  const duration = signal.length / rateHz;
  const rr = peaks.slice(1).map((p, i) => (p - peaks[i]!) / rateHz);
  if (rr.length < 3) return [(60 * peaks.length) / Math.max(duration, 1e-9), 0, 0, 0, 0, 0, 0];
  const mean = rr.reduce((s, v) => s + v, 0) / rr.length;
  const sdnn = Math.sqrt(rr.reduce((s, v) => s + (v - mean) ** 2, 0) / rr.length);
  const diffs = rr.slice(1).map((v, i) => v - rr[i]!);
  const rmssd = Math.sqrt(diffs.reduce((s, d) => s + d * d, 0) / diffs.length);
  const medianRR = median(rr);
  return [
    60 / mean,
    sdnn / mean,
    rmssd / mean,
    diffs.filter((d) => Math.abs(d) > 0.05).length / diffs.length,
    sampleEntropy(rr, 2, 0.2 * Math.max(sdnn, 1e-3)),
    rr.filter((v) => Math.abs(v - medianRR) > 0.15 * medianRR).length / rr.length,
    median(diffs.map(Math.abs)) / medianRR,
  ];
}
