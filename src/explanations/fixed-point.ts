/**
 * Long numeric series in explanation records as integers times one scale (`value ≈ q × scale`): a JSON
 * integer costs 2–5 characters where a float costs 8–12. The ECG record (format 2) stores its tracing, its
 * consensus saliency and its per-method saliency this way. No imports: the browser bundle (src/web) decodes
 * with the same functions.
 */

export interface FixedPointSeries {
  /** What one step of `q` is worth, in the series' unit. 0 for an all-zero series. */
  scale: number;
  /** The values divided by `scale`, rounded to integers; null where there was no number (a sample marked as an error). */
  q: Array<number | null>;
}

/** Levels the largest |value| gets by default: about 3 significant digits at the peak. */
export const DEFAULT_PEAK_LEVELS = 1000;

/** `values` on a fixed step: exact to ±step/2 (e.g. 0.001 mV for a tracing already held to µV). */
export function onStep(values: ArrayLike<number>, step: number): FixedPointSeries {
  return { scale: step, q: Array.from(values, (v) => (Number.isFinite(v) ? Math.round(v / step) : null)) };
}

/**
 * `values` with the largest |value| at about `peakLevels` steps: every value exact to ±peak/(2·peakLevels),
 * i.e. relative precision where it matters (the peaks) and small values down to that floor.
 */
export function relativeToPeak(values: ArrayLike<number>, peakLevels = DEFAULT_PEAK_LEVELS): FixedPointSeries {
  let peak = 0;
  for (let i = 0; i < values.length; i++) {
    const v = Math.abs(values[i]!);
    if (Number.isFinite(v) && v > peak) peak = v;
  }
  if (peak === 0) return { scale: 0, q: Array.from(values, (v) => (Number.isFinite(v) ? 0 : null)) };
  // A short scale keeps the JSON short; the peak then lands within 0.05 % of peakLevels.
  return onStep(values, Number((peak / peakLevels).toPrecision(4)));
}

/** The values back (each q × scale); NaN where q is null. */
export function fromFixedPoint(series: FixedPointSeries): number[] {
  return series.q.map((q) => (q === null ? NaN : q * series.scale));
}

export function isFixedPointSeries(value: unknown): value is FixedPointSeries {
  const s = value as Partial<FixedPointSeries> | undefined;
  return typeof s === 'object' && s !== null && typeof s.scale === 'number' && Array.isArray(s.q);
}
