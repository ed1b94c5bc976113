/**
 * vigil-news2: the NEWS2 early-warning score on patient-view (CDS Hooks 2.0.1 §Calling a CDS
 * Service; RCP NEWS2 2017). The handler only wires pure steps together: collect resources from the
 * prefetch → select readings → score → build the card. Missing or unusable data never fails the
 * call; it is reported on the card.
 */
import type { Condition, FhirResource, Observation, Patient } from 'fhir/r4';
import { HYPERCAPNIC_RESPIRATORY_FAILURE } from '../../../fhir/codes.js';
import type { CdsResponse, CdsService, HookInvocation } from '../../types.js';
import { buildNews2Card, news2NotAvailableCard, rejectionLine } from './card.js';
import { news2Definition, PREFETCH_KEYS } from './definition.js';
import { findScale2Condition, findUnconfirmedScale2Condition, inputsFrom, list, selectReadings, type ConditionCode } from './observations.js';
import { scoreNews2 } from './score.js';

export interface News2Options {
  /** Readings older than this are scored but flagged stale. Default 12 hours. */
  staleAfterMs?: number;
  /** Diagnoses that put a patient on SpO2 scale 2. Default: HYPERCAPNIC_RESPIRATORY_FAILURE (src/fhir/codes.ts). */
  scale2ConditionCodes?: readonly ConditionCode[];
  /** NEWS2 is validated for ages 16 and over (RCP 2017); younger patients get a not-applicable card. Default 16. */
  minimumAgeYears?: number;
}

export const DEFAULT_STALE_AFTER_MS = 12 * 3_600_000;

export interface PrefetchContents {
  patient: Patient | undefined;
  observations: Observation[];
  conditions: Condition[];
}

/** Flattens prefetch values (single resources or search Bundles) into the resources NEWS2 reads. */
export function collectPrefetch(prefetch: Record<string, FhirResource | null | undefined>): PrefetchContents {
  const out: PrefetchContents = { patient: undefined, observations: [], conditions: [] };
  const take = (resource: FhirResource | undefined): void => {
    switch (resource?.resourceType) {
      case 'Patient':
        out.patient ??= resource;
        break;
      case 'Observation':
        out.observations.push(resource);
        break;
      case 'Condition':
        out.conditions.push(resource);
        break;
    }
  };
  for (const value of Object.values(prefetch)) {
    if (value?.resourceType === 'Bundle') for (const entry of list(value.entry)) take(entry?.resource);
    else take(value ?? undefined);
  }
  return out;
}

/** Whole years between a FHIR date (YYYY, YYYY-MM or YYYY-MM-DD) and now; undefined when unparseable. */
export function ageInYears(birthDate: string | undefined, now: Date): number | undefined {
  const m = /^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$/.exec(birthDate ?? '');
  if (!m) return undefined;
  // A partial date is taken at its latest possible day so an age is never overstated.
  const year = Number(m[1]);
  const month = m[2] ? Number(m[2]) : 12;
  const day = m[3] ? Number(m[3]) : new Date(Date.UTC(year, month, 0)).getUTCDate();
  let age = now.getUTCFullYear() - year;
  const beforeBirthday = now.getUTCMonth() + 1 < month || (now.getUTCMonth() + 1 === month && now.getUTCDate() < day);
  if (beforeBirthday) age -= 1;
  return age;
}

export function createNews2Service(options: News2Options = {}): CdsService {
  const staleAfterMs = options.staleAfterMs ?? DEFAULT_STALE_AFTER_MS;
  const eligible = options.scale2ConditionCodes ?? HYPERCAPNIC_RESPIRATORY_FAILURE;
  const minimumAge = options.minimumAgeYears ?? 16;

  return {
    definition: news2Definition(eligible),
    // Only the patient is required: missing vitals make the score incomplete, not the call fail.
    requiredPrefetch: [PREFETCH_KEYS.patient],
    async handle(invocation: HookInvocation): Promise<CdsResponse> {
      const { now } = invocation;
      const { patient, observations, conditions } = collectPrefetch(invocation.prefetch);
      const patientId = patient?.id ?? String(invocation.request.context.patientId ?? '');

      const age = ageInYears(patient?.birthDate, now);
      if (age !== undefined && age < minimumAge) {
        return {
          cards: [
            news2NotAvailableCard(
              `NEWS2 not applicable: patient is under ${minimumAge}`,
              `NEWS2 is validated for patients aged ${minimumAge} and over. Use a paediatric early warning score instead.`,
            ),
          ],
        };
      }

      const selection = selectReadings(observations, { now, staleAfterMs });
      if (Object.keys(selection.readings).length === 0) {
        const rejected = selection.rejected.length
          ? ['', '', '**Readings not used:**', ...selection.rejected.map(rejectionLine)].join('\n')
          : '';
        return {
          cards: [
            news2NotAvailableCard(
              'NEWS2 not available: no usable vital signs recorded',
              `No respiration rate, SpO2, oxygen, blood pressure, pulse, consciousness or temperature reading was found for this patient.${rejected}`,
            ),
          ],
        };
      }

      const scale2Condition = findScale2Condition(conditions, eligible);
      const unconfirmedScale2 = scale2Condition ? undefined : findUnconfirmedScale2Condition(conditions, eligible);
      const result = scoreNews2(inputsFrom(selection), scale2Condition ? 2 : 1);
      return {
        cards: [
          buildNews2Card({
            result,
            selection,
            patientId,
            now,
            staleAfterMs,
            ...(scale2Condition ? { scale2Condition } : {}),
            ...(unconfirmedScale2 ? { unconfirmedScale2Condition: unconfirmedScale2 } : {}),
          }),
        ],
      };
    },
  };
}
