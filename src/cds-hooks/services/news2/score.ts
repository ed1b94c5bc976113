/**
 * NEWS2 scoring: Royal College of Physicians, National Early Warning Score (NEWS) 2, 2017 —
 * chart 1 (the NEWS2 scoring system), chart 2 (thresholds and triggers) and chart 3 (clinical
 * response). Pure: readings in canonical units go in, sub-scores, aggregate, risk band and response
 * come out. Missing parameters score 0 and are listed, so an incomplete total is a lower bound.
 */

/** The seven rows of RCP chart 1, in chart order. */
export const NEWS2_PARAMETERS = [
  'respiratoryRate',
  'spo2',
  'airOrOxygen',
  'systolicBp',
  'pulse',
  'consciousness',
  'temperature',
] as const;

export type News2Parameter = (typeof NEWS2_PARAMETERS)[number];

export const PARAMETER_LABELS: Record<News2Parameter, string> = {
  respiratoryRate: 'Respiration rate',
  spo2: 'SpO2',
  airOrOxygen: 'Air or oxygen',
  systolicBp: 'Systolic blood pressure',
  pulse: 'Pulse',
  consciousness: 'Consciousness',
  temperature: 'Temperature',
};

/** ACVPU: Alert, new Confusion, responds to Voice, responds to Pain, Unresponsive. */
export type Acvpu = 'A' | 'C' | 'V' | 'P' | 'U';

/** Consciousness as charted (ACVPU) or, where only a GCS is recorded, the GCS total. */
export type Consciousness = Acvpu | { gcs: number };

/** Scale 1 for most patients; scale 2 only for hypercapnic respiratory failure (RCP 2017 §3). */
export type Spo2Scale = 1 | 2;

/** Readings in canonical units: /min, %, mmHg, °C. Absent = not available. */
export interface News2Inputs {
  respiratoryRate?: number;
  spo2?: number;
  /** true = supplemental oxygen (any device or flow), false = breathing air. */
  onOxygen?: boolean;
  systolicBp?: number;
  pulse?: number;
  consciousness?: Consciousness;
  temperature?: number;
}

export type SubScorePoints = 0 | 1 | 2 | 3;

export interface SubScore {
  parameter: News2Parameter;
  points: SubScorePoints;
  /** The value the chart was read at, after rounding to the chart's resolution. */
  chartedValue: number | boolean | Consciousness;
}

/** RCP chart 2. "low-medium" is the red score: a single parameter scoring 3 with a total of 0–4. */
export type ClinicalRisk = 'low' | 'low-medium' | 'medium' | 'high';

/** RCP chart 3 rows. */
export type ClinicalResponse = 'routine' | 'ward-based' | 'urgent-ward-based' | 'urgent' | 'emergency';

export interface News2Result {
  total: number;
  subScores: SubScore[];
  missing: News2Parameter[];
  complete: boolean;
  /** Some single parameter scored 3. */
  redScore: boolean;
  risk: ClinicalRisk;
  response: ClinicalResponse;
  scale: Spo2Scale;
}

/** One band: values up to and including `upTo` (at chart resolution) score `points`. */
interface Band {
  upTo: number;
  points: SubScorePoints;
}

// Chart 1 bands, read top to bottom; the last band is open-ended.
const RESPIRATION_RATE: Band[] = [
  { upTo: 8, points: 3 },
  { upTo: 11, points: 1 },
  { upTo: 20, points: 0 },
  { upTo: 24, points: 2 },
  { upTo: Infinity, points: 3 },
];
const SPO2_SCALE_1: Band[] = [
  { upTo: 91, points: 3 },
  { upTo: 93, points: 2 },
  { upTo: 95, points: 1 },
  { upTo: Infinity, points: 0 },
];
// Scale 2 on air: 88–92 and ≥93 both score 0.
const SPO2_SCALE_2_AIR: Band[] = [
  { upTo: 83, points: 3 },
  { upTo: 85, points: 2 },
  { upTo: 87, points: 1 },
  { upTo: Infinity, points: 0 },
];
// Scale 2 on oxygen: over-oxygenation above the 88–92 target scores again.
const SPO2_SCALE_2_OXYGEN: Band[] = [
  { upTo: 83, points: 3 },
  { upTo: 85, points: 2 },
  { upTo: 87, points: 1 },
  { upTo: 92, points: 0 },
  { upTo: 94, points: 1 },
  { upTo: 96, points: 2 },
  { upTo: Infinity, points: 3 },
];
const SYSTOLIC_BP: Band[] = [
  { upTo: 90, points: 3 },
  { upTo: 100, points: 2 },
  { upTo: 110, points: 1 },
  { upTo: 219, points: 0 },
  { upTo: Infinity, points: 3 },
];
const PULSE: Band[] = [
  { upTo: 40, points: 3 },
  { upTo: 50, points: 1 },
  { upTo: 90, points: 0 },
  { upTo: 110, points: 1 },
  { upTo: 130, points: 2 },
  { upTo: Infinity, points: 3 },
];
const TEMPERATURE: Band[] = [
  { upTo: 35.0, points: 3 },
  { upTo: 36.0, points: 1 },
  { upTo: 38.0, points: 0 },
  { upTo: 39.0, points: 1 },
  { upTo: Infinity, points: 2 },
];

/**
 * Rounds half up to `decimals` places. The chart has whole-number bands for rates, pressures and
 * SpO2 and 0.1 °C bands for temperature, so a reading is charted as a nurse would write it down:
 * 20.5 /min → 21, 38.05 °C → 38.1. toPrecision first removes binary noise (38.05 × 10 = 380.4999…).
 */
export function roundToChart(value: number, decimals: 0 | 1): number {
  const factor = decimals === 1 ? 10 : 1;
  const scaled = Number((value * factor).toPrecision(12));
  return Math.floor(scaled + 0.5) / factor;
}

function pointsFor(bands: Band[], charted: number): SubScorePoints {
  for (const band of bands) if (charted <= band.upTo) return band.points;
  // Unreachable: the last band is open-ended. NaN lands here and is treated as the worst case.
  return 3;
}

export function respirationRatePoints(breathsPerMin: number): SubScorePoints {
  return pointsFor(RESPIRATION_RATE, roundToChart(breathsPerMin, 0));
}

/**
 * SpO2 sub-score. On scale 2 the oxygen status changes the bands; when it is unknown the air bands
 * are used (the lower score) and the caller reports the missing air/oxygen reading.
 */
export function spo2Points(percent: number, scale: Spo2Scale, onOxygen: boolean | undefined): SubScorePoints {
  const charted = roundToChart(percent, 0);
  if (scale === 1) return pointsFor(SPO2_SCALE_1, charted);
  return pointsFor(onOxygen ? SPO2_SCALE_2_OXYGEN : SPO2_SCALE_2_AIR, charted);
}

export function airOrOxygenPoints(onOxygen: boolean): SubScorePoints {
  return onOxygen ? 2 : 0;
}

export function systolicBpPoints(mmHg: number): SubScorePoints {
  return pointsFor(SYSTOLIC_BP, roundToChart(mmHg, 0));
}

export function pulsePoints(beatsPerMin: number): SubScorePoints {
  return pointsFor(PULSE, roundToChart(beatsPerMin, 0));
}

/** Alert scores 0; new confusion, voice, pain or unresponsive score 3. A GCS below 15 is not alert. */
export function consciousnessPoints(level: Consciousness): SubScorePoints {
  if (typeof level === 'object') return level.gcs >= 15 ? 0 : 3;
  return level === 'A' ? 0 : 3;
}

export function temperaturePoints(celsius: number): SubScorePoints {
  return pointsFor(TEMPERATURE, roundToChart(celsius, 1));
}

/** RCP chart 2: total ≥ 7 high, 5–6 medium, a single 3 low–medium, otherwise low. */
export function clinicalRisk(total: number, redScore: boolean): ClinicalRisk {
  if (total >= 7) return 'high';
  if (total >= 5) return 'medium';
  if (redScore) return 'low-medium';
  return 'low';
}

/** RCP chart 3: the response row for a total and risk band. */
export function clinicalResponse(total: number, risk: ClinicalRisk): ClinicalResponse {
  switch (risk) {
    case 'high':
      return 'emergency';
    case 'medium':
      return 'urgent';
    case 'low-medium':
      return 'urgent-ward-based';
    case 'low':
      return total === 0 ? 'routine' : 'ward-based';
  }
}

/** Scores every available parameter and aggregates them (RCP 2017 charts 1–3). */
export function scoreNews2(inputs: News2Inputs, scale: Spo2Scale = 1): News2Result {
  const subScores: SubScore[] = [];
  const add = (parameter: News2Parameter, points: SubScorePoints, chartedValue: SubScore['chartedValue']): void => {
    subScores.push({ parameter, points, chartedValue });
  };

  if (inputs.respiratoryRate !== undefined) {
    add('respiratoryRate', respirationRatePoints(inputs.respiratoryRate), roundToChart(inputs.respiratoryRate, 0));
  }
  if (inputs.spo2 !== undefined) {
    add('spo2', spo2Points(inputs.spo2, scale, inputs.onOxygen), roundToChart(inputs.spo2, 0));
  }
  if (inputs.onOxygen !== undefined) add('airOrOxygen', airOrOxygenPoints(inputs.onOxygen), inputs.onOxygen);
  if (inputs.systolicBp !== undefined) {
    add('systolicBp', systolicBpPoints(inputs.systolicBp), roundToChart(inputs.systolicBp, 0));
  }
  if (inputs.pulse !== undefined) add('pulse', pulsePoints(inputs.pulse), roundToChart(inputs.pulse, 0));
  if (inputs.consciousness !== undefined) {
    add('consciousness', consciousnessPoints(inputs.consciousness), inputs.consciousness);
  }
  if (inputs.temperature !== undefined) {
    add('temperature', temperaturePoints(inputs.temperature), roundToChart(inputs.temperature, 1));
  }

  const scored = new Set(subScores.map((s) => s.parameter));
  const missing = NEWS2_PARAMETERS.filter((p) => !scored.has(p));
  const total = subScores.reduce((sum, s) => sum + s.points, 0);
  const redScore = subScores.some((s) => s.points === 3);
  const risk = clinicalRisk(total, redScore);
  return {
    total,
    subScores,
    missing,
    complete: missing.length === 0,
    redScore,
    risk,
    response: clinicalResponse(total, risk),
    scale,
  };
}
