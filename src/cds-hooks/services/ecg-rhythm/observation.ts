/**
 * Finds the ECG waveform in FHIR data (pure): the newest usable ECG Observation, and in it the lead to
 * classify — Observation.valueSampledData, else the component for lead I (MDC 131329; the model was trained
 * on a lead-I-like handheld lead), else the first component with a SampledData value.
 */
import type { Bundle, FhirResource, Observation, SampledData } from 'fhir/r4';
import { ECG_CODES, LOINC, MDC } from '../../../fhir/codes.js';

const USABLE_STATUSES: ReadonlySet<string> = new Set(['final', 'amended', 'corrected', 'preliminary']);

function isEcgCode(o: Observation): boolean {
  return (o.code?.coding ?? []).some(
    (c) => (c.system === LOINC && c.code === ECG_CODES.ekgStudy) || (c.system === MDC && (c.code === ECG_CODES.mdcEcgPotential || c.code === ECG_CODES.mdcLeadI)),
  );
}

export function timeOf(o: Observation): string | undefined {
  return o.effectiveDateTime ?? o.effectivePeriod?.start ?? o.effectiveInstant ?? o.issued;
}

/** Usable ECG Observations from a prefetch value (a Bundle or one resource), newest first. */
export function ecgObservations(value: FhirResource | null | undefined): Observation[] {
  if (!value) return [];
  const resources = value.resourceType === 'Bundle' ? ((value as Bundle).entry ?? []).map((e) => e?.resource).filter((r): r is FhirResource => r !== undefined) : [value];
  return resources
    .filter((r): r is Observation => r.resourceType === 'Observation' && USABLE_STATUSES.has(r.status) && isEcgCode(r))
    .sort((a, b) => (Date.parse(timeOf(b) ?? '') || 0) - (Date.parse(timeOf(a) ?? '') || 0));
}

export interface EcgLead {
  sampledData: SampledData;
  /** "Observation.valueSampledData" or "component[i] (lead I)". */
  path: string;
  lead?: string;
}

const LEAD_NAMES: Readonly<Record<string, string>> = { [ECG_CODES.mdcLeadI]: 'I', [ECG_CODES.mdcLeadII]: 'II', [ECG_CODES.mdcLeadIII]: 'III' };

export function pickLead(o: Observation): EcgLead | undefined {
  if (o.valueSampledData) return { sampledData: o.valueSampledData, path: 'Observation.valueSampledData', lead: 'I' };
  const components = (o.component ?? []).map((c, i) => ({ c, i })).filter(({ c }) => c.valueSampledData);
  const leadCode = (i: number) => (o.component![i]!.code?.coding ?? []).find((c) => c.system === MDC && LEAD_NAMES[c.code ?? ''])?.code;
  const chosen = components.find(({ i }) => leadCode(i) === ECG_CODES.mdcLeadI) ?? components[0];
  if (!chosen) return undefined;
  const code = leadCode(chosen.i);
  const lead = code ? LEAD_NAMES[code] : undefined;
  return { sampledData: chosen.c.valueSampledData!, path: `Observation.component[${chosen.i}]${lead ? ` (lead ${lead})` : ''}`, ...(lead ? { lead } : {}) };
}
