/**
 * The explanation view's pure logic: explanation record → what the page draws. No DOM, no fetch, so jest
 * covers every rule (test/web/model.test.ts). Wording follows the cards (src/explanations/risk-card.ts):
 * percentages with one decimal, contributions in percentage points.
 */
import type { Observation, Patient, RiskAssessment } from 'fhir/r4';
import type { ExplanationFactor, ExplanationRecord, RecordedPrediction, TimeSeriesAttributions } from '../explanations/record.js';
import { newestMeasurement, type ExplanationSummary } from '../explanations/summary.js';
import type { ScoreTrend } from '../explanations/trend.js';
import { formatPercent, formatPoints, thresholdPhrase } from '../explanations/percent.js';
import { REFERENCE } from '../explain/reference-ranges.js';
import { observationToPhysioNet, PHYSIONET_OBSERVATION_MAPPINGS } from '../fhir/mappings/physionet.js';

export type { ExplanationFactor, ExplanationRecord, ExplanationSummary, ScoreTrend, TimeSeriesAttributions };

/** CDS Hooks §Link appContext of Vigil's cards is `{"explanationId": "…"}`; a bare id is accepted too. */
export function explanationIdFrom(appContext: string | undefined): string | undefined {
  if (!appContext) return undefined;
  const ID = /^[A-Za-z0-9\-._]{1,128}$/;
  try {
    const parsed: unknown = JSON.parse(appContext);
    if (parsed && typeof parsed === 'object' && typeof (parsed as { explanationId?: unknown }).explanationId === 'string') {
      const id = (parsed as { explanationId: string }).explanationId;
      return ID.test(id) ? id : undefined;
    }
  } catch {
    // not JSON: maybe the id itself
  }
  return ID.test(appContext) ? appContext : undefined;
}

// Worded as on the card: one implementation for both.
export { formatPercent, formatPoints, thresholdPhrase };

export const BAND_LABEL: Readonly<Record<string, string>> = { low: 'Low risk', moderate: 'Moderate risk', high: 'High risk' };

/**
 * The band line under a score: where the probability stands against the model's cut-offs, then the band, e.g.
 * "Below the 53.7 % alert threshold chosen on validation (low band)". A band name alone misreads where the
 * cut-offs are far from 50 % (coronary disease 49.5 % "low").
 */
export function bandText(prediction: { probability: number; band: string; thresholds: { moderate: number; high: number } }): string {
  return `${capitalise(thresholdPhrase(prediction.probability, prediction.thresholds))} (${prediction.band} band)`;
}

/** Local date and time, e.g. "25 Nov 14:00"; the view is read at the bedside, in local time. */
export function formatTime(iso: string | undefined, locale?: string): string {
  if (!iso) return '—';
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return iso;
  return new Date(ms).toLocaleString(locale ?? 'en-GB', { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' });
}

/**
 * Labels of a time axis (uPlot ticks, seconds) in the view's own words: 24-hour clock, and the day as
 * "25 Nov" under the first tick of each day — uPlot's default ("4pm", "11/24/26") is US-style and reads
 * differently from every other time on the page.
 */
export function timeAxisLabels(splits: readonly number[], incrementSeconds: number, locale = 'en-GB'): string[] {
  let previousDay = '';
  return splits.map((s) => {
    const d = new Date(s * 1000);
    const day = d.toLocaleDateString(locale, { day: 'numeric', month: 'short' });
    if (incrementSeconds >= 86_400) return day;
    const clock = d.toLocaleTimeString(locale, { hour: '2-digit', minute: '2-digit' });
    const label = day !== previousDay ? `${clock}\n${day}` : clock;
    previousDay = day;
    return label;
  });
}

/**
 * The "data up to" time a clinician is shown: the record's asOf, but never later than when it was scored. A
 * time-series record's asOf is the end of its last hourly bucket, so a score made at 01:40 from a 01:00
 * measurement has asOf 02:00 — read as "data up to 02:00", a time still to come.
 */
export function dataUpTo(asOf: string, created: string | undefined): string {
  const a = Date.parse(asOf);
  const c = created === undefined ? Number.NaN : Date.parse(created);
  return Number.isFinite(a) && Number.isFinite(c) && c < a ? created! : asOf;
}

/**
 * The line under the score saying how recent its data are. A time-series record's window ends at its asOf; a
 * tabular record (a cardiology work-up) is scored at the hook call from measurements that can be weeks older,
 * so "data up to <call time>" would read as fresh data — it names the newest measurement used instead.
 */
export function dataRecencyText(
  record: Pick<ExplanationRecord, 'asOf' | 'created' | 'window' | 'factors'>,
  format: (iso: string) => string,
): string {
  if (record.window) return `Data up to ${format(dataUpTo(record.asOf, record.created))}`;
  const newest = newestMeasurement(record);
  return newest ? `Scored ${format(record.created)} from measurements up to ${format(newest)}` : `Scored ${format(record.created)}`;
}

export interface FactorBar {
  feature: string;
  label: string;
  text: string;
  contribution: number;
  direction: 'raises' | 'lowers';
  /** Bar length relative to the largest |contribution| shown, 0–1. */
  fraction: number;
  value?: string;
  time?: string;
  /** Against the reference range (as the card says "(high)"). */
  flag?: 'high' | 'low' | 'normal';
  /** The value was carried forward from an earlier measurement (`time` is that measurement's). */
  imputed?: boolean;
  /** First "Observation/<id>" behind the factor, if any. */
  evidence?: string;
}

/**
 * The words after a factor's name: its value with "high"/"low" and "carried forward" as on the card, or, for
 * an input with no value (scored as missing), "not measured" — a bare name would read as a measured value.
 */
export function factorValueText(bar: Pick<FactorBar, 'value' | 'flag' | 'imputed' | 'evidence'>): string {
  if (bar.value === undefined) return bar.evidence ? '' : 'not measured';
  const notes = [bar.flag && bar.flag !== 'normal' ? bar.flag : undefined, bar.imputed ? 'carried forward' : undefined].filter(Boolean);
  return notes.length ? `${bar.value} (${notes.join(', ')})` : bar.value;
}

/** Vigil's adult reference range of a model input (src/explain/reference-ranges.ts), e.g. "7–20 mg/dL". */
export function referenceRangeOf(feature: string): string | undefined {
  const entry = REFERENCE[feature];
  const range = entry?.normal;
  if (!range) return undefined;
  const unit = entry.unitText ? ` ${entry.unitText}` : '';
  if (range.low !== undefined && range.high !== undefined) return `${range.low}–${range.high}${unit}`;
  if (range.low !== undefined) return `≥ ${range.low}${unit}`;
  return range.high !== undefined ? `≤ ${range.high}${unit}` : undefined;
}

/** Top factors by |contribution| (ties by label, so the order is stable), scaled for a horizontal bar chart. */
export function factorBars(factors: readonly ExplanationFactor[], limit = 8): FactorBar[] {
  const top = [...factors]
    .filter((f) => Number.isFinite(f.contribution))
    .sort((a, b) => Math.abs(b.contribution) - Math.abs(a.contribution) || a.label.localeCompare(b.label))
    .slice(0, limit);
  const max = Math.max(...top.map((f) => Math.abs(f.contribution)), 1e-12);
  return top.map((f) => {
    const bar: FactorBar = {
      feature: f.feature,
      label: f.label,
      text: f.text,
      contribution: f.contribution,
      direction: f.contribution >= 0 ? 'raises' : 'lowers',
      fraction: Math.abs(f.contribution) / max,
    };
    if (f.value !== undefined) bar.value = f.value;
    if (f.time !== undefined) bar.time = f.time;
    if (f.direction) bar.flag = f.direction;
    if (f.imputed) bar.imputed = true;
    const evidence = f.evidence.find((r) => r.startsWith('Observation/'));
    if (evidence) bar.evidence = evidence;
    return bar;
  });
}

export interface TrendPoint {
  time: number;
  probability: number;
  /** Rescored by Vigil from the data available at that hour (GET /explanations/{id}/trend), not a score shown then. */
  retrospective?: boolean;
}

const HOUR_MS = 3_600_000;

/** The probability a RiskAssessment states (first prediction), with its time. */
function riskPoint(ra: RiskAssessment): TrendPoint | undefined {
  const p = ra.prediction?.[0]?.probabilityDecimal;
  const when = ra.occurrenceDateTime ?? ra.occurrencePeriod?.end ?? ra.occurrencePeriod?.start;
  const time = when ? Date.parse(when) : Number.NaN;
  return typeof p === 'number' && p >= 0 && p <= 1 && Number.isFinite(time) ? { time, probability: p } : undefined;
}

/** The model a RiskAssessment came from: method code (Vigil writes the model id there) or its text. */
export function riskAssessmentModel(ra: RiskAssessment): string | undefined {
  return ra.method?.coding?.[0]?.code ?? ra.method?.text ?? ra.code?.coding?.[0]?.code;
}

/**
 * The 48 h score trend for one model: RiskAssessments of that model from the EHR, the hourly scores Vigil
 * recomputed from the data available at each hour (`rescored`, from GET /explanations/{id}/trend), and the
 * explained score itself; oldest first, one point per instant, none later than the explained score (never
 * show the past as if it were newer than what is explained). Where a RiskAssessment and a rescored point
 * share an instant, the RiskAssessment wins: it is what was actually recorded then.
 */
export function scoreTrend(
  record: Pick<ExplanationRecord, 'asOf' | 'model'> & { prediction: RecordedPrediction },
  assessments: readonly RiskAssessment[],
  windowHours = 48,
  rescored?: Pick<ScoreTrend, 'points'>,
): TrendPoint[] {
  const end = Date.parse(record.asOf);
  const start = end - windowHours * HOUR_MS;
  const points = new Map<number, TrendPoint>();
  for (const p of rescored?.points ?? []) {
    const time = Date.parse(p.time);
    if (p.source !== 'retrospective' || !Number.isFinite(time) || !(p.probability >= 0 && p.probability <= 1)) continue;
    if (time > start && time < end) points.set(time, { time, probability: p.probability, retrospective: true });
  }
  for (const ra of assessments) {
    if (riskAssessmentModel(ra) !== record.model.id) continue;
    const point = riskPoint(ra);
    if (point && point.time >= start && point.time <= end) points.set(point.time, point);
  }
  points.set(end, { time: end, probability: record.prediction.probability });
  return [...points.values()].sort((a, b) => a.time - b.time);
}

/** The sentence under the trend: where its points come from, in a clinician's words. */
export function trendNote(points: readonly TrendPoint[]): string | undefined {
  if (points.length < 2) return 'No earlier scores for this model in the last 48 hours.';
  const rescored = points.filter((p) => p.retrospective).length;
  if (!rescored) return undefined;
  return `${rescored} earlier hourly ${rescored === 1 ? 'score was' : 'scores were'} scored from data available at that hour (recomputed now with the same model version, not shown at the time).`;
}

export interface ObservationSummary {
  reference: string;
  label: string;
  value: string;
  /** Numeric value, when the Observation has one. */
  numeric?: number;
  unit?: string;
  time?: string;
  referenceRange?: string;
  interpretation?: string;
}

function quantityText(q: { value?: number; unit?: string; code?: string } | undefined): string | undefined {
  if (q?.value === undefined) return undefined;
  const unit = q.unit ?? q.code;
  return unit ? `${q.value} ${unit}` : String(q.value);
}

/** What the factor dialog shows about one source Observation: value, unit, time, reference range. */
export function summarizeObservation(obs: Observation): ObservationSummary {
  const label = obs.code.text ?? obs.code.coding?.find((c) => c.display)?.display ?? obs.code.coding?.[0]?.code ?? 'Observation';
  const summary: ObservationSummary = { reference: `Observation/${obs.id ?? ''}`, label, value: 'no value recorded' };
  if (obs.valueQuantity) {
    summary.value = quantityText(obs.valueQuantity) ?? summary.value;
    if (typeof obs.valueQuantity.value === 'number') summary.numeric = obs.valueQuantity.value;
    const unit = obs.valueQuantity.unit ?? obs.valueQuantity.code;
    if (unit) summary.unit = unit;
  } else if (obs.valueString !== undefined) summary.value = obs.valueString;
  else if (obs.valueCodeableConcept) summary.value = obs.valueCodeableConcept.text ?? obs.valueCodeableConcept.coding?.[0]?.display ?? '—';
  else if (obs.valueBoolean !== undefined) summary.value = obs.valueBoolean ? 'yes' : 'no';
  else if (obs.valueInteger !== undefined) {
    summary.value = String(obs.valueInteger);
    summary.numeric = obs.valueInteger;
  } else if (obs.component?.length) {
    // A panel (e.g. blood pressure 85354-9): its values are in the components.
    const parts = obs.component
      .map((c) => {
        const q = quantityText(c.valueQuantity);
        const name = c.code.text ?? c.code.coding?.find((x) => x.display)?.display;
        return q ? (name ? `${name} ${q}` : q) : undefined;
      })
      .filter((x): x is string => x !== undefined);
    if (parts.length) summary.value = parts.join('; ');
  }
  const time = obs.effectiveDateTime ?? obs.effectiveInstant ?? obs.effectivePeriod?.start ?? obs.issued;
  if (time) summary.time = time;
  const range = obs.referenceRange?.[0];
  if (range) {
    const low = quantityText(range.low);
    const high = quantityText(range.high);
    summary.referenceRange = range.text ?? (low && high ? `${low} – ${high}` : low ? `≥ ${low}` : high ? `≤ ${high}` : undefined);
    if (!summary.referenceRange) delete summary.referenceRange;
  }
  const interpretation = obs.interpretation?.[0];
  const text = interpretation?.text ?? interpretation?.coding?.[0]?.display ?? interpretation?.coding?.[0]?.code;
  if (text) summary.interpretation = text;
  return summary;
}

/** One hour of one measurement on a curve. */
export interface CurvePoint {
  time: number;
  /** The value in force that hour: measured then, or carried forward from an earlier hour. */
  value: number | null;
  kind: 'measured' | 'carried-forward' | 'none';
  /** Attribution of the cell (0 when nothing was measured that hour: credit goes to the measuring hour). */
  attribution: number;
  sources: string[];
}

export interface Curve {
  feature: string;
  label: string;
  unit?: string;
  points: CurvePoint[];
  /** Σ|attribution| over the window, the curve's rank. */
  weight: number;
}

/**
 * Curves for the time-series model: the `limit` measurements with the most attribution (Σ|cell|), each an
 * hourly series from the window's Observations. A cell with a measurement shows that value; an hour without
 * one carries the last value forward (the model does the same) and is marked so the page draws it
 * differently — a carried-forward value is never shown as a fresh measurement.
 */
/** Clinical label and display unit of a PhysioNet column (src/fhir/mappings/physionet.ts), e.g. SBP → Systolic blood pressure, mmHg. */
export function featureInfo(feature: string): { label: string; unit: string } | undefined {
  const m = PHYSIONET_OBSERVATION_MAPPINGS.find((x) => x.column === feature);
  return m ? { label: m.primary.display, unit: m.primary.unit } : undefined;
}

/** The value an Observation holds for a model input column, in the column's FHIR unit (panels read through components). */
export function valueFor(obs: Observation, feature: string): number | undefined {
  return observationToPhysioNet(obs).find((r) => r.column === feature)?.value;
}

export function attributionCurves(
  attributions: TimeSeriesAttributions,
  observations: ReadonlyMap<string, Observation>,
  labels: ReadonlyMap<string, string>,
  limit = 4,
): Curve[] {
  const { hourStarts, features, values, measured, sources } = attributions;
  const ranked = features
    .map((feature, f) => ({ feature, f, weight: hourStarts.reduce((sum, _h, h) => sum + Math.abs(values[h]?.[f] ?? 0), 0) }))
    .filter((c) => c.weight > 0)
    .sort((a, b) => b.weight - a.weight || a.feature.localeCompare(b.feature))
    .slice(0, limit);
  return ranked.map(({ feature, f, weight }) => {
    let last: number | null = null;
    const info = featureInfo(feature);
    const unit = info?.unit;
    const points = hourStarts.map((iso, h): CurvePoint => {
      const cellSources = (sources[h]?.[f] ?? []).map((s) => (s.includes('/') ? s : `Observation/${s}`));
      const wasMeasured = measured[h]?.[f] === true;
      let value: number | null = null;
      if (wasMeasured) {
        // The last Observation of the hour is the value the model saw for it.
        for (const ref of cellSources) {
          const obs = observations.get(ref);
          const v = obs ? valueFor(obs, feature) : undefined;
          if (v !== undefined) value = v;
        }
        if (value !== null) last = value;
      }
      const kind: CurvePoint['kind'] = wasMeasured && value !== null ? 'measured' : last !== null ? 'carried-forward' : 'none';
      return { time: Date.parse(iso), value: kind === 'measured' ? value : last, kind, attribution: values[h]?.[f] ?? 0, sources: cellSources };
    });
    const curve: Curve = { feature, label: labels.get(feature) ?? info?.label ?? feature, points, weight };
    if (unit) curve.unit = unit;
    return curve;
  });
}

/**
 * Colour of an attribution cell on a blue–orange diverging scale (Okabe–Ito blue #0072B2 for lowering,
 * vermillion #D55E00 for raising: distinguishable with the common colour-vision deficiencies), white at 0.
 */
export function heatColor(value: number, maxAbs: number): string {
  const t = maxAbs > 0 ? Math.min(1, Math.abs(value) / maxAbs) : 0;
  const [r, g, b] = value >= 0 ? [0xd5, 0x5e, 0x00] : [0x00, 0x72, 0xb2];
  const mix = (c: number) => Math.round(255 + (c - 255) * t);
  return `rgb(${mix(r)}, ${mix(g)}, ${mix(b)})`;
}

/** WCAG 2.x relative luminance of "#rrggbb" (or "#rgb"); undefined for anything else. */
export function luminance(color: string): number | undefined {
  const m = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(color.trim());
  if (!m) return undefined;
  const hex = m[1]!.length === 3 ? [...m[1]!].map((c) => c + c).join('') : m[1]!;
  const [r, g, b] = [0, 2, 4].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255).map((c) => (c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
  return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
}

export function contrastRatio(a: string, b: string): number | undefined {
  const la = luminance(a);
  const lb = luminance(b);
  if (la === undefined || lb === undefined) return undefined;
  return (Math.max(la, lb) + 0.05) / (Math.min(la, lb) + 0.05);
}

/**
 * CSS custom properties from the EHR's SMART style (SMART App Launch §Styling: color_background, color_text,
 * color_highlight, font_family_body, dim_border_radius, …). EHR colours are taken only when text on
 * background keeps WCAG AA contrast (4.5:1); otherwise the view keeps its own palette.
 */
export function styleVariables(style: Record<string, unknown>): Record<string, string> {
  const str = (k: string) => (typeof style[k] === 'string' ? (style[k] as string).trim() : undefined);
  const vars: Record<string, string> = {};
  const bg = str('color_background');
  const text = str('color_text');
  if (bg && text && (contrastRatio(bg, text) ?? 0) >= 4.5) {
    vars['--bg'] = bg;
    vars['--text'] = text;
    const highlight = str('color_highlight');
    if (highlight && (contrastRatio(highlight, bg) ?? 0) >= 3) vars['--accent'] = highlight;
  }
  const font = str('font_family_body');
  if (font && /^[\w\s,"'-]{1,200}$/.test(font)) vars['--font'] = font;
  const radius = str('dim_border_radius');
  if (radius && /^\d{1,2}(\.\d+)?(px|rem|em)$/.test(radius)) vars['--radius'] = radius;
  return vars;
}

/** Age in whole years at `now`. */
export function ageOf(birthDate: string | undefined, now: Date): number | undefined {
  if (!birthDate || !/^\d{4}-\d{2}-\d{2}$/.test(birthDate)) return undefined;
  const [y, m, d] = birthDate.split('-').map(Number) as [number, number, number];
  let age = now.getUTCFullYear() - y;
  if (now.getUTCMonth() + 1 < m || (now.getUTCMonth() + 1 === m && now.getUTCDate() < d)) age--;
  return age;
}

export interface BannerData {
  name: string;
  gender?: string;
  birthDate?: string;
  age?: number;
  identifier?: string;
}

/** SMART §need_patient_banner: name, gender, birth date (age) and the first identifier, as EHR banners show. */
export function bannerOf(patient: Patient, now: Date): BannerData {
  const name = patient.name?.find((n) => n.use === 'official') ?? patient.name?.[0];
  const text = name?.text ?? [name?.prefix?.join(' '), name?.given?.join(' '), name?.family].filter(Boolean).join(' ');
  const banner: BannerData = { name: text || 'Unnamed patient' };
  if (patient.gender) banner.gender = patient.gender;
  if (patient.birthDate) banner.birthDate = patient.birthDate;
  const age = ageOf(patient.birthDate, now);
  if (age !== undefined) banner.age = age;
  const id = patient.identifier?.find((i) => i.value);
  if (id?.value) banner.identifier = `${id.type?.text ?? id.type?.coding?.[0]?.code ?? 'ID'} ${id.value}`;
  return banner;
}

/** The model card fields the view summarises (GET /models/{id}/card; models/<id>/card.json). */
export interface ModelCardSummary {
  title: string;
  version: string;
  intendedUse?: string;
  outOfScope?: string;
  data?: string;
  limits?: string;
  performance: Array<{ metric: string; estimate: number; lower?: number; upper?: number }>;
  hti1: Array<{ attribute: string; value: string }>;
}

type Json = Record<string, unknown>;
const obj = (v: unknown): Json | undefined => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined);
const s = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() ? v : undefined);
const n = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

export function summarizeModelCard(card: unknown): ModelCardSummary | undefined {
  const c = obj(card);
  if (!c) return undefined;
  const sections = obj(c.sections) ?? {};
  const summary: ModelCardSummary = { title: s(c.title) ?? s(c.id) ?? 'Model', version: s(c.version) ?? 'unknown', performance: [], hti1: [] };
  for (const [key, field] of [['intendedUse', 'intendedUse'], ['outOfScope', 'outOfScope'], ['data', 'data'], ['limits', 'limits']] as const) {
    const value = s(sections[field]);
    if (value) summary[key] = value;
  }
  const table = Array.isArray(c.metricsTable) ? c.metricsTable : [];
  const report = obj(obj(table[0])?.report);
  if (report) {
    // aurocAfVsNormal: the ECG rhythm card (multi-class), with the Challenge's own score below.
    for (const [metric, key] of [['AUROC', 'auroc'], ['AUPRC', 'auprc'], ['AUROC, atrial fibrillation vs normal', 'aurocAfVsNormal']] as const) {
      const m = obj(report[key]);
      const estimate = n(m?.estimate);
      if (estimate !== undefined) {
        const row: ModelCardSummary['performance'][number] = { metric, estimate };
        const lower = n(m?.lower);
        const upper = n(m?.upper);
        if (lower !== undefined) row.lower = lower;
        if (upper !== undefined) row.upper = upper;
        summary.performance.push(row);
      }
    }
    const brier = n(report.brier);
    if (brier !== undefined) summary.performance.push({ metric: 'Brier score', estimate: brier });
    const challengeF1 = n(report.challengeF1);
    if (challengeF1 !== undefined) summary.performance.push({ metric: 'Challenge F1 (mean of normal, AF, other)', estimate: challengeF1 });
  }
  for (const a of Array.isArray(c.hti1) ? c.hti1 : []) {
    const attribute = s(obj(a)?.attribute);
    const value = s(obj(a)?.value);
    if (attribute && value) summary.hti1.push({ attribute, value });
  }
  return summary;
}

/** "0.74 (95 % CI 0.65–0.82)". */
export function formatEstimate(row: { estimate: number; lower?: number; upper?: number }): string {
  const f = (x: number) => x.toFixed(x < 0.1 ? 3 : 2);
  return row.lower !== undefined && row.upper !== undefined ? `${f(row.estimate)} (95 % CI ${f(row.lower)}–${f(row.upper)})` : f(row.estimate);
}

/** Names of the shipped models as a clinician reads them; unknown models keep their id. */
export const MODEL_TITLE: Readonly<Record<string, string>> = {
  deterioration: 'Sepsis (next 6 h)',
  'heart-disease': 'Coronary artery disease',
  'ecg-rhythm': 'ECG rhythm',
};

/** The ECG tile's second line, by the rhythm called (PhysioNet/CinC 2017 classes). */
const RHYTHM_VERDICT: Readonly<Record<string, string>> = { A: 'Review the tracing', '~': 'Cannot classify: too noisy' };

/** A score whose data end this many hours or more before the launched one's is marked as older. */
export const STALE_AFTER_HOURS = 2;

/** One tile of the per-model strip ("current risk for each model"). */
export interface ModelTile {
  /** Explanation id: selecting the tile loads this record into the detail panels. */
  id: string;
  modelId: string;
  title: string;
  /** "7.3 %", or for an ECG the rhythm called with its probability. */
  value: string;
  band: string;
  bandLabel: string;
  asOf: string;
  /** Tabular scores: the newest measurement used, shown instead of asOf (the call time). */
  measuredUpTo?: string;
  /** Data end hours before the launched explanation's: shown with its time. */
  stale: boolean;
  /** Whole hours older than the launched explanation's data (set when stale). */
  hoursOlder?: number;
  /**
   * Set when the strip holds two scores of one model (the one opened and a newer one): which is which, as
   * their numbers and times can be identical (e.g. records kept from before a model or settings change).
   */
  note?: string;
}

/**
 * The strip: the patient's newest explanation of each model (GET /patients/{id}/explanations/latest), in the
 * server's order. The launched explanation is always there — when its model is missing from the list (e.g.
 * the list could not be read) it is added, and when a newer record of its model exists both are kept, the
 * newer first — so the clinician never loses the score they opened.
 */
export function modelTiles(summaries: readonly ExplanationSummary[], launched: ExplanationSummary, staleAfterHours = STALE_AFTER_HOURS): ModelTile[] {
  const list = [...summaries];
  if (!list.some((s) => s.id === launched.id)) {
    const i = list.findIndex((s) => s.model.id === launched.model.id);
    if (i < 0) list.push(launched);
    else list.splice(i + 1, 0, launched);
  }
  const reference = Date.parse(launched.asOf);
  return list.map((s) => {
    const older = (reference - Date.parse(s.asOf)) / HOUR_MS;
    const stale = Number.isFinite(older) && older >= staleAfterHours;
    const tile: ModelTile = {
      id: s.id,
      modelId: s.model.id,
      title: MODEL_TITLE[s.model.id] ?? s.model.id,
      value: s.unclassified ? 'Not classified' : s.rhythm ? `${capitalise(s.rhythm.name)} ${formatPercent(s.rhythm.probability)}` : s.probability !== undefined ? formatPercent(s.probability) : 'No score',
      band: s.band ?? 'none',
      bandLabel: s.unclassified
        ? 'Tracing cannot be used'
        : s.rhythm
          ? RHYTHM_VERDICT[s.rhythm.code] ?? 'No atrial fibrillation called'
          : s.probability !== undefined && s.thresholds
            ? capitalise(thresholdPhrase(s.probability, s.thresholds, { short: true }))
            : s.band
              ? (BAND_LABEL[s.band] ?? s.band)
              : 'Not scored',
      asOf: dataUpTo(s.asOf, s.created),
      stale,
    };
    if (s.measuredUpTo) tile.measuredUpTo = s.measuredUpTo;
    if (stale) tile.hoursOlder = Math.floor(older);
    if (list.some((o) => o.id !== s.id && o.model.id === s.model.id)) tile.note = s.id === launched.id ? 'Opened from the card' : 'Newer score';
    return tile;
  });
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** The summary of a full record, the same shape the server lists (src/explanations/summary.ts). */
export { summarizeExplanation } from '../explanations/summary.js';

/** Trend points split for drawing: stored scores (filled markers) and retrospective ones (hollow), joined by one line. */
export interface TrendSeries {
  /** Seconds (uPlot's time unit). */
  xs: number[];
  /** Percent; null where the point is of the other kind. */
  stored: Array<number | null>;
  retrospective: Array<number | null>;
  line: number[];
}

export function trendSeries(points: readonly TrendPoint[]): TrendSeries {
  return {
    xs: points.map((p) => p.time / 1000),
    stored: points.map((p) => (p.retrospective ? null : p.probability * 100)),
    retrospective: points.map((p) => (p.retrospective ? p.probability * 100 : null)),
    line: points.map((p) => p.probability * 100),
  };
}

/** How a trend point came about, in words (the table's "Source" column and the legend). */
export function trendSourceText(point: Pick<TrendPoint, 'retrospective'>): string {
  return point.retrospective ? 'rescored now from data available at that hour' : 'scored at the time';
}
