/**
 * How a probability and a change in it read, on the card and in the explanation view alike. No imports:
 * the browser bundle (src/web) takes these from here too.
 */

/** "7.3 %", "0.4 %", "< 0.1 %", "> 99.9 %": one decimal, never a false 0 or 100. */
export function formatPercent(p: number): string {
  if (p < 0.001) return '< 0.1 %';
  if (p > 0.999) return '> 99.9 %';
  return `${(Math.round(p * 1000) / 10).toFixed(1)} %`;
}

/** Signed percentage points of probability, e.g. "+4.2 points", "−0.8 points". */
export function formatPoints(delta: number): string {
  const points = Math.round(Math.abs(delta) * 1000) / 10;
  return `${delta < 0 ? '−' : '+'}${points.toFixed(1)} points`;
}
