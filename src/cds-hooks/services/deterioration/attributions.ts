/**
 * src/explain's per-cell attributions (feature × hour, value/mask/time-since channels already folded) →
 * the hourly grid the explanation view draws (TimeSeriesAttributions in src/explanations/record.ts). Pure.
 *
 * The view ties every number to an Observation, so a carried-forward hour's attribution is credited to
 * the hour whose measurement it repeats; hours before a measurement's first value in the window have no
 * Observation behind them and their attribution (the effect of "not measured yet" against the baseline)
 * is kept per feature in `unmeasured`. Credit is moved, never dropped: the grid plus `unmeasured` add up
 * to the explanation's total.
 */
import type { TimeSeriesAttribution } from '../../../explain/index.js';
import type { TimeSeriesAttributions } from '../../../explanations/record.js';
import { MEASUREMENTS } from '../../../models/data/physionet.js';
import type { DeteriorationWindow } from '../../../models/index.js';

const round = (v: number): number => Math.round(v * 1e7) / 1e7;

export function attributionGrid(window: DeteriorationWindow, series: TimeSeriesAttribution): TimeSeriesAttributions {
  const hours = window.input.rows.length;
  const n = MEASUREMENTS.length;
  const credited = Array.from({ length: hours }, () => new Array<number>(n).fill(0));
  const unmeasured = new Array<number>(n).fill(0);
  const measured = window.input.rows.map((row) => MEASUREMENTS.map((_, m) => !Number.isNaN(row[m]!)));
  // The explained input may be padded to the model's window; align its last step with the window's last hour.
  const offset = series.times.length - hours;
  MEASUREMENTS.forEach((column, m) => {
    const f = series.features.indexOf(column);
    if (f < 0) return;
    const row = series.attribution[f]!;
    let source = -1;
    for (let t = 0; t < offset; t++) unmeasured[m]! += row[t] ?? 0;
    for (let h = 0; h < hours; h++) {
      if (measured[h]![m]) source = h;
      const a = row[h + offset] ?? 0;
      if (source >= 0) credited[source]![m]! += a;
      else unmeasured[m]! += a;
    }
  });
  return {
    hourStarts: window.hourStarts,
    features: [...MEASUREMENTS],
    values: credited.map((r) => r.map(round)),
    measured,
    sources: window.sources,
    unmeasured: unmeasured.map(round),
  };
}
