/**
 * The key under which the heart-disease services reuse an issued explanation record
 * (src/explanations/issued.ts). Equal keys must mean the stored record and the card would be built again
 * byte for byte, so the key covers everything they are built from:
 * - the service, the patient, the model id and version, the explanation settings
 *   (ExplanationEngine.settingsHash) and HEART_ISSUED_KEY_SCHEME;
 * - the 13 inputs as the model reads them (age is taken at the work-up's time, so it does not move with the
 *   call's clock), and per input the evidence the record lists and the Observation the factor cites;
 * - for every cited Observation its time fields (factor sentences print them) and its version
 *   (meta.versionId, meta.lastUpdated): an amended reading is new data even at an equal value;
 * - whether each cited time is more than 24 h before the call, the one way the call's clock reaches a
 *   factor sentence (src/explain/factors.ts prints the date then) — a record issued the day of the work-up
 *   is not reused once its sentences would name the date;
 * - the readings not used (the card lists them).
 * The Patient resource counts only through age and sex: nothing else of it is in the record or the card.
 * The selected orders (order-select) are not in the record; each card names its own. Pure.
 */
import { createHash } from 'node:crypto';
import type { Observation } from 'fhir/r4';
import type { Provenance } from '../../../explain/index.js';
import { printsDate } from '../../../explain/factors.js';
import { HEART_INPUTS, type HeartInput } from '../../../models/data/uci-heart.js';
import type { HeartDiseaseInput } from '../../../models/index.js';

export interface HeartIssuedKeyParts {
  /** vigil-heart-disease or vigil-heart-disease-order: each keeps its own records (see index.ts). */
  serviceId: string;
  /** "Patient/<id>". */
  patient: string;
  model: { id: string; version: string };
  /** ExplanationEngine.settingsHash: a record explained under other settings is not reused. */
  explainer: string;
  input: HeartDiseaseInput;
  /** Per input, what the record's `inputs[].evidence` lists (workup.ts). */
  evidence: Readonly<Record<HeartInput, readonly string[]>>;
  /** What the explanation's factors cite, with the times they print (heartProvenance). */
  provenance: Provenance;
  notUsed: ReadonlyArray<{ reference?: string; reason: string }>;
  observationsById: ReadonlyMap<string, Observation>;
  /** The call's time: factor sentences print a date for readings more than 24 h older. */
  asOf: Date;
}

/**
 * Bumped when a release builds a different record or card from the same data and model version (factor
 * wording, evidence rule, method fields): records a previous release stored are then not reused.
 */
export const HEART_ISSUED_KEY_SCHEME = 1;

function timesOf(o: Observation): Array<string | undefined> {
  return [o.effectiveDateTime, o.effectivePeriod?.start, o.effectivePeriod?.end, o.effectiveInstant, o.issued];
}

/** Whether the factor sentence dates this time (src/explain/factors.ts printsDate): the card text depends on it. */
function olderThanADay(time: string | undefined, asOf: number): boolean | null {
  const t = time === undefined ? Number.NaN : Date.parse(time);
  return Number.isNaN(t) ? null : printsDate(t, asOf);
}

export function heartIssuedKeyOf(parts: HeartIssuedKeyParts): string {
  const asOf = parts.asOf.getTime();
  const values = Float64Array.from(HEART_INPUTS, (name) => parts.input[name]);
  const hash = createHash('sha256');
  hash.update(new Uint8Array(values.buffer));
  const cited = new Set<string>();
  const cite = (ref: string | undefined) => {
    if (ref?.startsWith('Observation/')) cited.add(ref.slice('Observation/'.length));
  };
  HEART_INPUTS.forEach((name) => parts.evidence[name].forEach(cite));
  parts.provenance.sources.flat(2).forEach((id) => cite(`Observation/${id}`));
  parts.notUsed.forEach((n) => cite(n.reference));
  const observations = [...cited].sort().map((id) => {
    const o = parts.observationsById.get(id);
    if (!o) return [id, null];
    const times = timesOf(o);
    return [id, times, times.map((t) => olderThanADay(t, asOf)), o.meta?.versionId ?? null, o.meta?.lastUpdated ?? null];
  });
  const observedAt = (parts.provenance.observedAt ?? []).map((t) => [t ?? null, olderThanADay(t, asOf)]);
  hash.update(
    JSON.stringify([
      HEART_INPUTS.map((name) => parts.evidence[name]),
      parts.provenance.sources,
      observedAt,
      observations,
      parts.notUsed.map((n) => [n.reference ?? null, n.reason]),
    ]),
  );
  return JSON.stringify([HEART_ISSUED_KEY_SCHEME, parts.serviceId, parts.patient, parts.model.id, parts.model.version, parts.explainer, hash.digest('base64')]);
}
