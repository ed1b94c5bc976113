/**
 * Which sepsis hour-1 bundle investigations are still missing at order signing. Pure.
 *
 * The Surviving Sepsis Campaign hour-1 bundle (Levy, Evans & Rhodes, Crit Care Med 2018; kept in the
 * 2021 guidelines) starts with: measure lactate (re-measure if above 2 mmol/L), and obtain blood cultures
 * before antibiotics. An item counts as done when, inside its look-back window, there is a result
 * (Observation), an order that is not cancelled or in error (ServiceRequest), or a draft order among the
 * ones being signed. Look-backs: lactate 6 h (a value older than that no longer describes the current
 * state); blood cultures 24 h (cultures drawn today still cover an antibiotic started now). A lactate above
 * 2 mmol/L is due again 2 h after it was taken unless a newer lactate was ordered (the bundle's re-measure).
 */
import type { FhirResource, Observation, ServiceRequest } from 'fhir/r4';
import { LABS, LOINC } from '../../../fhir/codes.js';

/** LOINC: lactate in serum/plasma (2524-7) and in blood (32693-4), moles/volume; 2518-9 arterial blood. */
export const LACTATE_CODES = [LABS.lactate, LABS.lactateBlood, '2518-9'] as const;
/** LOINC 600-7: Bacteria identified in Blood by Culture. */
export const BLOOD_CULTURE_CODES = ['600-7'] as const;

export type BundleItemId = 'lactate' | 'blood-cultures';

export interface BundleItem {
  id: BundleItemId;
  label: string;
  codes: readonly string[];
  lookBackHours: number;
  /** Re-measure a result above `above` (in `unit`) once it is `afterHours` old. */
  repeat?: { above: number; unit: string; afterHours: number };
}

export const BUNDLE_ITEMS: readonly BundleItem[] = [
  { id: 'lactate', label: 'Lactate', codes: LACTATE_CODES, lookBackHours: 6, repeat: { above: 2, unit: 'mmol/L', afterHours: 2 } },
  { id: 'blood-cultures', label: 'Blood cultures', codes: BLOOD_CULTURE_CODES, lookBackHours: 24 },
];

/** How an item is covered, for the card's detail. */
export type Coverage =
  | { item: BundleItem; status: 'resulted'; at: string; reference: string }
  | { item: BundleItem; status: 'repeat-due'; at: string; reference: string; value: number }
  | { item: BundleItem; status: 'ordered'; at: string; reference: string }
  | { item: BundleItem; status: 'in-this-order' }
  | { item: BundleItem; status: 'missing' };

export interface BundleEvidence {
  /** Resources in context.draftOrders. */
  draftOrders: readonly FhirResource[];
  /** The patient's ServiceRequests (any codes; filtered here). */
  orders: readonly ServiceRequest[];
  /** The patient's Observations (any codes; filtered here). */
  observations: readonly Observation[];
  now: Date;
}

const HOUR_MS = 3_600_000;
const RESULT_STATUSES = new Set(['preliminary', 'final', 'amended', 'corrected']);
// A request that was revoked or entered in error never happened; draft/active/on-hold/completed count.
const ORDER_STATUSES = new Set(['draft', 'active', 'on-hold', 'completed']);

function hasLoinc(concept: { coding?: Array<{ system?: string; code?: string }> } | undefined, codes: readonly string[]): boolean {
  return (concept?.coding ?? []).some((c) => c.system === LOINC && c.code !== undefined && codes.includes(c.code));
}

function observationTime(o: Observation): string | undefined {
  return o.effectiveDateTime ?? o.effectivePeriod?.start ?? o.effectiveInstant ?? o.issued;
}

// Clocks of the EHR, the lab and Vigil differ by a little; beyond that, a future time is a data error.
const CLOCK_SKEW_MS = 5 * 60_000;

/** The newest time among candidates inside [since, now + skew]. */
function newestWithin<T>(candidates: readonly T[], timeOf: (c: T) => string | undefined, since: number, now: number): { value: T; at: string } | undefined {
  let best: { value: T; at: string; ms: number } | undefined;
  for (const value of candidates) {
    const at = timeOf(value);
    if (at === undefined) continue;
    const ms = Date.parse(at);
    if (!Number.isFinite(ms) || ms < since || ms > now + CLOCK_SKEW_MS) continue;
    if (!best || ms > best.ms) best = { value, at, ms };
  }
  return best && { value: best.value, at: best.at };
}

/** UCUM mmol/L, or mg/dL converted (lactate 90.08 g/mol: 1 mmol/L = 9.008 mg/dL); other units: unknown. */
function lactateMmolPerL(o: Observation): number | undefined {
  const q = o.valueQuantity;
  if (q?.value === undefined || !Number.isFinite(q.value)) return undefined;
  const unit = q.code ?? q.unit;
  if (unit === 'mmol/L') return q.value;
  if (unit === 'mg/dL') return q.value / 9.008;
  return undefined;
}

export function coverageOf(item: BundleItem, evidence: BundleEvidence): Coverage {
  const now = evidence.now.getTime();
  const since = now - item.lookBackHours * HOUR_MS;
  const inDraft = evidence.draftOrders.some((r) => r.resourceType === 'ServiceRequest' && r.status !== 'revoked' && r.status !== 'entered-in-error' && hasLoinc(r.code, item.codes));
  if (inDraft) return { item, status: 'in-this-order' };
  const result = newestWithin(
    evidence.observations.filter((o) => RESULT_STATUSES.has(o.status) && hasLoinc(o.code, item.codes)),
    observationTime,
    since,
    now,
  );
  const order = newestWithin(
    evidence.orders.filter((o) => ORDER_STATUSES.has(o.status) && hasLoinc(o.code, item.codes)),
    (o) => o.authoredOn ?? o.occurrenceDateTime,
    since,
    now,
  );
  if (result) {
    const reference = `Observation/${result.value.id}`;
    const value = item.repeat ? lactateMmolPerL(result.value) : undefined;
    const resultMs = Date.parse(result.at);
    const orderedSince = order !== undefined && Date.parse(order.at) > resultMs;
    if (item.repeat && value !== undefined && value > item.repeat.above && now - resultMs >= item.repeat.afterHours * HOUR_MS && !orderedSince) {
      return { item, status: 'repeat-due', at: result.at, reference, value };
    }
    if (!orderedSince) return { item, status: 'resulted', at: result.at, reference };
  }
  if (order) return { item, status: 'ordered', at: order.at, reference: `ServiceRequest/${order.value.id}` };
  return { item, status: 'missing' };
}

/** Coverage of every bundle item, in bundle order. */
export function bundleCoverage(evidence: BundleEvidence): Coverage[] {
  return BUNDLE_ITEMS.map((item) => coverageOf(item, evidence));
}
