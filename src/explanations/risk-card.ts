/**
 * The parts every model-risk card shares (CDS Hooks 2.0.1 §Card Attributes, §Link): probability and band
 * wording, the threshold line, the factor list, the SMART link to the explanation view and the absolute
 * link to the model card, and the two cards for "no score" (model unavailable; model could not score).
 * Pure apart from the uuids createCard draws.
 */
import { absoluteLink, createCard, smartLink } from '../cds-hooks/cards.js';
import type { Card, CardLink, CardSource } from '../cds-hooks/types.js';
import type { ModelManifest, RiskBand } from '../models/index.js';
import { formatPercent, formatPoints } from './percent.js';
import type { ExplanationFactor, ExplanationMethod } from './record.js';

export { formatPercent, formatPoints };

export const BAND_WORDS: Readonly<Record<RiskBand, string>> = { low: 'low', moderate: 'moderate', high: 'high' };

/** Markdown text from FHIR data must not break tables or inject markup. */
export function escapeMarkdown(text: string): string {
  return text.replace(/[\\`*_[\]<>|#]/g, (c) => `\\${c}`).replace(/\s+/g, ' ');
}

/** "2026-01-01 03:00 UTC". */
export function formatTime(iso: string): string {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return iso;
  return `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** The band cut-offs as the card explains them, with the rule that chose them on the validation split. */
export function thresholdLine(manifest: ModelManifest): string {
  const { moderate, high, rule } = manifest.thresholds;
  return `Bands: high ≥ ${formatPercent(high)}, moderate ≥ ${formatPercent(moderate)}, otherwise low. ${escapeMarkdown(rule)}`;
}

/** The EHR's FHIR base as a link target, only when it is a plain http(s) URL (it comes from the request). */
function linkBase(fhirServer: string | undefined): string | undefined {
  if (!fhirServer) return undefined;
  try {
    const url = new URL(fhirServer);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
    return url.href.replace(/\/+$/, '');
  } catch {
    return undefined;
  }
}

/**
 * A reference as markdown (CDS Hooks §Card detail is GitHub-flavoured markdown): a link to
 * `<fhirServer>/<Type>/<id>` when the EHR named its FHIR server, else the reference in code style.
 */
export function referenceMarkdown(reference: string, fhirServer?: string): string {
  const base = linkBase(fhirServer);
  const [type, id] = reference.split('/', 2);
  if (!base || !type || !id || !/^[A-Za-z]+$/.test(type)) return `\`${reference.replace(/`/g, '')}\``;
  // Parentheses would end the markdown link target early; encodeURIComponent leaves them as they are.
  const target = encodeURIComponent(id).replace(/[()]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `[${escapeMarkdown(reference)}](${base}/${type}/${target})`;
}

/** One bullet per factor, strongest first, each linked to (up to three of) its Observations. */
export function factorLines(factors: readonly ExplanationFactor[], options: { fhirServer?: string } = {}): string[] {
  return factors.map((f) => {
    const refs = f.evidence.slice(0, 3).map((r) => referenceMarkdown(r, options.fhirServer)).join(', ');
    return `- ${escapeMarkdown(f.text)}${refs ? ` (${refs})` : ''}`;
  });
}

/** The line under the factors: method, baseline, steps and completeness error (and whether it converged). */
export function methodLine(method: ExplanationMethod): string {
  const steps = method.steps ? `, ${method.steps} steps` : '';
  // The tolerance the record was computed against (1 % unless configured otherwise).
  const target = `${Number(((method.tolerance ?? 0.01) * 100).toPrecision(2))} %`;
  const delta = method.convergenceDelta === undefined ? '' : `; completeness error ${(method.convergenceDelta * 100).toFixed(1)} %${method.converged === false ? ` (step budget reached before ${target})` : ''}`;
  const when = method.computed === 'cache' && method.explainedAt ? `; computed ahead of time at ${formatTime(method.explainedAt)} on the same data` : '';
  return `_Factors: ${escapeMarkdown(method.name.replace(/-/g, ' '))} against ${escapeMarkdown(method.baseline)}${steps}${delta}${when}._`;
}

export function modelSource(manifest: Pick<ModelManifest, 'id' | 'version' | 'title'>, baseUrl: string): CardSource {
  return { label: `Vigil · ${manifest.title} v${manifest.version}`, url: modelCardUrl(baseUrl, manifest.id) };
}

export function modelCardUrl(baseUrl: string, modelId: string): string {
  return `${baseUrl}/models/${encodeURIComponent(modelId)}/card`;
}

/**
 * The explanation view is a SMART app: the EHR launches `<base>/app/launch` and hands it appContext
 * (§Link appContext), here the explanation id the view fetches from /explanations/{id}.
 */
export function explanationLink(baseUrl: string, explanationId: string): CardLink {
  return smartLink('Why this score? (explanation)', `${baseUrl}/app/launch`, JSON.stringify({ explanationId }));
}

export function modelCardLink(baseUrl: string, manifest: Pick<ModelManifest, 'id' | 'version'>): CardLink {
  return absoluteLink(`Model card: ${manifest.id} v${manifest.version}`, modelCardUrl(baseUrl, manifest.id));
}

/** The model is not loaded: no score, and the card says so plainly rather than the hook failing. */
export function modelUnavailableCard(opts: { modelTitle: string; serviceLabel: string; reason: string }): Card {
  return createCard({
    summary: `${opts.modelTitle}: model unavailable — no risk score this time`,
    indicator: 'info',
    source: { label: opts.serviceLabel },
    detail: `The risk model could not be used (${escapeMarkdown(opts.reason)}). No score was computed; this says nothing about the patient's risk. Please inform the Vigil administrators if this persists.`,
  });
}

/** The model is loaded but this patient's data cannot be scored: say why, never guess. */
export function cannotScoreCard(opts: {
  summary: string;
  reasons: readonly string[];
  notUsed?: ReadonlyArray<{ reference?: string; reason: string }>;
  source: CardSource;
  links?: CardLink[];
}): Card {
  const lines = ['**The model could not score this patient:**', ...opts.reasons.map((r) => `- ${escapeMarkdown(r)}`)];
  if (opts.notUsed?.length) {
    lines.push('', '**Readings not used:**', ...opts.notUsed.slice(0, 20).map((n) => `- ${n.reference ? `\`${n.reference}\`: ` : ''}${escapeMarkdown(n.reason)}`));
    if (opts.notUsed.length > 20) lines.push(`- … and ${opts.notUsed.length - 20} more`);
  }
  lines.push('', 'No probability is shown because one computed from these data would not be trustworthy.');
  return createCard({ summary: opts.summary, indicator: 'info', source: opts.source, detail: lines.join('\n'), ...(opts.links ? { links: opts.links } : {}) });
}
