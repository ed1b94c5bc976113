/**
 * The vigil-ecg-rhythm cards (CDS Hooks 2.0.1 §Card Attributes, §Link): the rhythm with its probabilities
 * and the most salient stretches of the tracing, or a "cannot classify" card that says why. Pure apart from
 * the uuids createCard draws.
 */
import { createCard } from '../../cards.js';
import type { Card, CardLink, CardSource } from '../../types.js';
import { escapeMarkdown, explanationLink, formatPercent, formatTime } from '../../../explanations/risk-card.js';
import { ECG_CLASSES, ECG_CLASS_NAMES, type EcgClass } from '../../../models/ecg/classes.js';
import type { RhythmFactor, SalientSegment } from '../../../models/ecg/explain.js';

export const SERVICE_LABEL = 'Vigil · ECG rhythm (single-lead CNN)';

export interface RhythmCardInput {
  cardUuid: string;
  rhythm: EcgClass;
  probabilities: Record<EcgClass, number>;
  modelVersion: string;
  source: CardSource;
  links: CardLink[];
  baseUrl: string;
  /** When the tracing was recorded, ISO. */
  recordedAt?: string;
  durationSeconds: number;
  /** "Observation/<id>" and the lead read. */
  observationRef?: string;
  leadPath: string;
  resampledFrom?: number;
  modelRate: number;
  /** Strongest supporting segments first. */
  segments?: readonly SalientSegment[];
  explanationId?: string;
  explanationProblem?: string;
  /** Hybrid model: the rhythm features' part of the explanation. */
  rhythmFactor?: RhythmFactor;
}

function seconds(s: number): string {
  return `${s.toFixed(s % 1 ? 1 : 0)} s`;
}

/** "12–13 s (2026-01-01 03:00:12 UTC)". */
export function segmentText(segment: SalientSegment, recordedAt?: string): string {
  const base = `${seconds(segment.from)}–${seconds(segment.to)}`;
  const t0 = recordedAt ? Date.parse(recordedAt) : NaN;
  if (Number.isNaN(t0)) return base;
  const at = new Date(t0 + segment.from * 1000).toISOString().slice(11, 19);
  return `${base} (at ${at} UTC)`;
}

function featureValue(f: RhythmFactor['features'][number]): string {
  if (f.percent) return `${Math.round(f.value * 100)} %`;
  if (f.unit) return `${Math.round(f.value)}${f.unit}`;
  return f.value.toFixed(2);
}

function signed(x: number): string {
  return `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(2)}`;
}

/**
 * 'Rhythm irregularity (R-peak intervals) raised "atrial fibrillation" by 1.32 log-odds against a
 * training-average rhythm — RR coefficient of variation 0.21 (+0.61), …; the shape of the tracing itself
 * added +2.10.' — the two features with the largest |attribution|, from the same integrated-gradients run as
 * the signal saliency. The features follow the sentence they explain; the waveform's part is said in words
 * (it read "(the signal's part: +2.10):" before the feature list, which a clinician could not place).
 */
export function rhythmText(rhythm: EcgClass, factor: RhythmFactor): string {
  const top = factor.features
    .slice()
    .sort((a, b) => Math.abs(b.attribution) - Math.abs(a.attribution))
    .slice(0, 2)
    .map((f) => `${f.label} ${featureValue(f)} (${signed(f.attribution)})`);
  const verb = factor.attribution >= 0 ? 'raised' : 'lowered';
  return (
    `**Rhythm irregularity** (R-peak intervals) ${verb} "${ECG_CLASS_NAMES[rhythm]}" by ${Math.abs(factor.attribution).toFixed(2)} log-odds against a training-average rhythm — ` +
    `${top.join(', ')}; the shape of the tracing itself ${factor.signalAttribution >= 0 ? 'added' : 'took away'} ${Math.abs(factor.signalAttribution).toFixed(2)}.`
  );
}

export function rhythmSummary(rhythm: EcgClass, p: number): string {
  if (rhythm === '~') return `ECG not classified: the tracing looks too noisy (${formatPercent(p)})`;
  return `ECG rhythm: ${ECG_CLASS_NAMES[rhythm]} (${formatPercent(p)})`;
}

export function buildRhythmCard(input: RhythmCardInput): Card {
  const p = input.probabilities[input.rhythm];
  const lines: string[] = [];
  const when = input.recordedAt ? ` recorded ${formatTime(input.recordedAt)}` : '';
  lines.push(`Single-lead ECG${when}, ${seconds(Math.round(input.durationSeconds * 10) / 10)}, ${escapeMarkdown(input.leadPath)}${input.observationRef ? ` (\`${input.observationRef}\`)` : ''}.`);
  if (input.resampledFrom && input.resampledFrom !== input.modelRate) lines.push(`Resampled from ${input.resampledFrom} Hz to the model's ${input.modelRate} Hz.`);
  lines.push('', '| rhythm | probability |', '|---|---|');
  for (const c of ECG_CLASSES) lines.push(`| ${c === input.rhythm ? '**' : ''}${ECG_CLASS_NAMES[c]}${c === input.rhythm ? '**' : ''} | ${formatPercent(input.probabilities[c])} |`);
  if (input.rhythm === 'A') lines.push('', 'Suggests atrial fibrillation: please review the tracing; confirm on a 12-lead ECG before acting.');
  if (input.rhythm === '~') lines.push('', 'The model judged the recording too noisy to call a rhythm. Consider repeating the recording.');
  if (input.rhythmFactor) lines.push('', rhythmText(input.rhythm, input.rhythmFactor));
  const supporting = (input.segments ?? []).filter((s) => s.score > 0).slice(0, 3);
  if (supporting.length) {
    lines.push('', `**Stretches that drove "${ECG_CLASS_NAMES[input.rhythm]}" most:**`);
    for (const s of supporting) lines.push(`- ${segmentText(s, input.recordedAt)}`);
  } else if (input.explanationProblem) {
    lines.push('', `Explanation unavailable: ${escapeMarkdown(input.explanationProblem)}.`);
  }
  lines.push('', `Model ecg-rhythm v${input.modelVersion}; trained on 200 PhysioNet/CinC 2017 handheld recordings — see the model card for its limits.`);
  const links = [...(input.explanationId ? [explanationLink(input.baseUrl, input.explanationId)] : []), ...input.links];
  return createCard({
    uuid: input.cardUuid,
    summary: rhythmSummary(input.rhythm, p),
    indicator: input.rhythm === 'A' ? 'warning' : 'info',
    source: input.source,
    detail: lines.join('\n'),
    links,
  });
}

/**
 * The tracing could not be classified: say why, never guess a rhythm. With `explanation` (the stored record of
 * the tracing and the reasons), a link to the explanation view comes first, as on the rhythm card.
 */
export function cannotClassifyCard(opts: { reasons: readonly string[]; source: CardSource; links: CardLink[]; observationRef?: string; recordedAt?: string; explanation?: { baseUrl: string; id: string; cardUuid: string } }): Card {
  const lines = [
    `**The ECG${opts.recordedAt ? ` recorded ${formatTime(opts.recordedAt)}` : ''}${opts.observationRef ? ` (\`${opts.observationRef}\`)` : ''} could not be classified:**`,
    ...opts.reasons.map((r) => `- ${escapeMarkdown(r)}`),
    '',
    'No rhythm is shown because one computed from this tracing would not be trustworthy. Consider repeating the recording.',
  ];
  const links = [...(opts.explanation ? [explanationLink(opts.explanation.baseUrl, opts.explanation.id)] : []), ...opts.links];
  return createCard({
    ...(opts.explanation ? { uuid: opts.explanation.cardUuid } : {}),
    summary: 'ECG rhythm not classified: the tracing cannot be used',
    indicator: 'info',
    source: opts.source,
    detail: lines.join('\n'),
    links,
  });
}
