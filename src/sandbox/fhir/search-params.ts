/**
 * The resource types the sandbox FHIR server holds and, per type, the search parameters it supports,
 * each with a hand-written typed extractor. Names, types and paths follow the R4 SearchParameter
 * registry (https://hl7.org/fhir/R4/searchparameter-registry.html); the CapabilityStatement is
 * generated from this table, so it lists exactly what the server does.
 *
 * Extractors run once per write, so a search never evaluates FHIRPath.
 */
import type {
  AllergyIntolerance,
  AuditEvent,
  CarePlan,
  CareTeam,
  Claim,
  Coverage,
  Device,
  DocumentReference,
  ExplanationOfBenefit,
  Goal,
  Group,
  ImagingStudy,
  Immunization,
  Location,
  Medication,
  MedicationAdministration,
  PractitionerRole,
  Provenance,
  Condition,
  DiagnosticReport,
  Encounter,
  HumanName,
  Identifier,
  MedicationRequest,
  Observation,
  Organization,
  Patient,
  Practitioner,
  Procedure,
  Reference,
  Resource,
  RiskAssessment,
  ServiceRequest,
} from 'fhir/r4';
import {
  codeToken,
  conceptTokens,
  codingTokens,
  dateValues,
  identifierTokens,
  periodValues,
  referencesOfType,
  referenceValues,
  stringValues,
  type DateRange,
  type ReferenceValue,
  type StringValue,
  type TokenValue,
} from './search-values.js';

interface ParamBase {
  name: string;
  /** Shown in the CapabilityStatement. */
  documentation: string;
}

export type SearchParamDef<T> =
  | (ParamBase & { type: 'token'; extract(resource: T): TokenValue[] })
  | (ParamBase & { type: 'reference'; targets: readonly string[]; extract(resource: T): ReferenceValue[] })
  | (ParamBase & { type: 'date'; extract(resource: T): DateRange[] })
  | (ParamBase & { type: 'string'; extract(resource: T): StringValue[] });

export type SearchParamType = SearchParamDef<Resource>['type'];

export interface ResourceSearchDef {
  readonly type: string;
  readonly params: ReadonlyMap<string, SearchParamDef<Resource>>;
  /** Ids of the patients whose compartment the resource is in (used for access decisions). */
  patientIds(resource: Resource): string[];
}

const HL7 = 'http://hl7.org/fhir';

function define<T extends Resource>(
  type: T['resourceType'],
  params: Array<SearchParamDef<T>>,
  patientRefs: (resource: T) => ReferenceValue[],
): ResourceSearchDef {
  const all: Array<SearchParamDef<T>> = [
    ...params,
    {
      name: '_lastUpdated',
      type: 'date',
      documentation: 'When the resource version last changed (meta.lastUpdated)',
      extract: (r) => dateValues(r.meta?.lastUpdated),
    },
  ];
  // The store only ever hands a definition resources of its own type, so widening T here is sound.
  const widened = all as unknown as Array<SearchParamDef<Resource>>;
  const byPatient = patientRefs as (resource: Resource) => ReferenceValue[];
  return {
    type,
    params: new Map(widened.map((p) => [p.name, p])),
    patientIds: (r) => byPatient(r).map((v) => v.id),
  };
}

// Parameter builders shared by several resource types.

function identifier<T extends { identifier?: Identifier[] }>(): SearchParamDef<T> {
  return { name: 'identifier', type: 'token', documentation: 'A business identifier (system|value)', extract: (r) => identifierTokens(r.identifier) };
}

function subjectParams<T>(get: (r: T) => Reference | undefined, targets: readonly string[]): Array<SearchParamDef<T>> {
  return [
    {
      name: 'patient',
      type: 'reference',
      targets: ['Patient'],
      documentation: 'The subject, when it is a Patient',
      extract: (r) => referencesOfType('Patient', referenceValues(get(r))),
    },
    { name: 'subject', type: 'reference', targets, documentation: 'Who or what the resource is about', extract: (r) => referenceValues(get(r)) },
  ];
}

function encounterParam<T extends { encounter?: Reference }>(): SearchParamDef<T> {
  return { name: 'encounter', type: 'reference', targets: ['Encounter'], documentation: 'The encounter it belongs to', extract: (r) => referenceValues(r.encounter) };
}

function statusParam<T extends { status?: string }>(system: string): SearchParamDef<T> {
  return { name: 'status', type: 'token', documentation: 'Status', extract: (r) => codeToken(r.status, system) };
}

function nameStrings(names: HumanName[] | undefined): StringValue[] {
  return stringValues(...(names ?? []).flatMap((n) => [n.text, n.family, n.given, n.prefix, n.suffix]));
}

function humanNameParams<T extends { name?: HumanName[] }>(): Array<SearchParamDef<T>> {
  return [
    { name: 'name', type: 'string', documentation: 'Any part of a name (text, family, given, prefix, suffix)', extract: (r) => nameStrings(r.name) },
    { name: 'family', type: 'string', documentation: 'Family name', extract: (r) => stringValues(...(r.name ?? []).map((n) => n.family)) },
    { name: 'given', type: 'string', documentation: 'Given names', extract: (r) => stringValues(...(r.name ?? []).map((n) => n.given)) },
  ];
}

const SUBJECTS = ['Patient', 'Group', 'Device', 'Location'] as const;

const patientDef = define<Patient>(
  'Patient',
  [
    identifier(),
    ...humanNameParams<Patient>(),
    { name: 'birthdate', type: 'date', documentation: 'Date of birth', extract: (r) => dateValues(r.birthDate) },
    { name: 'gender', type: 'token', documentation: 'Administrative gender', extract: (r) => codeToken(r.gender, `${HL7}/administrative-gender`) },
    { name: 'active', type: 'token', documentation: 'Whether the record is in active use', extract: (r) => codeToken(r.active) },
    {
      name: 'address',
      type: 'string',
      documentation: 'Any part of an address',
      extract: (r) =>
        stringValues(...(r.address ?? []).flatMap((a) => [a.text, a.line, a.city, a.district, a.state, a.postalCode, a.country])),
    },
    {
      name: 'telecom',
      type: 'token',
      documentation: 'Contact point value (system|value)',
      extract: (r) => (r.telecom ?? []).flatMap((t) => (t.value === undefined ? [] : [{ system: t.system, code: t.value }])),
    },
    {
      name: 'general-practitioner',
      type: 'reference',
      targets: ['Practitioner', 'Organization', 'PractitionerRole'],
      documentation: 'Nominated primary care provider',
      extract: (r) => referenceValues(r.generalPractitioner),
    },
    { name: 'organization', type: 'reference', targets: ['Organization'], documentation: 'Managing organisation', extract: (r) => referenceValues(r.managingOrganization) },
  ],
  (r) => (r.id === undefined ? [] : [{ type: 'Patient', id: r.id }]),
);

const observationDef = define<Observation>(
  'Observation',
  [
    identifier(),
    ...subjectParams<Observation>((r) => r.subject, SUBJECTS),
    encounterParam(),
    { name: 'code', type: 'token', documentation: 'The kind of observation (system|code)', extract: (r) => conceptTokens(r.code) },
    { name: 'category', type: 'token', documentation: 'Classification (e.g. vital-signs, laboratory)', extract: (r) => conceptTokens(r.category) },
    statusParam<Observation>(`${HL7}/observation-status`),
    {
      name: 'date',
      type: 'date',
      documentation: 'Clinically relevant time (effective[x])',
      extract: (r) => [...dateValues(r.effectiveDateTime, r.effectiveInstant), ...periodValues(r.effectivePeriod)],
    },
    {
      name: 'component-code',
      type: 'token',
      documentation: 'Code of a component (e.g. systolic within a blood-pressure panel)',
      extract: (r) => conceptTokens(...(r.component ?? []).map((c) => c.code)),
    },
    {
      name: 'combo-code',
      type: 'token',
      documentation: 'Code of the observation or of any component',
      extract: (r) => conceptTokens(r.code, ...(r.component ?? []).map((c) => c.code)),
    },
    {
      name: 'performer',
      type: 'reference',
      targets: ['Practitioner', 'PractitionerRole', 'Organization', 'CareTeam', 'Patient', 'RelatedPerson'],
      documentation: 'Who performed the observation',
      extract: (r) => referenceValues(r.performer),
    },
    { name: 'based-on', type: 'reference', targets: ['ServiceRequest', 'CarePlan', 'MedicationRequest'], documentation: 'The order fulfilled', extract: (r) => referenceValues(r.basedOn) },
  ],
  (r) => referencesOfType('Patient', referenceValues(r.subject)),
);

const encounterDef = define<Encounter>(
  'Encounter',
  [
    identifier(),
    ...subjectParams<Encounter>((r) => r.subject, ['Patient', 'Group']),
    statusParam<Encounter>(`${HL7}/encounter-status`),
    { name: 'class', type: 'token', documentation: 'Inpatient, ambulatory, emergency…', extract: (r) => codingTokens(r.class ? [r.class] : undefined) },
    { name: 'type', type: 'token', documentation: 'Specific type of encounter', extract: (r) => conceptTokens(r.type) },
    { name: 'date', type: 'date', documentation: 'The encounter period', extract: (r) => periodValues(r.period) },
    {
      name: 'participant',
      type: 'reference',
      targets: ['Practitioner', 'PractitionerRole', 'RelatedPerson'],
      documentation: 'Persons involved',
      extract: (r) => referenceValues(...(r.participant ?? []).map((p) => p.individual)),
    },
    {
      name: 'practitioner',
      type: 'reference',
      targets: ['Practitioner'],
      documentation: 'Practitioners involved',
      extract: (r) => referencesOfType('Practitioner', referenceValues(...(r.participant ?? []).map((p) => p.individual))),
    },
    { name: 'service-provider', type: 'reference', targets: ['Organization'], documentation: 'The responsible organisation', extract: (r) => referenceValues(r.serviceProvider) },
    { name: 'reason-code', type: 'token', documentation: 'Why the encounter takes place', extract: (r) => conceptTokens(r.reasonCode) },
  ],
  (r) => referencesOfType('Patient', referenceValues(r.subject)),
);

const conditionDef = define<Condition>(
  'Condition',
  [
    identifier(),
    ...subjectParams<Condition>((r) => r.subject, ['Patient', 'Group']),
    encounterParam(),
    { name: 'code', type: 'token', documentation: 'The condition', extract: (r) => conceptTokens(r.code) },
    { name: 'category', type: 'token', documentation: 'problem-list-item, encounter-diagnosis…', extract: (r) => conceptTokens(r.category) },
    { name: 'clinical-status', type: 'token', documentation: 'active, resolved…', extract: (r) => conceptTokens(r.clinicalStatus) },
    { name: 'verification-status', type: 'token', documentation: 'confirmed, provisional…', extract: (r) => conceptTokens(r.verificationStatus) },
    { name: 'severity', type: 'token', documentation: 'Subjective severity', extract: (r) => conceptTokens(r.severity) },
    {
      name: 'onset-date',
      type: 'date',
      documentation: 'Onset (onsetDateTime or onsetPeriod)',
      extract: (r) => [...dateValues(r.onsetDateTime), ...periodValues(r.onsetPeriod)],
    },
    {
      name: 'abatement-date',
      type: 'date',
      documentation: 'Abatement (abatementDateTime or abatementPeriod)',
      extract: (r) => [...dateValues(r.abatementDateTime), ...periodValues(r.abatementPeriod)],
    },
    { name: 'recorded-date', type: 'date', documentation: 'When first recorded', extract: (r) => dateValues(r.recordedDate) },
  ],
  (r) => referencesOfType('Patient', referenceValues(r.subject)),
);

function orderParams<T extends MedicationRequest | ServiceRequest>(): Array<SearchParamDef<T>> {
  return [
    identifier(),
    ...subjectParams<T>((r) => r.subject, ['Patient', 'Group']),
    encounterParam(),
    { name: 'category', type: 'token', documentation: 'Classification of the order', extract: (r) => conceptTokens(r.category) },
    { name: 'intent', type: 'token', documentation: 'proposal, plan, order…', extract: (r) => codeToken(r.intent, `${HL7}/request-intent`) },
    { name: 'priority', type: 'token', documentation: 'routine, urgent, asap, stat', extract: (r) => codeToken(r.priority, `${HL7}/request-priority`) },
    {
      name: 'requester',
      type: 'reference',
      targets: ['Practitioner', 'PractitionerRole', 'Organization', 'Patient', 'RelatedPerson', 'Device'],
      documentation: 'Who asked for it',
      extract: (r) => referenceValues(r.requester),
    },
  ];
}

const medicationRequestDef = define<MedicationRequest>(
  'MedicationRequest',
  [
    ...orderParams<MedicationRequest>(),
    statusParam<MedicationRequest>(`${HL7}/CodeSystem/medicationrequest-status`),
    { name: 'code', type: 'token', documentation: 'Medication code (medicationCodeableConcept)', extract: (r) => conceptTokens(r.medicationCodeableConcept) },
    { name: 'medication', type: 'reference', targets: ['Medication'], documentation: 'Medication resource', extract: (r) => referenceValues(r.medicationReference) },
    { name: 'authoredon', type: 'date', documentation: 'When the prescription was written', extract: (r) => dateValues(r.authoredOn) },
  ],
  (r) => referencesOfType('Patient', referenceValues(r.subject)),
);

const serviceRequestDef = define<ServiceRequest>(
  'ServiceRequest',
  [
    ...orderParams<ServiceRequest>(),
    statusParam<ServiceRequest>(`${HL7}/request-status`),
    { name: 'code', type: 'token', documentation: 'What is being requested', extract: (r) => conceptTokens(r.code) },
    { name: 'authored', type: 'date', documentation: 'When the request was signed', extract: (r) => dateValues(r.authoredOn) },
    {
      name: 'occurrence',
      type: 'date',
      documentation: 'When the service should happen',
      extract: (r) => [...dateValues(r.occurrenceDateTime), ...periodValues(r.occurrencePeriod)],
    },
  ],
  (r) => referencesOfType('Patient', referenceValues(r.subject)),
);

function auditPatients(r: AuditEvent): ReferenceValue[] {
  return referencesOfType('Patient', [
    ...referenceValues(...(r.agent ?? []).map((a) => a.who)),
    ...referenceValues(...(r.entity ?? []).map((e) => e.what)),
  ]);
}

const auditEventDef = define<AuditEvent>(
  'AuditEvent',
  [
    { name: 'date', type: 'date', documentation: 'When the event was recorded', extract: (r) => dateValues(r.recorded) },
    { name: 'type', type: 'token', documentation: 'Event type', extract: (r) => codingTokens([r.type]) },
    { name: 'subtype', type: 'token', documentation: 'Event subtype', extract: (r) => codingTokens(r.subtype) },
    { name: 'action', type: 'token', documentation: 'C, R, U, D or E', extract: (r) => codeToken(r.action, `${HL7}/audit-event-action`) },
    { name: 'outcome', type: 'token', documentation: '0, 4, 8 or 12', extract: (r) => codeToken(r.outcome, `${HL7}/audit-event-outcome`) },
    {
      name: 'agent',
      type: 'reference',
      targets: ['Practitioner', 'PractitionerRole', 'Organization', 'Device', 'Patient', 'RelatedPerson'],
      documentation: 'Who took part',
      extract: (r) => referenceValues(...(r.agent ?? []).map((a) => a.who)),
    },
    { name: 'entity', type: 'reference', targets: ['Resource'], documentation: 'What was used', extract: (r) => referenceValues(...(r.entity ?? []).map((e) => e.what)) },
    { name: 'patient', type: 'reference', targets: ['Patient'], documentation: 'A Patient agent or entity', extract: auditPatients },
    { name: 'source', type: 'reference', targets: ['Practitioner', 'PractitionerRole', 'Organization', 'Device', 'Patient', 'RelatedPerson'], documentation: 'The reporting system', extract: (r) => referenceValues(r.source.observer) },
    { name: 'site', type: 'token', documentation: 'Logical source location', extract: (r) => codeToken(r.source.site) },
  ],
  auditPatients,
);

const practitionerDef = define<Practitioner>(
  'Practitioner',
  [
    identifier(),
    ...humanNameParams<Practitioner>(),
    { name: 'active', type: 'token', documentation: 'Whether the record is in active use', extract: (r) => codeToken(r.active) },
  ],
  () => [],
);

const organizationDef = define<Organization>(
  'Organization',
  [
    identifier(),
    { name: 'name', type: 'string', documentation: 'Name or alias', extract: (r) => stringValues(r.name, r.alias) },
    { name: 'type', type: 'token', documentation: 'Kind of organisation', extract: (r) => conceptTokens(r.type) },
    { name: 'active', type: 'token', documentation: 'Whether the record is in active use', extract: (r) => codeToken(r.active) },
  ],
  () => [],
);

const diagnosticReportDef = define<DiagnosticReport>(
  'DiagnosticReport',
  [
    identifier(),
    ...subjectParams<DiagnosticReport>((r) => r.subject, SUBJECTS),
    encounterParam(),
    { name: 'code', type: 'token', documentation: 'The report code', extract: (r) => conceptTokens(r.code) },
    { name: 'category', type: 'token', documentation: 'Service category', extract: (r) => conceptTokens(r.category) },
    statusParam<DiagnosticReport>(`${HL7}/diagnostic-report-status`),
    {
      name: 'date',
      type: 'date',
      documentation: 'Clinically relevant time (effective[x])',
      extract: (r) => [...dateValues(r.effectiveDateTime), ...periodValues(r.effectivePeriod)],
    },
    { name: 'issued', type: 'date', documentation: 'When the report was released', extract: (r) => dateValues(r.issued) },
    { name: 'result', type: 'reference', targets: ['Observation'], documentation: 'Result observations', extract: (r) => referenceValues(r.result) },
  ],
  (r) => referencesOfType('Patient', referenceValues(r.subject)),
);

const procedureDef = define<Procedure>(
  'Procedure',
  [
    identifier(),
    ...subjectParams<Procedure>((r) => r.subject, ['Patient', 'Group']),
    encounterParam(),
    { name: 'code', type: 'token', documentation: 'The procedure', extract: (r) => conceptTokens(r.code) },
    { name: 'category', type: 'token', documentation: 'Classification of the procedure', extract: (r) => conceptTokens(r.category) },
    statusParam<Procedure>(`${HL7}/event-status`),
    {
      name: 'date',
      type: 'date',
      documentation: 'When it was performed (performed[x])',
      extract: (r) => [...dateValues(r.performedDateTime), ...periodValues(r.performedPeriod)],
    },
  ],
  (r) => referencesOfType('Patient', referenceValues(r.subject)),
);

const riskAssessmentDef = define<RiskAssessment>(
  'RiskAssessment',
  [
    identifier(),
    ...subjectParams<RiskAssessment>((r) => r.subject, ['Patient', 'Group']),
    encounterParam(),
    statusParam<RiskAssessment>(`${HL7}/observation-status`),
    {
      name: 'date',
      type: 'date',
      documentation: 'When the assessment was made (occurrence[x])',
      extract: (r) => [...dateValues(r.occurrenceDateTime), ...periodValues(r.occurrencePeriod)],
    },
    { name: 'method', type: 'token', documentation: 'Evaluation mechanism', extract: (r) => conceptTokens(r.method) },
    {
      name: 'risk',
      type: 'token',
      documentation: 'Qualitative risk of a prediction',
      extract: (r) => conceptTokens(...(r.prediction ?? []).map((p) => p.qualitativeRisk)),
    },
    { name: 'condition', type: 'reference', targets: ['Condition'], documentation: 'Condition assessed', extract: (r) => referenceValues(r.condition) },
    { name: 'performer', type: 'reference', targets: ['Practitioner', 'PractitionerRole', 'Device'], documentation: 'Who did the assessment', extract: (r) => referenceValues(r.performer) },
  ],
  (r) => referencesOfType('Patient', referenceValues(r.subject)),
);

// Further types found in Synthea and EHR exports, so whole patient records load; fewer parameters each.

const patientOnly = (ref: Reference | undefined): ReferenceValue[] => referencesOfType('Patient', referenceValues(ref));

function patientParam<T>(get: (r: T) => Reference | undefined): SearchParamDef<T> {
  return { name: 'patient', type: 'reference', targets: ['Patient'], documentation: 'The patient', extract: (r) => patientOnly(get(r)) };
}

function dateParam<T>(name: string, documentation: string, get: (r: T) => DateRange[]): SearchParamDef<T> {
  return { name, type: 'date', documentation, extract: get };
}

function tokenParam<T>(name: string, documentation: string, get: (r: T) => TokenValue[]): SearchParamDef<T> {
  return { name, type: 'token', documentation, extract: get };
}

function referenceParam<T>(name: string, targets: readonly string[], documentation: string, get: (r: T) => ReferenceValue[]): SearchParamDef<T> {
  return { name, type: 'reference', targets, documentation, extract: get };
}

const immunizationDef = define<Immunization>(
  'Immunization',
  [
    identifier(),
    patientParam((r) => r.patient),
    tokenParam('vaccine-code', 'Vaccine product', (r) => conceptTokens(r.vaccineCode)),
    statusParam<Immunization>(`${HL7}/event-status`),
    dateParam('date', 'When given (occurrence[x])', (r) => dateValues(r.occurrenceDateTime)),
  ],
  (r) => patientOnly(r.patient),
);

const allergyDef = define<AllergyIntolerance>(
  'AllergyIntolerance',
  [
    identifier(),
    patientParam((r) => r.patient),
    tokenParam('code', 'The substance or class', (r) => conceptTokens(r.code)),
    tokenParam('clinical-status', 'active, inactive, resolved', (r) => conceptTokens(r.clinicalStatus)),
    tokenParam('verification-status', 'unconfirmed, confirmed…', (r) => conceptTokens(r.verificationStatus)),
    tokenParam('category', 'food, medication, environment, biologic', (r) => (r.category ?? []).flatMap((c) => codeToken(c, `${HL7}/allergy-intolerance-category`))),
    tokenParam('criticality', 'low, high, unable-to-assess', (r) => codeToken(r.criticality, `${HL7}/allergy-intolerance-criticality`)),
    dateParam('date', 'When recorded', (r) => dateValues(r.recordedDate)),
  ],
  (r) => patientOnly(r.patient),
);

const carePlanDef = define<CarePlan>(
  'CarePlan',
  [
    identifier(),
    ...subjectParams<CarePlan>((r) => r.subject, ['Patient', 'Group']),
    encounterParam(),
    tokenParam('category', 'Type of plan', (r) => conceptTokens(r.category)),
    statusParam<CarePlan>(`${HL7}/request-status`),
    tokenParam('intent', 'proposal, plan, order, option', (r) => codeToken(r.intent, `${HL7}/request-intent`)),
    dateParam('date', 'Period covered', (r) => periodValues(r.period)),
  ],
  (r) => patientOnly(r.subject),
);

const careTeamDef = define<CareTeam>(
  'CareTeam',
  [
    identifier(),
    ...subjectParams<CareTeam>((r) => r.subject, ['Patient', 'Group']),
    encounterParam(),
    tokenParam('category', 'Type of team', (r) => conceptTokens(r.category)),
    statusParam<CareTeam>(`${HL7}/care-team-status`),
    dateParam('date', 'Period the team is active', (r) => periodValues(r.period)),
  ],
  (r) => patientOnly(r.subject),
);

const goalDef = define<Goal>(
  'Goal',
  [
    identifier(),
    ...subjectParams<Goal>((r) => r.subject, ['Patient', 'Group', 'Organization']),
    tokenParam('lifecycle-status', 'proposed, active, completed…', (r) => codeToken(r.lifecycleStatus, `${HL7}/goal-status`)),
    tokenParam('category', 'Type of goal', (r) => conceptTokens(r.category)),
    dateParam('start-date', 'When the goal starts', (r) => dateValues(r.startDate)),
  ],
  (r) => patientOnly(r.subject),
);

const claimDef = define<Claim>(
  'Claim',
  [
    identifier(),
    patientParam((r) => r.patient),
    statusParam<Claim>(`${HL7}/fm-status`),
    tokenParam('use', 'claim, preauthorization, predetermination', (r) => codeToken(r.use, `${HL7}/claim-use`)),
    dateParam('created', 'Creation date', (r) => dateValues(r.created)),
  ],
  (r) => patientOnly(r.patient),
);

const eobDef = define<ExplanationOfBenefit>(
  'ExplanationOfBenefit',
  [
    identifier(),
    patientParam((r) => r.patient),
    statusParam<ExplanationOfBenefit>(`${HL7}/explanationofbenefit-status`),
    dateParam('created', 'Creation date', (r) => dateValues(r.created)),
    referenceParam('claim', ['Claim'], 'The claim', (r) => referenceValues(r.claim)),
  ],
  (r) => patientOnly(r.patient),
);

const coverageDef = define<Coverage>(
  'Coverage',
  [
    identifier(),
    patientParam((r) => r.beneficiary),
    referenceParam('beneficiary', ['Patient'], 'Plan beneficiary', (r) => referenceValues(r.beneficiary)),
    referenceParam('payor', ['Organization', 'Patient', 'RelatedPerson'], 'Issuer of the policy', (r) => referenceValues(r.payor)),
    statusParam<Coverage>(`${HL7}/fm-status`),
    tokenParam('type', 'Kind of coverage', (r) => conceptTokens(r.type)),
  ],
  (r) => patientOnly(r.beneficiary),
);

const imagingStudyDef = define<ImagingStudy>(
  'ImagingStudy',
  [
    identifier(),
    ...subjectParams<ImagingStudy>((r) => r.subject, ['Patient', 'Group', 'Device']),
    encounterParam(),
    statusParam<ImagingStudy>(`${HL7}/imagingstudy-status`),
    dateParam('started', 'When the study started', (r) => dateValues(r.started)),
    tokenParam('modality', 'Modality of a series', (r) => codingTokens((r.series ?? []).map((s) => s.modality))),
  ],
  (r) => patientOnly(r.subject),
);

const medicationDef = define<Medication>(
  'Medication',
  [
    identifier(),
    tokenParam('code', 'Medication code', (r) => conceptTokens(r.code)),
    statusParam<Medication>(`${HL7}/CodeSystem/medication-status`),
  ],
  () => [],
);

const medicationAdministrationDef = define<MedicationAdministration>(
  'MedicationAdministration',
  [
    identifier(),
    ...subjectParams<MedicationAdministration>((r) => r.subject, ['Patient', 'Group']),
    referenceParam('context', ['Encounter', 'EpisodeOfCare'], 'Encounter or episode', (r) => referenceValues(r.context)),
    tokenParam('code', 'Medication code', (r) => conceptTokens(r.medicationCodeableConcept)),
    referenceParam('medication', ['Medication'], 'Medication resource', (r) => referenceValues(r.medicationReference)),
    referenceParam('request', ['MedicationRequest'], 'The order', (r) => referenceValues(r.request)),
    statusParam<MedicationAdministration>(`${HL7}/CodeSystem/medication-admin-status`),
    dateParam('effective-time', 'When given (effective[x])', (r) => [...dateValues(r.effectiveDateTime), ...periodValues(r.effectivePeriod)]),
  ],
  (r) => patientOnly(r.subject),
);

const locationDef = define<Location>(
  'Location',
  [
    identifier(),
    { name: 'name', type: 'string', documentation: 'Name or alias', extract: (r) => stringValues(r.name, r.alias) },
    tokenParam('type', 'Kind of location', (r) => conceptTokens(r.type)),
    statusParam<Location>(`${HL7}/location-status`),
    referenceParam('organization', ['Organization'], 'Managing organisation', (r) => referenceValues(r.managingOrganization)),
  ],
  () => [],
);

const deviceDef = define<Device>(
  'Device',
  [
    identifier(),
    patientParam((r) => r.patient),
    tokenParam('type', 'Kind of device', (r) => conceptTokens(r.type)),
    statusParam<Device>(`${HL7}/device-status`),
  ],
  (r) => patientOnly(r.patient),
);

const documentReferenceDef = define<DocumentReference>(
  'DocumentReference',
  [
    identifier(),
    ...subjectParams<DocumentReference>((r) => r.subject, ['Patient', 'Practitioner', 'Group', 'Device']),
    referenceParam('encounter', ['Encounter', 'EpisodeOfCare'], 'Context of the document', (r) => referenceValues(r.context?.encounter)),
    tokenParam('type', 'Kind of document', (r) => conceptTokens(r.type)),
    tokenParam('category', 'Categorisation of the document', (r) => conceptTokens(r.category)),
    statusParam<DocumentReference>(`${HL7}/document-reference-status`),
    dateParam('date', 'When the reference was created', (r) => dateValues(r.date)),
    dateParam('period', 'Time of service documented', (r) => periodValues(r.context?.period)),
  ],
  (r) => patientOnly(r.subject),
);

const provenanceDef = define<Provenance>(
  'Provenance',
  [
    referenceParam('target', ['Resource'], 'The resources recorded', (r) => referenceValues(r.target)),
    { name: 'patient', type: 'reference', targets: ['Patient'], documentation: 'A Patient target', extract: (r) => referencesOfType('Patient', referenceValues(r.target)) },
    referenceParam('agent', ['Practitioner', 'PractitionerRole', 'Organization', 'Device', 'Patient', 'RelatedPerson'], 'Who took part', (r) => referenceValues(...r.agent.map((a) => a.who))),
    dateParam('recorded', 'When recorded', (r) => dateValues(r.recorded)),
  ],
  (r) => referencesOfType('Patient', referenceValues(r.target)),
);

const practitionerRoleDef = define<PractitionerRole>(
  'PractitionerRole',
  [
    identifier(),
    referenceParam('practitioner', ['Practitioner'], 'The practitioner', (r) => referenceValues(r.practitioner)),
    referenceParam('organization', ['Organization'], 'Where the role is held', (r) => referenceValues(r.organization)),
    tokenParam('role', 'The role', (r) => conceptTokens(r.code)),
    tokenParam('specialty', 'Specialty', (r) => conceptTokens(r.specialty)),
    { name: 'active', type: 'token', documentation: 'Whether the record is in active use', extract: (r) => codeToken(r.active) },
  ],
  () => [],
);

/**
 * Groups (cohorts a Bulk Data group export names, bulk-export.ts). A group spans many patients, so it is
 * in no single patient's compartment: patient-scoped tokens cannot read it.
 */
const groupDef = define<Group>(
  'Group',
  [
    identifier(),
    referenceParam('member', ['Patient', 'Practitioner', 'PractitionerRole', 'Device', 'Medication', 'Substance', 'Group'], 'A member of the group', (r) =>
      referenceValues(...(r.member ?? []).map((m) => m.entity)),
    ),
    tokenParam('type', 'person, animal, device…', (r) => codeToken(r.type, `${HL7}/group-type`)),
    tokenParam('code', 'The kind of members', (r) => conceptTokens(r.code)),
    tokenParam('actual', 'Whether members are enumerated', (r) => codeToken(r.actual)),
    referenceParam('managing-entity', ['Organization', 'RelatedPerson', 'Practitioner', 'PractitionerRole'], 'Who manages the group', (r) => referenceValues(r.managingEntity)),
  ],
  () => [],
);

/**
 * Parameters the store filters on but does not index: a handful of distinct values (an index entry
 * would hold most of the table and never be the most selective), or a superset of an indexed one.
 */
export const UNINDEXED_PARAMS: ReadonlySet<string> = new Set([
  'status',
  'category',
  'gender',
  'active',
  'intent',
  'priority',
  'class',
  'clinical-status',
  'verification-status',
  'severity',
  'action',
  'outcome',
  'site',
  'criticality',
  'lifecycle-status',
  'use',
  'modality',
  'combo-code',
  'component-code',
  '_lastUpdated',
]);

/** Every resource type the store holds, with its search parameters. */
export const SEARCH_DEFS: ReadonlyMap<string, ResourceSearchDef> = new Map(
  [
    patientDef,
    encounterDef,
    observationDef,
    conditionDef,
    medicationRequestDef,
    serviceRequestDef,
    auditEventDef,
    practitionerDef,
    organizationDef,
    diagnosticReportDef,
    procedureDef,
    riskAssessmentDef,
    immunizationDef,
    allergyDef,
    carePlanDef,
    careTeamDef,
    goalDef,
    claimDef,
    eobDef,
    coverageDef,
    imagingStudyDef,
    medicationDef,
    medicationAdministrationDef,
    locationDef,
    deviceDef,
    documentReferenceDef,
    provenanceDef,
    practitionerRoleDef,
    groupDef,
  ].map((d) => [d.type, d]),
);

