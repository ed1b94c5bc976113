/**
 * The key under which vigil-ecg-rhythm reuses an issued explanation record (src/explanations/issued.ts).
 * Equal keys must mean the stored record and the card would be built again byte for byte, so the key covers
 * everything they are built from:
 * - ECG_ISSUED_KEY_SCHEME, the service, the patient, the model id and version, the explanation engine's
 *   settings (ExplanationEngine.settingsHash), the tfjs back end (the card is built from this call's
 *   analysis, so a replica on another back end, whose floats may differ in the last bits, keeps its own
 *   record) and whether the saliency was asked for;
 * - the tracing Observation's identity and version: id, meta.versionId, meta.lastUpdated, and its time
 *   fields (the card and the record print the recording time and segment clock times from them);
 * - the lead read (its path, which the card prints) and its SampledData exactly as decoded: origin, period,
 *   factor, lowerLimit, upperLimit, dimensions and data.
 * The call's clock is not in the key: neither the card nor the record's contents print a time relative to it
 * (formatTime and segment times are absolute). Pure.
 */
import { createHash } from 'node:crypto';
import type { Observation, SampledData } from 'fhir/r4';
import type { EcgLead } from './observation.js';

export interface EcgIssuedKeyParts {
  serviceId: string;
  /** "Patient/<id>". */
  patient: string;
  model: { id: string; version: string };
  /** ExplanationEngine.settingsHash. */
  explainer: string;
  /** backendName(): wasm, cpu, tensorflow… */
  backend: string;
  /** Whether the saliency was asked for (EcgServiceOptions.explain). */
  saliency: boolean;
  observation: Observation;
  lead: EcgLead;
}

/**
 * Bumped when a release builds a different record or card from the same tracing and model version (card
 * wording, record format, saliency methods or their seeds): records a previous release stored are then not reused.
 */
export const ECG_ISSUED_KEY_SCHEME = 1;

/** The SampledData fields decodeSampledData reads, in a fixed order (the EHR's key order does not matter). */
function sampledDataParts(s: SampledData): unknown[] {
  const o = s.origin;
  return [
    [o.value ?? null, o.unit ?? null, o.system ?? null, o.code ?? null],
    s.period,
    s.factor ?? null,
    s.lowerLimit ?? null,
    s.upperLimit ?? null,
    s.dimensions,
    s.data ?? null,
  ];
}

export function ecgIssuedKeyOf(parts: EcgIssuedKeyParts): string {
  const o = parts.observation;
  const hash = createHash('sha256');
  hash.update(
    JSON.stringify([
      [o.id ?? null, o.meta?.versionId ?? null, o.meta?.lastUpdated ?? null],
      [o.effectiveDateTime ?? null, o.effectivePeriod?.start ?? null, o.effectivePeriod?.end ?? null, o.effectiveInstant ?? null, o.issued ?? null],
      [parts.lead.path, parts.lead.lead ?? null],
      sampledDataParts(parts.lead.sampledData),
    ]),
  );
  return JSON.stringify([
    ECG_ISSUED_KEY_SCHEME,
    parts.serviceId,
    parts.patient,
    parts.model.id,
    parts.model.version,
    parts.explainer,
    parts.backend,
    parts.saliency,
    hash.digest('base64'),
  ]);
}
