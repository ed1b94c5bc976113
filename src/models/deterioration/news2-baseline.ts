/**
 * NEWS2 as a comparator for the deterioration model, scored from the same PhysioNet window the model
 * sees: the last value of each parameter carried forward within the window. PhysioNet has no
 * consciousness (ACVPU) column, so that parameter is absent and scores 0; supplemental oxygen is
 * inferred from FiO2 > 0.21 (the column holds a fraction), and absent when FiO2 was never charted.
 */
import { scoreNews2 } from '../../cds-hooks/services/news2/score.js';
import { MEASUREMENTS } from '../data/physionet.js';

const col = (name: (typeof MEASUREMENTS)[number]) => MEASUREMENTS.indexOf(name);
const HR = col('HR');
const O2SAT = col('O2Sat');
const TEMP = col('Temp');
const SBP = col('SBP');
const RESP = col('Resp');
const FIO2 = col('FiO2');

function lastObserved(rows: readonly ArrayLike<number>[], m: number): number | undefined {
  for (let i = rows.length - 1; i >= 0; i--) {
    const v = rows[i]![m]!;
    if (!Number.isNaN(v)) return v;
  }
  return undefined;
}

/** NEWS2 total (0–20) for a window of raw PhysioNet rows (oldest first). */
export function news2FromWindow(rows: readonly ArrayLike<number>[]): number {
  const fio2 = lastObserved(rows, FIO2);
  return scoreNews2({
    respiratoryRate: lastObserved(rows, RESP),
    spo2: lastObserved(rows, O2SAT),
    onOxygen: fio2 === undefined ? undefined : fio2 > 0.21,
    systolicBp: lastObserved(rows, SBP),
    pulse: lastObserved(rows, HR),
    temperature: lastObserved(rows, TEMP),
  }).total;
}
