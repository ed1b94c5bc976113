/**
 * The heart-disease card — CDS Hooks 2.0.1 §Card Attributes and §Link. Pure apart from the card uuid.
 * Indicator from the risk band (BAND_INDICATOR); on order-select the summary names the order it is about.
 */
import { createCard } from '../../cards.js';
import type { Card, CardLink } from '../../types.js';
import type { ModelManifest, Prediction } from '../../../models/index.js';
import type { ExplanationFactor, ExplanationMethod } from '../../../explanations/record.js';
import { cardFactors } from '../../../explanations/from-explain.js';
import { percentAgainstThreshold, thresholdPhrase } from '../../../explanations/percent.js';
import { BAND_WORDS, escapeMarkdown, explanationLink, factorLines, formatPercent, methodLine, modelCardLink, modelSource, thresholdLine } from '../../../explanations/risk-card.js';
import type { HeartInput } from '../../../models/data/uci-heart.js';

/** Clinical names of the 13 UCI inputs, for the "not in the work-up" line. */
export const HEART_LABELS: Readonly<Record<HeartInput, string>> = {
  age: 'Age',
  sex: 'Sex',
  cp: 'Chest pain type',
  trestbps: 'Resting systolic BP',
  chol: 'Cholesterol',
  fbs: 'Fasting glucose > 120 mg/dL',
  restecg: 'Resting ECG',
  thalach: 'Maximum heart rate on exercise',
  exang: 'Exercise-induced angina',
  oldpeak: 'ST depression on exercise',
  slope: 'Peak-exercise ST slope',
  ca: 'Vessels coloured by fluoroscopy',
  thal: 'Thallium scan',
};

export interface HeartCardInput {
  cardUuid: string;
  prediction: Prediction;
  manifest: ModelManifest;
  factors: readonly ExplanationFactor[];
  method?: ExplanationMethod;
  explanationProblem?: string;
  explanationId?: string;
  /** Inputs the work-up does not have (the model treats them as missing). */
  missing: readonly HeartInput[];
  notUsed: ReadonlyArray<{ reference?: string; reason: string }>;
  /** order-select: the display of the cardiology order(s) selected. */
  orders?: readonly string[];
  baseUrl: string;
  /** The EHR's FHIR base (request.fhirServer): factor evidence links to its Observations. */
  fhirServer?: string;
}

/**
 * The probability stated against the model's alert threshold (manifest thresholds), not by band name alone:
 * with the moderate cut-off at 53.7 %, "49.5 % — low" reads as high to a clinician. The model version goes
 * last and only when the whole still fits CDS Hooks' 140 characters (the source label carries it too).
 */
export function heartSummary(prediction: Prediction, manifest: ModelManifest, orders?: readonly string[]): string {
  const core = `Coronary disease probability ${percentAgainstThreshold(prediction.probability, manifest.thresholds, { short: true })}`;
  const summary = orders?.length ? `Before ${orders[0]!.toLowerCase()}: ${core}` : core;
  const versioned = `${summary} · ${manifest.id} v${manifest.version}`;
  return [...versioned].length < 140 ? versioned : summary;
}

export function heartDetail(input: HeartCardInput): string {
  const { prediction, manifest } = input;
  const lines = [
    `**Probability of angiographic coronary artery disease: ${formatPercent(prediction.probability)}**, ${thresholdPhrase(prediction.probability, manifest.thresholds)} (${BAND_WORDS[prediction.band]} band)`,
    '',
    thresholdLine(manifest),
    '',
    `Model: ${escapeMarkdown(manifest.title)} v${escapeMarkdown(manifest.version)} — ${escapeMarkdown(manifest.output.description)}.`,
    '',
  ];
  if (input.orders?.length) lines.push(`Shown because ${input.orders.map(escapeMarkdown).join(', ')} ${input.orders.length === 1 ? 'was' : 'were'} selected.`, '');
  const shown = cardFactors(input.factors);
  if (shown.length) {
    lines.push(
      `**What moved the probability most**${input.method?.baselineKind === 'normal' ? ' (compared with a normal work-up)' : ''}:`,
      ...factorLines(shown, input.fhirServer ? { fhirServer: input.fhirServer } : {}),
    );
    if (input.method) lines.push('', methodLine(input.method));
  } else if (input.explanationProblem) {
    lines.push(`Contributing factors are not available: ${escapeMarkdown(input.explanationProblem)}.`);
  }
  if (input.missing.length) {
    lines.push('', `**Not in the work-up:** ${input.missing.map((m) => HEART_LABELS[m]).join(', ')} — scored as missing, which the model was trained to handle; the probability is less certain.`);
  }
  if (input.notUsed.length) {
    lines.push('', '**Readings not used:**', ...input.notUsed.slice(0, 10).map((n) => `- ${n.reference ? `\`${n.reference}\`: ` : ''}${escapeMarkdown(n.reason)}`));
  }
  lines.push('', 'Decision support only: the probability informs, and never replaces, clinical judgement and guideline-directed testing.');
  return lines.join('\n');
}

export function buildHeartCard(input: HeartCardInput): Card {
  const links: CardLink[] = [];
  if (input.explanationId) links.push(explanationLink(input.baseUrl, input.explanationId));
  links.push(modelCardLink(input.baseUrl, input.manifest));
  return createCard({
    uuid: input.cardUuid,
    summary: heartSummary(input.prediction, input.manifest, input.orders),
    indicator: input.prediction.indicator,
    source: modelSource(input.manifest, input.baseUrl),
    detail: heartDetail(input),
    links,
  });
}
