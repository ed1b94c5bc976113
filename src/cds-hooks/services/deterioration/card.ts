/**
 * The vigil-deterioration card — CDS Hooks 2.0.1 §Card Attributes and §Link. Pure apart from the card
 * uuid: prediction, factors and data summary in; one card out. The indicator is the risk band's
 * (BAND_INDICATOR: low → info, moderate → warning, high → critical), bands from the manifest thresholds.
 */
import { createCard } from '../../cards.js';
import type { Card, CardLink } from '../../types.js';
import type { ModelManifest, Prediction } from '../../../models/index.js';
import type { ExplanationFactor, ExplanationMethod } from '../../../explanations/record.js';
import { cardFactors } from '../../../explanations/from-explain.js';
import {
  BAND_WORDS,
  escapeMarkdown,
  explanationLink,
  factorLines,
  formatPercent,
  formatTime,
  methodLine,
  modelCardLink,
  modelSource,
  thresholdLine,
} from '../../../explanations/risk-card.js';
import type { NotUsed } from './assess.js';

export interface DeteriorationCardInput {
  /** The card's uuid, decided before the record is stored so the record can name its card. */
  cardUuid: string;
  prediction: Prediction;
  manifest: ModelManifest;
  factors: readonly ExplanationFactor[];
  method: ExplanationMethod | undefined;
  /** Why there are no factors, when the explainer failed. */
  explanationProblem?: string;
  /** Set when the explanation record was stored (the view link needs it). */
  explanationId?: string;
  measuredCells: number;
  hoursWithData: number;
  windowHours: number;
  latestVital?: string;
  notUsed: readonly NotUsed[];
  baseUrl: string;
  /** The EHR's FHIR base (request.fhirServer): factor evidence links to its Observations. */
  fhirServer?: string;
}

export function horizonOf(manifest: ModelManifest): number {
  return manifest.output.horizonHours ?? 6;
}

/** "Sepsis risk 7.3 % within 6 h — high (deterioration v1.1.0)". */
export function deteriorationSummary(prediction: Prediction, manifest: ModelManifest): string {
  return `Sepsis risk ${formatPercent(prediction.probability)} within ${horizonOf(manifest)} h — ${BAND_WORDS[prediction.band]} (${manifest.id} v${manifest.version})`;
}

export function deteriorationDetail(input: DeteriorationCardInput): string {
  const { prediction, manifest } = input;
  const lines = [
    `**Probability of sepsis onset within ${horizonOf(manifest)} hours: ${formatPercent(prediction.probability)}** · ${BAND_WORDS[prediction.band]} risk band`,
    '',
    thresholdLine(manifest),
    '',
    `Model: ${escapeMarkdown(manifest.title)} v${escapeMarkdown(manifest.version)} — ${escapeMarkdown(manifest.output.description)}.`,
    '',
  ];
  const shown = cardFactors(input.factors);
  if (shown.length) {
    lines.push(`**What moved the score most**${input.method?.baselineKind === 'normal' ? ' (compared with normal physiology)' : ''}:`, ...factorLines(shown, input.fhirServer ? { fhirServer: input.fhirServer } : {}));
    if (input.method) lines.push('', methodLine(input.method));
  } else if (input.explanationProblem) {
    lines.push(`Contributing factors are not available: ${escapeMarkdown(input.explanationProblem)}.`);
  } else {
    lines.push('No single measurement moved the score by 0.1 percentage point or more.');
  }
  lines.push(
    '',
    `Data: ${input.measuredCells} measured values in ${input.hoursWithData} of the last ${input.windowHours} hours` +
      `${input.latestVital ? `; latest vital sign ${formatTime(input.latestVital)}` : ''}.`,
  );
  if (input.notUsed.length) {
    lines.push('', '**Readings not used:**', ...input.notUsed.slice(0, 10).map((n) => `- ${n.reference ? `\`${n.reference}\`: ` : ''}${escapeMarkdown(n.reason)}`));
    if (input.notUsed.length > 10) lines.push(`- … and ${input.notUsed.length - 10} more`);
  }
  lines.push('', 'Decision support only: a probability informs, and never replaces, bedside assessment and the local sepsis screening protocol.');
  return lines.join('\n');
}

export function buildDeteriorationCard(input: DeteriorationCardInput): Card {
  const links: CardLink[] = [];
  if (input.explanationId) links.push(explanationLink(input.baseUrl, input.explanationId));
  links.push(modelCardLink(input.baseUrl, input.manifest));
  return createCard({
    uuid: input.cardUuid,
    summary: deteriorationSummary(input.prediction, input.manifest),
    indicator: input.prediction.indicator,
    source: modelSource(input.manifest, input.baseUrl),
    detail: deteriorationDetail(input),
    links,
  });
}
