/**
 * The explanation view's pure logic for ECG rhythm records (issue 10): the record's `ecg` section
 * (src/cds-hooks/services/ecg-rhythm/record.ts) → what the tracing panel draws. The saliency band, the zoom
 * window arithmetic, segment → zoom range, class bars and the sentences. No DOM (test/web/model.test.ts).
 */
import { fromFixedPoint, isFixedPointSeries, type FixedPointSeries } from '../explanations/fixed-point.js';
import type { ExplanationRecord } from '../explanations/record.js';

/**
 * The `ecg` section of an ECG rhythm record as the page draws it, every series a plain per-sample array:
 * format 1 records are stored this way, format 2 ones are decoded into it by `ecgOf`.
 */
export interface EcgSection {
  rateHz: number;
  start?: string;
  durationSeconds: number;
  observation?: string;
  lead: string;
  rhythm: string;
  classes: Array<{ code: string; name: string; probability: number }>;
  /** mV at rateHz; null for a sample the device marked as an error (drawn as a gap). */
  signal: Array<number | null>;
  explainedClass?: string;
  /** The tracing was refused before the network saw it: why (then `rhythm` is '' and `classes` empty). */
  unclassified?: { reasons: string[] };
  saliency?: Array<{ method: string; baseline: string; values: number[] }>;
  /** Per-sample consensus saliency (sums to ±1 in absolute value over the tracing); > 0 supports the explained class. */
  consensus?: number[];
  segments?: Array<{ from: number; to: number; fromTime?: string; toTime?: string; score: number }>;
  segmentSeconds?: number;
}

/**
 * The `ecg` section of a format 2 record (src/cds-hooks/services/ecg-rhythm/record.ts EcgRecordSection) as
 * far as the page reads it, restated here so the page's type check does not pull in the TensorFlow.js types
 * behind the service; test/web/model.test.ts checks that the service's type still fits this one. Per-method
 * saliency (40 ms sums) is not drawn.
 */
export interface StoredEcgSection extends Omit<EcgSection, 'signal' | 'consensus' | 'saliency' | 'unclassified'> {
  format: 2;
  /** mV = q × scale. */
  signal: FixedPointSeries;
  /** Per sample, like `signal`. */
  consensus?: FixedPointSeries;
}

/** A format 2 section of a tracing refused before classification (record.ts UnclassifiedEcgSection). */
export interface StoredUnclassifiedEcgSection extends Pick<StoredEcgSection, 'format' | 'rateHz' | 'start' | 'durationSeconds' | 'observation' | 'lead' | 'signal'> {
  unclassified: { reasons: string[] };
}

/**
 * The record's ECG section when it is an ECG rhythm record with a usable tracing, with every series as a
 * per-sample array: format 1 as stored, format 2 decoded (the tracing exact to its 0.001 mV step, the
 * consensus to ≈ 3 significant digits of its peak). A format this page does not know is not drawn.
 */
export function ecgOf(record: ExplanationRecord): EcgSection | undefined {
  const stored = (record as ExplanationRecord & { ecg?: EcgSection | StoredEcgSection | StoredUnclassifiedEcgSection }).ecg;
  if (!stored) return undefined;
  let ecg: EcgSection | undefined;
  if (!('format' in stored) || stored.format === undefined) ecg = stored as EcgSection;
  else if (stored.format === 2 && isFixedPointSeries(stored.signal)) {
    const signal = fromFixedPoint(stored.signal).map((v) => (Number.isNaN(v) ? null : v));
    if ('unclassified' in stored) {
      const { format: _format, signal: _signal, unclassified, ...rest } = stored;
      ecg = { ...rest, rhythm: '', classes: [], signal, unclassified: { reasons: Array.isArray(unclassified?.reasons) ? unclassified.reasons : [] } };
    } else {
      const { format: _format, signal: _signal, consensus, ...rest } = stored;
      ecg = { ...rest, signal, ...(isFixedPointSeries(consensus) ? { consensus: fromFixedPoint(consensus) } : {}) };
    }
  }
  return ecg && Array.isArray(ecg.signal) && ecg.signal.length > 0 && ecg.rateHz > 0 ? ecg : undefined;
}

/** A span of the tracing in seconds from its first sample. */
export interface SecondsWindow {
  from: number;
  to: number;
}

export function fullWindow(ecg: Pick<EcgSection, 'signal' | 'rateHz'>): SecondsWindow {
  return { from: 0, to: ecg.signal.length / ecg.rateHz };
}

/**
 * The lead as a clinician names it. Records store where in the Observation the tracing was read
 * ("Observation.component[0] (lead I)", "Observation.valueSampledData"), which is FHIR, not bedside, wording:
 * the lead's name when the record gives one, else nothing.
 */
export function leadText(lead: string | undefined): string | undefined {
  const named = lead ? /\(lead ([^)]+)\)/.exec(lead)?.[1] : undefined;
  if (named) return `lead ${named}`;
  return lead && !lead.startsWith('Observation') ? lead : undefined;
}

/** "12 s", "12.5 s". */
export function formatSeconds(s: number): string {
  const r = Math.round(s * 10) / 10;
  return `${Number.isInteger(r) ? r.toFixed(0) : r.toFixed(1)} s`;
}

export type ZoomAction = 'in' | 'out' | 'earlier' | 'later';

/** Narrowest window the keyboard or a segment zooms to: one beat or two still fit. */
export const MIN_ZOOM_SECONDS = 1;

/** `w` moved inside `full` without changing its width (when it fits), else `full`. */
function clampInto(w: SecondsWindow, full: SecondsWindow): SecondsWindow {
  const width = w.to - w.from;
  if (width >= full.to - full.from) return { ...full };
  if (w.from < full.from) return { from: full.from, to: full.from + width };
  if (w.to > full.to) return { from: full.to - width, to: full.to };
  return w;
}

/**
 * The next window for a zoom or pan step: zoom in halves the width around the centre (never below
 * MIN_ZOOM_SECONDS), zoom out doubles it (never beyond the tracing), earlier/later move by a quarter of the
 * width and stop at the tracing's ends.
 */
export function zoomWindow(current: SecondsWindow, full: SecondsWindow, action: ZoomAction): SecondsWindow {
  const width = current.to - current.from;
  const centre = (current.from + current.to) / 2;
  const minWidth = Math.min(MIN_ZOOM_SECONDS, full.to - full.from);
  switch (action) {
    case 'in': {
      const w = Math.max(minWidth, width / 2);
      return clampInto({ from: centre - w / 2, to: centre + w / 2 }, full);
    }
    case 'out': {
      const w = Math.min(full.to - full.from, width * 2);
      return clampInto({ from: centre - w / 2, to: centre + w / 2 }, full);
    }
    case 'earlier':
      return clampInto({ from: current.from - width / 4, to: current.to - width / 4 }, full);
    case 'later':
      return clampInto({ from: current.from + width / 4, to: current.to + width / 4 }, full);
  }
}

/** The tracing's keys: + / = zoom in, − zoom out, ← / → move, 0 / Home the whole tracing. */
export function zoomKey(key: string): ZoomAction | 'reset' | undefined {
  if (key === '+' || key === '=') return 'in';
  if (key === '-' || key === '−' || key === '_') return 'out';
  if (key === 'ArrowLeft') return 'earlier';
  if (key === 'ArrowRight') return 'later';
  if (key === '0' || key === 'Home') return 'reset';
  return undefined;
}

/** The zoom range for a segment: the segment with `padSeconds` either side, inside the tracing. */
export function segmentWindow(segment: { from: number; to: number }, full: SecondsWindow, padSeconds = 1): SecondsWindow {
  return { from: Math.max(full.from, segment.from - padSeconds), to: Math.min(full.to, segment.to + padSeconds) };
}

/** "Showing 4–8 s of 30 s" (what the live region announces after a zoom). */
export function windowText(w: SecondsWindow, full: SecondsWindow): string {
  const whole = Math.abs(w.from - full.from) < 1e-6 && Math.abs(w.to - full.to) < 1e-6;
  return whole ? `Showing the whole tracing, ${formatSeconds(full.to - full.from)}` : `Showing ${formatSeconds(w.from)} to ${formatSeconds(w.to)} of ${formatSeconds(full.to - full.from)}`;
}

/**
 * Support for the explained class per sample on 0–1: the consensus saliency smoothed over `smoothSeconds`
 * (single samples are noisy; a QRS complex lasts ≈ 0.1 s), negative values (evidence against the class)
 * set to 0, divided by the largest. All zeros when nothing supports the class.
 */
export function saliencyLevels(consensus: readonly number[], rateHz: number, smoothSeconds = 0.1): Float32Array {
  const n = consensus.length;
  const half = Math.max(0, Math.floor((smoothSeconds * rateHz) / 2));
  const prefix = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) prefix[i + 1] = prefix[i]! + (Number.isFinite(consensus[i]!) ? consensus[i]! : 0);
  const out = new Float32Array(n);
  let max = 0;
  for (let i = 0; i < n; i++) {
    const lo = Math.max(0, i - half);
    const hi = Math.min(n, i + half + 1);
    const v = Math.max(0, (prefix[hi]! - prefix[lo]!) / (hi - lo));
    out[i] = v;
    if (v > max) max = v;
  }
  if (max > 0) for (let i = 0; i < n; i++) out[i] = out[i]! / max;
  return out;
}

/**
 * The band's cells for a window drawn `columns` wide: each cell the strongest level among the samples it
 * covers (a narrow burst of support stays visible when zoomed out), or of the nearest sample when a cell is
 * narrower than a sample.
 */
export function bandColumns(levels: ArrayLike<number>, rateHz: number, w: SecondsWindow, columns: number): number[] {
  const out: number[] = [];
  const n = levels.length;
  if (n === 0 || columns <= 0) return out;
  const step = (w.to - w.from) / columns;
  for (let c = 0; c < columns; c++) {
    const a = Math.max(0, Math.floor((w.from + c * step) * rateHz));
    const b = Math.min(n, Math.ceil((w.from + (c + 1) * step) * rateHz));
    let best = 0;
    if (b <= a) best = levels[Math.min(n - 1, a)] ?? 0;
    for (let i = a; i < b; i++) if (levels[i]! > best) best = levels[i]!;
    out.push(best);
  }
  return out;
}

/**
 * Sequential colour of a support level (0–1). Stops sampled from viridis, from its light yellow end to its
 * dark purple end: lightness falls monotonically, so the order reads with every common colour-vision
 * deficiency and in greyscale. Level 0 (no support, or evidence against) is a light grey.
 */
const SUPPORT_STOPS: ReadonlyArray<readonly [number, number, number]> = [
  [0xfd, 0xe7, 0x25],
  [0x5e, 0xc9, 0x62],
  [0x21, 0x91, 0x8c],
  [0x3b, 0x52, 0x8b],
  [0x44, 0x01, 0x54],
];
export const NO_SUPPORT_COLOR = '#ececec';

export function supportColor(level: number): string {
  if (!(level > 0.02)) return NO_SUPPORT_COLOR;
  const t = Math.min(1, level) * (SUPPORT_STOPS.length - 1);
  const i = Math.min(SUPPORT_STOPS.length - 2, Math.floor(t));
  const f = t - i;
  const [a, b] = [SUPPORT_STOPS[i]!, SUPPORT_STOPS[i + 1]!];
  const mix = (k: 0 | 1 | 2) => Math.round(a[k] + (b[k] - a[k]) * f);
  return `rgb(${mix(0)}, ${mix(1)}, ${mix(2)})`;
}

export interface ClassBar {
  code: string;
  name: string;
  probability: number;
  /** The rhythm the model called. */
  called: boolean;
}

/** The four class probabilities in the model's order, the call marked. */
export function classBars(ecg: Pick<EcgSection, 'classes' | 'rhythm'>): ClassBar[] {
  return ecg.classes.map((c) => ({ code: c.code, name: c.name, probability: c.probability, called: c.code === ecg.rhythm }));
}

export interface SegmentItem {
  from: number;
  to: number;
  /** "12–13 s". */
  label: string;
  /** Clock time of the segment's start, ISO, when the tracing's start is known. */
  at?: string;
  /** Share of the tracing's total saliency (the consensus sums to ±1 over the tracing), 0–1. */
  share: number;
}

/** The segments that supported the call most, strongest first (only those with positive support). */
export function topSegments(ecg: Pick<EcgSection, 'segments'>, limit = 5): SegmentItem[] {
  return (ecg.segments ?? [])
    .filter((s) => s.score > 0)
    .sort((a, b) => b.score - a.score)
    .slice(0, limit)
    .map((s) => ({
      from: s.from,
      to: s.to,
      label: `${formatSeconds(s.from).replace(/ s$/, '')}–${formatSeconds(s.to)}`,
      ...(s.fromTime ? { at: s.fromTime } : {}),
      share: s.score,
    }));
}

/**
 * What the clinician is told besides the probabilities: a tracing refused before classification says why, a
 * too-noisy call is a "cannot classify" in words, an absent saliency says so; empty when the tracing was
 * classified and explained.
 */
export function ecgNotes(ecg: Pick<EcgSection, 'rhythm' | 'saliency' | 'consensus' | 'classes' | 'unclassified'>): string[] {
  const notes: string[] = [];
  if (ecg.unclassified) {
    const reasons = ecg.unclassified.reasons.length ? ecg.unclassified.reasons.join('; ') : 'no reason was recorded';
    return [`Cannot classify this tracing: ${reasons}. The model was not run on it, so no rhythm or probabilities are shown. Consider repeating the recording.`];
  }
  if (ecg.rhythm === '~') {
    notes.push('Cannot classify this rhythm: the model judged the recording too noisy (artefact or poor electrode contact) to call a rhythm. Consider repeating the recording.');
  }
  if (!ecg.consensus?.length) {
    notes.push('Where in the tracing the model looked was not computed for this recording, so no band is drawn.');
  }
  return notes;
}

/** Title of the explained class for the band legend. */
export function explainedName(ecg: Pick<EcgSection, 'explainedClass' | 'rhythm' | 'classes'>): string {
  const code = ecg.explainedClass ?? ecg.rhythm;
  return ecg.classes.find((c) => c.code === code)?.name ?? code;
}
