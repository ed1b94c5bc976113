/**
 * The NEWS2 card — CDS Hooks 2.0.1 §Card Attributes, §Suggestion, §Action, §Link
 * (https://cds-hooks.hl7.org/2.0/#card-attributes). Pure apart from the uuids createCard and
 * createSuggestion draw: the score, the readings behind it and the time go in; one card comes out.
 */
import type { Condition, ServiceRequest } from 'fhir/r4';
import { NEWS2_CODES, SNOMED, VIGIL_NEWS2_OVERRIDE_REASON } from '../../../fhir/codes.js';
import { absoluteLink, createCard, createSuggestion } from '../../cards.js';
import type { Card, CardSource, Coding, Indicator } from '../../types.js';
import { list, type Reading, type Rejection, type Selection } from './observations.js';
import { NEWS2_PARAMETERS, PARAMETER_LABELS, type ClinicalResponse, type ClinicalRisk, type News2Result } from './score.js';

export const RCP_NEWS2_URL = 'https://www.rcp.ac.uk/improving-care/resources/national-early-warning-score-news-2/';

export const NEWS2_SOURCE: CardSource = {
  label: 'Vigil · NEWS2 (RCP 2017)',
  url: RCP_NEWS2_URL,
  topic: { system: SNOMED, code: NEWS2_CODES.news2TotalScore, display: 'National Early Warning Score 2 total score' },
};

const RISK_TEXT: Record<ClinicalRisk, string> = {
  low: 'low',
  'low-medium': 'low–medium',
  medium: 'medium',
  high: 'high',
};

/** Short form of RCP chart 3 for the summary line. */
const RESPONSE_SHORT: Record<ClinicalResponse, string> = {
  routine: 'continue routine monitoring',
  'ward-based': 'registered nurse assessment',
  'urgent-ward-based': 'urgent ward-based response',
  urgent: 'urgent response',
  emergency: 'emergency assessment',
};

/** RCP chart 3 in Vigil's words: who responds, how fast, and how often to observe. */
const RESPONSE_DETAIL: Record<ClinicalResponse, string> = {
  routine: 'Continue routine NEWS2 monitoring, at least every 12 hours.',
  'ward-based':
    'A registered nurse should assess the patient and decide whether to observe more often or escalate care. Observe at least every 4–6 hours.',
  'urgent-ward-based':
    'One parameter scores 3: the registered nurse should inform the medical team, who review the patient and decide whether to escalate. Observe at least hourly.',
  urgent:
    'Key threshold for an urgent response: inform the medical team at once and arrange urgent assessment by a clinician competent in acute illness, in a setting with monitoring. Observe at least hourly.',
  emergency:
    'Emergency response threshold: inform the medical team at once (specialist registrar or above) for emergency assessment by a team with critical-care and airway skills; consider transfer to level 2/3 care. Monitor continuously.',
};

const INDICATOR: Record<ClinicalRisk, Indicator> = {
  low: 'info',
  'low-medium': 'warning',
  medium: 'warning',
  high: 'critical',
};

export const OVERRIDE_REASONS: Coding[] = [
  { system: VIGIL_NEWS2_OVERRIDE_REASON, code: 'already-under-review', display: 'Already under clinical review or escalated' },
  { system: VIGIL_NEWS2_OVERRIDE_REASON, code: 'palliative-care', display: 'Palliative or end-of-life care plan in place' },
  { system: VIGIL_NEWS2_OVERRIDE_REASON, code: 'chronic-baseline', display: "Values are this patient's chronic baseline" },
  { system: VIGIL_NEWS2_OVERRIDE_REASON, code: 'measurement-error', display: 'Reading believed to be wrong; re-measuring' },
];

export interface News2CardInput {
  result: News2Result;
  selection: Selection;
  patientId: string;
  now: Date;
  staleAfterMs: number;
  /** The Condition that put the patient on SpO2 scale 2, when it applies. */
  scale2Condition?: Condition;
  /** A scale 2 diagnosis not yet confirmed (so scale 1 was used), named on the card. */
  unconfirmedScale2Condition?: Condition;
}

/** "NEWS2 7 — high clinical risk: emergency assessment", with "(incomplete)" / "(stale data)" when so. */
export function news2Summary(result: News2Result, anyStale: boolean): string {
  const flags = [result.complete ? '' : 'incomplete', anyStale ? 'stale data' : ''].filter(Boolean);
  const qualifier = flags.length ? ` (${flags.join(', ')})` : '';
  return `NEWS2 ${result.total}${qualifier} — ${RISK_TEXT[result.risk]} clinical risk: ${RESPONSE_SHORT[result.response]}`;
}

/** Markdown table cells must not break the table or inject markup from resource data. */
function cell(text: string): string {
  return text.replace(/[\\`*_[\]<>|]/g, (c) => `\\${c}`).replace(/\s+/g, ' ');
}

export function formatAge(ms: number): string {
  const minutes = Math.round(ms / 60_000);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 48) return `${hours} h ago`;
  return `${Math.round(hours / 24)} d ago`;
}

function formatTime(iso: string): string {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return iso;
  return `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

function hours(ms: number): string {
  return `${Math.round((ms / 3_600_000) * 10) / 10} h`;
}

function staleReadings(selection: Selection): Reading[] {
  return NEWS2_PARAMETERS.map((p) => selection.readings[p]).filter((r): r is Reading => r?.stale === true);
}

const rcpLinks = () => [absoluteLink('RCP: National Early Warning Score (NEWS) 2', RCP_NEWS2_URL)];

function readingRow(reading: Reading, points: number, staleAfterMs: number): string {
  const when = `${formatTime(reading.effective)} (${formatAge(reading.ageMs)})${reading.stale ? ` ⚠ older than ${hours(staleAfterMs)}` : ''}`;
  return `| ${PARAMETER_LABELS[reading.parameter]} | ${cell(reading.display)} | ${when} | ${points} | ${cell(reading.reference ?? '—')} |`;
}

export function rejectionLine(r: Rejection): string {
  const where = [r.reference, r.effective ? formatTime(r.effective) : undefined].filter(Boolean).join(', ');
  return `- ${PARAMETER_LABELS[r.parameter]}${where ? ` (${cell(where)})` : ''}: ${cell(r.reason)}`;
}

export function news2Detail(input: News2CardInput): string {
  const { result, selection, staleAfterMs } = input;
  const lines: string[] = [];
  const scaleNote =
    result.scale === 2
      ? `SpO2 scale 2 (hypercapnic respiratory failure${input.scale2Condition?.id ? `: Condition/${cell(input.scale2Condition.id)}` : ''})`
      : input.unconfirmedScale2Condition
        ? `SpO2 scale 1 (hypercapnic respiratory failure is recorded as ${cell(list(input.unconfirmedScale2Condition.verificationStatus?.coding)[0]?.code ?? 'unconfirmed')}${input.unconfirmedScale2Condition.id ? `: Condition/${cell(input.unconfirmedScale2Condition.id)}` : ''}; scale 2 needs a confirmed diagnosis)`
        : 'SpO2 scale 1';
  lines.push(`**NEWS2 ${result.total}** · ${RISK_TEXT[result.risk]} clinical risk · ${scaleNote}`);
  lines.push('', RESPONSE_DETAIL[result.response], '');

  lines.push('| Parameter | Value | Time | Sub-score | Source |', '| --- | --- | --- | --- | --- |');
  for (const parameter of NEWS2_PARAMETERS) {
    const reading = selection.readings[parameter];
    const sub = result.subScores.find((s) => s.parameter === parameter);
    if (reading && sub) lines.push(readingRow(reading, sub.points, staleAfterMs));
    else lines.push(`| ${PARAMETER_LABELS[parameter]} | not recorded | — | — | — |`);
  }

  if (!result.complete) {
    const names = result.missing.map((p) => PARAMETER_LABELS[p]).join(', ');
    const n = result.missing.length;
    lines.push(
      '',
      `**Missing:** ${names}.`,
      '',
      `**Incomplete score:** ${n} of ${NEWS2_PARAMETERS.length} parameters ${n === 1 ? 'is' : 'are'} missing and ${n === 1 ? 'counts' : 'count'} as 0, so the true score may be higher.`,
    );
    if (result.scale === 2 && result.missing.includes('airOrOxygen') && !result.missing.includes('spo2')) {
      lines.push('', 'SpO2 was scored on the scale 2 air bands because oxygen use is not recorded.');
    }
  }
  const stale = staleReadings(selection);
  if (stale.length) {
    lines.push(
      '',
      `**Stale (older than ${hours(staleAfterMs)}):** ${stale.map((r) => `${PARAMETER_LABELS[r.parameter]} (${formatAge(r.ageMs)})`).join(', ')} — scored, but re-measure before acting on them.`,
    );
  }
  if (selection.rejected.length) {
    lines.push('', '**Readings not used:**', ...selection.rejected.map(rejectionLine));
  }
  return lines.join('\n');
}

function reviewRequest(input: News2CardInput): ServiceRequest {
  const { result, selection, patientId, now } = input;
  const high = result.risk === 'high';
  const supporting = NEWS2_PARAMETERS.map((p) => selection.readings[p]?.reference).filter((r): r is string => r !== undefined);
  return {
    resourceType: 'ServiceRequest',
    status: 'draft',
    intent: 'proposal',
    priority: high ? 'stat' : 'urgent',
    code: { text: high ? 'Emergency assessment by critical care outreach team' : 'Urgent clinical review' },
    subject: { reference: `Patient/${patientId}` },
    authoredOn: now.toISOString(),
    reasonCode: [{ text: `NEWS2 ${result.total}${result.complete ? '' : ' (incomplete)'} — ${RISK_TEXT[result.risk]} clinical risk` }],
    ...(supporting.length ? { supportingInfo: supporting.map((reference) => ({ reference })) } : {}),
  };
}

/** Builds the NEWS2 card: indicator from the risk band, detail table, and for medium/high a review request. */
export function buildNews2Card(input: News2CardInput): Card {
  const { result, selection } = input;
  const escalate = result.risk === 'medium' || result.risk === 'high';
  const suggestions = escalate
    ? [
        createSuggestion(
          result.risk === 'high' ? 'Request critical care outreach (emergency assessment)' : 'Request urgent clinical review',
          [{ type: 'create', description: 'Draft a review request for this patient', resource: reviewRequest(input) }],
          { isRecommended: true },
        ),
      ]
    : [];
  return createCard({
    summary: news2Summary(result, staleReadings(selection).length > 0),
    indicator: INDICATOR[result.risk],
    source: NEWS2_SOURCE,
    detail: news2Detail(input),
    suggestions,
    selectionBehavior: 'at-most-one',
    overrideReasons: result.risk === 'low' ? [] : OVERRIDE_REASONS,
    links: rcpLinks(),
  });
}

/** An info card for when no score can be given at all (no readings, or NEWS2 does not apply). */
export function news2NotAvailableCard(summary: string, detail: string): Card {
  return createCard({
    summary,
    indicator: 'info',
    source: NEWS2_SOURCE,
    detail,
    links: rcpLinks(),
  });
}
