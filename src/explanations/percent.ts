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

/** Two probabilities printed so that they read apart: one decimal, more only where one would print both alike. */
function formatApart(p: number, cutOff: number): [string, string] {
  if (formatPercent(p) !== formatPercent(cutOff)) return [formatPercent(p), formatPercent(cutOff)];
  for (const decimals of [2, 3]) {
    const f = (x: number) => `${(Math.round(x * 10 ** (decimals + 2)) / 10 ** decimals).toFixed(decimals)} %`;
    if (f(p) !== f(cutOff)) return [f(p), f(cutOff)];
  }
  return [formatPercent(p), formatPercent(cutOff)];
}

/**
 * Where a probability stands against the model's cut-offs, in words: "below the 53.7 % alert threshold chosen
 * on validation". A band name alone misleads where the cut-offs sit far from 50 % (a coronary-disease
 * probability of 49.5 % is "low" for a model whose alert threshold, chosen on the validation split for ≥ 95 %
 * sensitivity, is 53.7 %); the alert threshold is the lower edge of the moderate band, where the card's
 * indicator turns from info to warning. `short` leaves out "chosen on validation" (card summaries are < 140
 * characters). Cut-offs come from the model's manifest (thresholds), never from here.
 */
export function thresholdPhrase(p: number, thresholds: { moderate: number; high: number }, options: { short?: boolean } = {}): string {
  const chosen = options.short ? '' : ' chosen on validation';
  if (p < thresholds.moderate) return `below the ${formatApart(p, thresholds.moderate)[1]} alert threshold${chosen}`;
  if (p < thresholds.high) {
    const high = formatApart(p, thresholds.high)[1];
    return `${p === thresholds.moderate ? 'at' : 'above'} the ${formatApart(p, thresholds.moderate)[1]} alert threshold${chosen}${options.short ? '' : `, below the ${high} high-risk threshold`}`;
  }
  return `at or above the ${formatApart(p, thresholds.high)[1]} high-risk threshold${chosen}`;
}

/** "49.5 % (below the 53.7 % alert threshold chosen on validation)": the probability with where it stands. */
export function percentAgainstThreshold(p: number, thresholds: { moderate: number; high: number }, options: { short?: boolean } = {}): string {
  const [value] = formatApart(p, p < thresholds.high ? thresholds.moderate : thresholds.high);
  return `${value} (${thresholdPhrase(p, thresholds, options)})`;
}
