/** Nearest-rank percentile of ascending `sorted` samples, `fraction` in [0, 1] (0.99 → p99); clamped to the last sample. */
export function percentile(sorted: readonly number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))]!;
}
