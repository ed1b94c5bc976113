/**
 * The key under which vigil-deterioration reuses an issued explanation record (src/explanations/issued.ts).
 * It is computed from the raw window, before any encoding, so a repeated call skips encoding and data
 * versioning too: patient, model version, the explanation settings, and a sha256 over everything the
 * stored record and the card are built from — the hourly values, age and sex, the window's hours, the
 * Observation ids behind every cell with their effective times (factor sentences name them), and the
 * readings not used. The model's
 * encoding and data version (PreparedInput.dataVersion) are functions of these for a given model version,
 * so equal keys imply equal data versions; any difference in the data is a different key. The key is
 * stored with the record (restarts, replicas), so it also names ISSUED_KEY_SCHEME. Pure.
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
  /** The explanation settings (ExplanationEngine.settingsHash): a record explained otherwise is not reused. */
  explainer: string;
  window: DeteriorationWindow;
  observationsById: ReadonlyMap<string, Observation>;
  notUsed: readonly NotUsed[];
}

/**
 * Bumped when a release builds a different record or card from the same data and model version (factor
 * wording, attribution grid, method fields): records a previous release stored are then not reused.
 */
export const ISSUED_KEY_SCHEME = 1;

function timeText(o: Observation | undefined): string {
  return `${o?.effectiveDateTime ?? o?.effectivePeriod?.start ?? o?.effectiveInstant ?? ''}|${o?.issued ?? ''}`;
}

export function issuedKeyOf(parts: IssuedKeyParts): string {
  const { window } = parts;
  const hash = createHash('sha256');
  for (const row of window.input.rows) {
    const values = row instanceof Float32Array ? row : Float64Array.from(row);
    hash.update(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
  }
  // Cell position, Observation id and its time for every cited reading.
  let cells = '';
  window.sources.forEach((row, h) =>
    row.forEach((ids, m) => {
      for (const id of ids) cells += `${h},${m},${id},${timeText(parts.observationsById.get(id))};`;
    }),
  );
  hash.update(cells);
  hash.update(JSON.stringify([window.input.age, window.input.sex, window.hourStarts[0] ?? null, window.hourStarts.length, parts.notUsed]));
  return JSON.stringify([ISSUED_KEY_SCHEME, parts.serviceId, parts.patient, parts.modelVersion, parts.explainer, hash.digest('base64')]);
}
