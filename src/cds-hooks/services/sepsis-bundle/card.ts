/**
 * The vigil-sepsis-bundle card (CDS Hooks 2.0.1 §Card Attributes): what is missing from the hour-1
 * bundle, with one suggestion per missing investigation that adds it to the orders being signed (a
 * `create` action of a draft ServiceRequest) and override reasons for feedback. Pure.
 */
import type { ServiceRequest } from 'fhir/r4';
import { LOINC, VIGIL_SEPSIS_BUNDLE_OVERRIDE_REASON } from '../../../fhir/codes.js';
import type { ModelManifest, Prediction } from '../../../models/index.js';
import { formatPercent } from '../../../explanations/percent.js';
import { formatTime, modelCardLink } from '../../../explanations/risk-card.js';
import { absoluteLink, createCard, createSuggestion } from '../../cards.js';
import type { Card, CardSuggestion, Coding } from '../../types.js';
import { horizonOf } from '../deterioration/card.js';
import type { BundleItemId, Coverage } from './bundle-items.js';

export const SEPSIS_BUNDLE_OVERRIDE_REASONS: Coding[] = [
  { system: VIGIL_SEPSIS_BUNDLE_OVERRIDE_REASON, code: 'taken-not-recorded', display: 'Already taken; not yet in the record' },
  { system: VIGIL_SEPSIS_BUNDLE_OVERRIDE_REASON, code: 'sepsis-not-suspected', display: 'Sepsis not clinically suspected' },
  { system: VIGIL_SEPSIS_BUNDLE_OVERRIDE_REASON, code: 'goals-of-care', display: 'Not in line with the goals of care' },
];

/** Levy, Evans, Rhodes. The Surviving Sepsis Campaign Bundle: 2018 Update. Crit Care Med 2018;46(6):997–1000. */
export const HOUR_1_BUNDLE_URL = 'https://doi.org/10.1097/CCM.0000000000003119';

const ORDERABLE: Record<BundleItemId, { code: string; display: string; label: string; note?: string }> = {
  lactate: { code: '2524-7', display: 'Lactate [Moles/volume] in Serum or Plasma', label: 'Add a lactate to these orders' },
  'blood-cultures': {
    code: '600-7',
    display: 'Bacteria identified in Blood by Culture',
    label: 'Add blood cultures (two sets) to these orders',
    note: 'Two sets from separate sites, before the first antibiotic dose.',
  },
};

export interface SepsisBundleCardInput {
  prediction: Prediction;
  manifest: ModelManifest;
  coverage: readonly Coverage[];
  patientId: string;
  encounterId?: string;
  userId?: string;
  now: Date;
  baseUrl: string;
}

/** Whether the card has anything to ask for. */
export function needsAction(coverage: readonly Coverage[]): boolean {
  return coverage.some((c) => c.status === 'missing' || c.status === 'repeat-due');
}

function statusText(c: Coverage): string {
  switch (c.status) {
    case 'in-this-order':
      return 'in the orders being signed';
    case 'resulted':
      return `resulted ${formatTime(c.at)} (${c.reference})`;
    case 'ordered':
      return `ordered ${formatTime(c.at)} (${c.reference})`;
    case 'repeat-due':
      return `**due again**: ${c.value.toFixed(1)} mmol/L at ${formatTime(c.at)} (${c.reference}) is above ${c.item.repeat!.above} mmol/L and over ${c.item.repeat!.afterHours} h old`;
    case 'missing':
      return `**none** in the last ${c.item.lookBackHours} h, resulted or ordered`;
  }
}

function summaryOf(prediction: Prediction, coverage: readonly Coverage[]): string {
  const wanted = coverage.filter((c) => c.status === 'missing' || c.status === 'repeat-due');
  const words = wanted.map((c) => (c.status === 'repeat-due' ? 'a repeat lactate' : c.item.id === 'lactate' ? 'a lactate' : 'blood cultures'));
  return `Sepsis risk high (${formatPercent(prediction.probability)}): consider ${words.join(' and ')} before signing`;
}

function draftRequest(id: BundleItemId, input: SepsisBundleCardInput): ServiceRequest {
  const orderable = ORDERABLE[id];
  return {
    resourceType: 'ServiceRequest',
    status: 'draft',
    intent: 'order',
    priority: 'stat',
    code: { coding: [{ system: LOINC, code: orderable.code, display: orderable.display }], text: orderable.display },
    subject: { reference: `Patient/${input.patientId}` },
    ...(input.encounterId ? { encounter: { reference: `Encounter/${input.encounterId}` } } : {}),
    ...(input.userId ? { requester: { reference: input.userId } } : {}),
    authoredOn: input.now.toISOString(),
    reasonCode: [{ text: `Sepsis risk ${formatPercent(input.prediction.probability)} within ${horizonOf(input.manifest)} h (high band, ${input.manifest.id} v${input.manifest.version})` }],
    ...(orderable.note ? { note: [{ text: orderable.note }] } : {}),
  };
}

export function buildSepsisBundleCard(input: SepsisBundleCardInput): Card {
  const { prediction, manifest, coverage } = input;
  const suggestions: CardSuggestion[] = coverage
    .filter((c) => c.status === 'missing' || c.status === 'repeat-due')
    .map((c) =>
      createSuggestion(ORDERABLE[c.item.id].label, [{ type: 'create', description: `Draft a stat ${ORDERABLE[c.item.id].display} order`, resource: draftRequest(c.item.id, input) }], {
        isRecommended: true,
      }),
    );
  const detail = [
    `**Sepsis risk ${formatPercent(prediction.probability)} within ${horizonOf(manifest)} h — high band** (${manifest.id} v${manifest.version}, the same score as the vigil-deterioration card).`,
    '',
    'The hour-1 sepsis bundle starts with a lactate and blood cultures taken **before** antibiotics. For this patient:',
    '',
    '| Investigation | Status |',
    '|---|---|',
    ...coverage.map((c) => `| ${c.item.label} | ${statusText(c)} |`),
    '',
    'If an antibiotic is among the orders being signed, take the cultures first unless that would delay it.',
    '',
    'Decision support only: a probability informs, and never replaces, bedside assessment and the local sepsis protocol.',
  ].join('\n');
  return createCard({
    summary: summaryOf(prediction, coverage),
    indicator: 'warning',
    source: { label: 'Vigil · sepsis hour-1 bundle check', url: HOUR_1_BUNDLE_URL },
    detail,
    suggestions,
    selectionBehavior: 'any',
    overrideReasons: SEPSIS_BUNDLE_OVERRIDE_REASONS,
    links: [absoluteLink('Surviving Sepsis Campaign hour-1 bundle (2018)', HOUR_1_BUNDLE_URL), modelCardLink(input.baseUrl, manifest)],
  });
}
