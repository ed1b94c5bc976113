/**
 * Model cards (Mitchell et al. 2019, "Model Cards for Model Reporting") carrying the 31 source
 * attributes for predictive decision support interventions of ONC HTI-1, 45 CFR 170.315(b)(11)(iv)(B)
 * (groups (1)–(9)). The same card is written as card.json next to the weights, for the explanation view,
 * and rendered to docs/models/<id>.md.
 */
import type { BinaryReport, Interval } from './metrics.js';
import type { EvaluationReport } from './report.js';

/** The 31 predictive-DSI source attributes, keyed, with the regulation's paragraph. */
export const HTI1_ATTRIBUTES = [
  ['developer', '(1)(i)', 'Name and contact information of the developer'],
  ['funding', '(1)(ii)', 'Funding source of the development'],
  ['outputValue', '(1)(iii)', 'Value the output produces'],
  ['outputType', '(1)(iv)', 'Type of output (prediction, classification, recommendation, …)'],
  ['intendedUse', '(2)(i)', 'Intended use'],
  ['intendedPopulation', '(2)(ii)', 'Intended patient population(s)'],
  ['intendedUsers', '(2)(iii)', 'Intended user(s)'],
  ['decisionRole', '(2)(iv)', 'Intended decision-making role (informs, augments, replaces)'],
  ['cautionedUse', '(3)(i)', 'Tasks, situations or populations where use is cautioned against'],
  ['knownRisks', '(3)(ii)', 'Known risks, inappropriate settings or uses, known limitations'],
  ['inclusionExclusion', '(4)(i)', 'Inclusion and exclusion criteria that shaped the training data'],
  ['demographicInputs', '(4)(ii)', 'Use of race, ethnicity, language, sexual orientation, gender identity, sex, date of birth, social determinants or health status assessments as inputs'],
  ['demographicRepresentativeness', '(4)(iii)', 'Demographic representativeness of the training data'],
  ['trainingRelevance', '(4)(iv)', 'Relevance of the training data to the intended deployment setting'],
  ['fairnessApproach', '(5)(i)', 'Approach taken to make the output fair'],
  ['biasManagement', '(5)(ii)', 'Approaches to manage, reduce or eliminate bias'],
  ['externalDataSource', '(6)(i)', 'Data source or setting of external validation'],
  ['externalTester', '(6)(ii)', 'Party that conducted external testing'],
  ['externalRepresentativeness', '(6)(iii)', 'Demographic representativeness of the external data'],
  ['externalProcess', '(6)(iv)', 'External validation process'],
  ['internalValidity', '(7)(i)', 'Validity in test data from the training source'],
  ['internalFairness', '(7)(ii)', 'Fairness in test data from the training source'],
  ['externalValidity', '(7)(iii)', 'Validity in external data'],
  ['externalFairness', '(7)(iv)', 'Fairness in external data'],
  ['outcomeEvaluations', '(7)(v)', 'References to evaluations of effect on outcomes'],
  ['validityMonitoring', '(8)(i)', 'How and how often validity is monitored over time'],
  ['localValidity', '(8)(ii)', 'Validity in local data'],
  ['fairnessMonitoring', '(8)(iii)', 'How and how often fairness is monitored over time'],
  ['localFairness', '(8)(iv)', 'Fairness in local data'],
  ['updateProcess', '(9)(i)', 'How and how often the intervention is updated'],
  ['correctionFrequency', '(9)(ii)', 'How often performance is corrected when validity or fairness risks are found'],
] as const;

export type Hti1Key = (typeof HTI1_ATTRIBUTES)[number][0];

export interface ModelCard {
  id: string;
  version: string;
  title: string;
  summary: string;
  /** Narrative sections of the card (Markdown). */
  sections: {
    intendedUse: string;
    outOfScope: string;
    data: string;
    training: string;
    limits: string;
  };
  /** Figures copied from metrics.json by the training CLI. */
  metricsTable: Array<{ model: string; report: BinaryReport }>;
  subgroups: EvaluationReport;
  extraFindings: string[];
  calibrationSvg: string;
  hti1: Array<{ key: Hti1Key; paragraph: string; attribute: string; value: string }>;
  generatedAt: string;
}

export function buildHti1(values: Record<Hti1Key, string>): ModelCard['hti1'] {
  return HTI1_ATTRIBUTES.map(([key, paragraph, attribute]) => ({ key, paragraph, attribute, value: values[key] }));
}

export function fmt(x: number, digits = 3): string {
  return Number.isFinite(x) ? x.toFixed(digits) : 'n/a';
}

export function fmtInterval(i: Interval): string {
  return `${fmt(i.estimate)} (95 % CI ${fmt(i.lower)}–${fmt(i.upper)})`;
}

function reportRow(name: string, r: BinaryReport): string {
  return `| ${name} | ${r.n} | ${r.positives} | ${fmtInterval(r.auroc)} | ${fmtInterval(r.auprc)} | ${fmt(r.brier)} | ${fmt(r.calibration.slope, 2)} | ${fmt(r.calibration.intercept, 2)} |`;
}

const TABLE_HEAD = '| | n | events | AUROC | AUPRC | Brier | cal. slope | cal. intercept |\n|---|---|---|---|---|---|---|---|';

/** What every model card's prose is made of, binary or multiclass. */
export type CardText = Pick<ModelCard, 'id' | 'version' | 'title' | 'summary' | 'sections' | 'hti1' | 'generatedAt'>;

/** Title, provenance note, summary and the intended-use / out-of-scope / data / training sections. */
export function cardOpening(card: CardText, noteSuffix = ''): string[] {
  return [
    `# Model card: ${card.title} (\`${card.id}\` ${card.version})`,
    '',
    `> Generated by \`npm run train -- --model ${card.id}\` on ${card.generatedAt}. Every figure below is copied from`,
    `> \`models/${card.id}/metrics.json\`, written by the same run; do not edit numbers by hand.${noteSuffix}`,
    '',
    card.summary,
    '',
    '## Intended use',
    card.sections.intendedUse,
    '',
    '## Out of scope',
    card.sections.outOfScope,
    '',
    '## Data',
    card.sections.data,
    '',
    '## Training',
    card.sections.training,
    '',
  ];
}

/** Known limits and the ONC HTI-1 source-attribute table that close every card. */
export function cardClosing(card: CardText): string[] {
  return [
    '## Known limits',
    card.sections.limits,
    '',
    '## ONC HTI-1 source attributes (45 CFR 170.315(b)(11)(iv)(B))',
    '| § | attribute | value |',
    '|---|---|---|',
    ...card.hti1.map((a) => `| ${a.paragraph} | ${a.attribute} | ${a.value.replace(/\|/g, '\\|').replace(/\n/g, ' ')} |`),
    '',
  ];
}

export function renderModelCardMarkdown(card: ModelCard): string {
  const sub = [
    ...Object.entries(card.subgroups.bySex),
    ...Object.entries(card.subgroups.byAgeBand),
  ];
  return [
    ...cardOpening(card),
    '## Performance on the held-out test patients',
    TABLE_HEAD,
    ...card.metricsTable.map((m) => reportRow(m.model, m.report)),
    '',
    ...card.extraFindings.map((f) => `- ${f}`),
    '',
    '### Subgroups (primary model)',
    TABLE_HEAD,
    ...sub.map(([g, r]) => reportRow(g, r)),
    '',
    '### Calibration',
    `Reliability diagram of the primary model on the test split: [reliability.svg](../../models/${card.id}/reliability.svg).`,
    'Calibration slope is from the logistic recalibration logit(P(y)) = a + b·logit(p); intercept is calibration-in-the-large (slope fixed at 1).',
    '',
    ...cardClosing(card),
  ].join('\n');
}
