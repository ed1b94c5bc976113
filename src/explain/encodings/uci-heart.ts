/**
 * Decoding and baselines for the heart-disease model's encoding (src/models/data/uci-heart.ts,
 * "uci-heart-v1"), and the FHIR provenance of its 13 inputs (which Observation each value came from).
 */
import type { Observation, Patient } from 'fhir/r4';
import { fhirToUciInputs } from '../../fhir/mappings/uci-heart.js';
import { encodeHeart, HEART_INPUTS, type HeartEncodingSpec, type HeartInput, type HeartRecord } from '../../models/data/uci-heart.js';
import type { RegisteredModel } from '../../models/registry.js';
import { directionOf, REFERENCE, typicalValue } from '../reference-ranges.js';
import type { CellValue, InputLayout, Provenance } from '../types.js';
import { baselineSet, type EncodingAdapter, type PreparedCells } from './common.js';

/** The reference patient: normal findings, the patient's own age and sex. */
export function normalHeartRecord(record: HeartRecord): HeartRecord {
  const out = { ...record };
  for (const name of HEART_INPUTS) {
    if (name === 'age' || name === 'sex') continue;
    // A normal exercise test reaches ≥ 85 % of the age-predicted maximum heart rate (220 − age).
    const typical = name === 'thalach' ? Math.round(0.85 * (220 - (Number.isNaN(record.age) ? 55 : record.age))) : typicalValue(REFERENCE[name]);
    if (typical !== undefined) out[name] = typical;
  }
  return out;
}

function effectiveTime(o: Observation): string | undefined {
  return o.effectiveDateTime ?? o.effectivePeriod?.end ?? o.effectivePeriod?.start ?? o.effectiveInstant ?? o.issued;
}

/**
 * Which Observation each of the 13 inputs came from: the latest one that, read on its own by the same
 * mapping (src/fhir/mappings/uci-heart.ts), yields the value the full read chose. sources[0][i] follows
 * HEART_INPUTS order; age and sex come from the Patient and list no Observation.
 */
export function heartProvenance(observations: readonly Observation[], asOf: Date): Provenance {
  const full = fhirToUciInputs(undefined, observations, asOf);
  const sources: string[][] = HEART_INPUTS.map(() => []);
  const observedAt: (string | undefined)[] = HEART_INPUTS.map(() => undefined);
  const best: number[] = HEART_INPUTS.map(() => -Infinity);
  for (const o of observations) {
    const single = fhirToUciInputs(undefined, [o], asOf);
    const at = effectiveTime(o);
    const time = at ? Date.parse(at) : -Infinity;
    HEART_INPUTS.forEach((name, i) => {
      if (name === 'age' || name === 'sex' || single[name] === null || single[name] !== full[name] || !o.id) return;
      if (time < best[i]!) return;
      best[i] = time;
      sources[i] = [o.id];
      observedAt[i] = at;
    });
  }
  return { sources: [sources], observedAt };
}

/** Patient-level inputs (age, sex) from the Patient resource, for callers that need them separately. */
export function heartPatientSources(patient: Patient | undefined): string[] {
  return patient?.id ? [`Patient/${patient.id}`] : [];
}

export const uciHeartAdapter: EncodingAdapter<HeartRecord> = {
  prepare(model: RegisteredModel<HeartRecord>, layout: InputLayout, input: HeartRecord, provenance?: Provenance): PreparedCells {
    const spec = model.preprocess as HeartEncodingSpec;
    const encoded = model.encode(input);
    const inputOf = layout.features.map((f) => HEART_INPUTS.indexOf(f.name as HeartInput));
    const cell = (_step: number, f: number): CellValue => {
      const i = inputOf[f]!;
      if (i < 0) return { value: null, imputed: true, sources: [] };
      const name = HEART_INPUTS[i]!;
      const raw = input[name];
      if (Number.isNaN(raw)) return { value: null, imputed: true, sources: [] };
      const reference = REFERENCE[name];
      const direction = directionOf(reference, raw);
      const at = provenance?.observedAt?.[i];
      const label = reference?.values?.[raw];
      return {
        value: raw,
        imputed: false,
        sources: provenance?.sources[0]?.[i] ?? [],
        ...(at ? { measuredAt: at } : {}),
        ...(label ? { valueText: label } : {}),
        ...(direction ? { direction } : {}),
      };
    };
    return {
      encoded,
      baselines: baselineSet(model.manifest.id, encoded.length, encodeHeart(normalHeartRecord(input), spec)),
      cell,
    };
  },
};
