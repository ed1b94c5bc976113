/**
 * The key under which vigil-deterioration reuses an issued explanation record (src/explanations/issued.ts):
 * patient, model version, data version AND an evidence fingerprint of everything else the stored record
 * and the card are built from — the raw hourly values, age and sex, the effective times of the cited
 * Observations (factor sentences name them) and the readings not used. Any difference is a new key. Pure.
 */
import { createHash } from 'node:crypto';
import type { Observation } from 'fhir/r4';
import type { DeteriorationWindow } from '../../../models/index.js';
import type { NotUsed } from './assess.js';

export interface IssuedKeyParts {
  /** The CDS service issuing the record (one registry may serve several). */
  serviceId: string;
  /** "Patient/<id>". */
  patient: string;
  modelVersion: string;
  /** PreparedInput.dataVersion: encoded input, Observation ids per cell, hour starts. */
  dataVersion: string;
  window: DeteriorationWindow;
  observationsById: ReadonlyMap<string, Observation>;
  notUsed: readonly NotUsed[];
}

function timeText(o: Observation | undefined): string {
  return `${o?.effectiveDateTime ?? o?.effectivePeriod?.start ?? o?.effectiveInstant ?? ''}|${o?.issued ?? ''}`;
}

/**
 * The reuse key. The data version already covers the encoded input and the Observation ids behind every
 * cell; the fingerprint adds what the data version does not: raw values (the stored window the trend
 * rescores), age and sex, the cited Observations' times and the readings not used. sha256, ~20 µs.
 */
export function issuedKeyOf(parts: IssuedKeyParts): string {
  const { window } = parts;
  const hash = createHash('sha256');
  for (const row of window.input.rows) {
    const values = row instanceof Float32Array ? row : Float64Array.from(row);
    hash.update(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
  }
  const times: string[] = [];
  for (const row of window.sources) for (const ids of row) for (const id of ids) times.push(timeText(parts.observationsById.get(id)));
  hash.update(JSON.stringify([window.input.age, window.input.sex, times, parts.notUsed]));
  return JSON.stringify([parts.serviceId, parts.patient, parts.modelVersion, parts.dataVersion, hash.digest('base64')]);
}

