/**
 * Sandbox ECG tracings (issue 10): a few Challenge 2017 test-split recordings written as FHIR R4 ECG
 * Observations on existing sandbox patients, so vigil-ecg-rhythm can be tried in the sandbox EHR. The
 * recordings are real (PhysioNet/CinC 2017, ODC-By 1.0; Clifford et al. 2017); attaching them to a
 * sandbox patient is invented, which meta.tag says.
 *
 *   npx tsx src/models/ecg/sandbox-observations.ts   # rewrites data/sandbox-ecg/*.json
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Bundle, Observation } from 'fhir/r4';
import { ECG_CODES, LOINC, MDC, OBSERVATION_CATEGORY, VIGIL_DATA_ORIGIN } from '../../fhir/codes.js';
import { encodeSampledData } from '../../fhir/sampled-data.js';
import { ECG_CLASS_NAMES } from './classes.js';
import { readEcgRecords, type EcgRecord } from './data.js';

export const SANDBOX_ECG_TAG = { system: VIGIL_DATA_ORIGIN, code: 'reassigned', display: 'Real recording (PhysioNet/CinC 2017) attached to a sandbox patient by Vigil' };

/** One ECG Observation; `form` chooses valueSampledData or a lead-I component (both are read by the service). */
export function ecgObservation(record: EcgRecord, patientId: string, effective: string, form: 'value' | 'component'): Observation {
  const sampled = encodeSampledData(record.samples, record.fs);
  const observation: Observation = {
    resourceType: 'Observation',
    id: `ecg-${record.id.toLowerCase()}`,
    meta: { tag: [SANDBOX_ECG_TAG] },
    status: 'final',
    category: [{ coding: [{ system: OBSERVATION_CATEGORY, code: 'procedure', display: 'Procedure' }] }],
    code: {
      coding: [
        { system: LOINC, code: ECG_CODES.ekgStudy, display: 'EKG study' },
        { system: MDC, code: ECG_CODES.mdcEcgPotential, display: 'MDC_ECG_ELEC_POTL' },
      ],
      text: 'Single-lead ECG rhythm strip',
    },
    subject: { reference: `Patient/${patientId}` },
    effectiveDateTime: effective,
    device: { display: `AliveCor handheld single-lead ECG — PhysioNet/CinC 2017 record ${record.id} (reference label: ${ECG_CLASS_NAMES[record.label]})` },
  };
  if (form === 'value') observation.valueSampledData = sampled;
  else observation.component = [{ code: { coding: [{ system: MDC, code: ECG_CODES.mdcLeadI, display: 'MDC_ECG_ELEC_POTL_I' }] }, valueSampledData: sampled }];
  return observation;
}

/** A transaction bundle (PUT with explicit id, like the other sandbox bundles). */
export function ecgBundle(observation: Observation): Bundle {
  return { resourceType: 'Bundle', type: 'transaction', entry: [{ fullUrl: `urn:uuid:${observation.id}`, resource: observation, request: { method: 'PUT', url: `Observation/${observation.id}` } }] };
}

async function main(): Promise<void> {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
  const index = JSON.parse(readFileSync(path.join(root, 'data/sandbox/index.json'), 'utf8')) as { anchor: string; patients: Array<{ id: string }> };
  const split = JSON.parse(readFileSync(path.join(root, 'models/ecg-rhythm/split.json'), 'utf8')) as { test: string[] };
  const metrics = JSON.parse(readFileSync(path.join(root, 'models/ecg-rhythm/metrics.json'), 'utf8')) as { fingerprint: Array<{ record: string; probabilities: number[] }> };
  const records = readEcgRecords(path.join(root, 'data/raw/ecg-cinc2017/records.jsonl')).filter((r) => split.test.includes(r.id));
  const dir = path.join(root, 'data/sandbox-ecg');
  mkdirSync(dir, { recursive: true });
  const anchor = Date.parse(index.anchor);
  // One test record per class, 30 s long where possible, preferring ones the shipped model classifies correctly
  // (so the sandbox shows each card type); the choice is printed and documented.
  const order = ['A', 'N', 'O', '~'] as const;
  const classOf = ['N', 'A', 'O', '~'];
  for (const [k, label] of order.entries()) {
    const candidates = records.filter((r) => r.label === label).sort((a, b) => Math.abs(a.samples.length - 9000) - Math.abs(b.samples.length - 9000) || a.id.localeCompare(b.id));
    const correct = candidates.find((r) => {
      const p = metrics.fingerprint.find((f) => f.record === r.id)?.probabilities ?? [];
      return classOf[p.indexOf(Math.max(...p))] === label;
    });
    const record = correct ?? candidates[0]!;
    const patient = index.patients[k]!.id;
    const effective = new Date(anchor - (k + 1) * 3_600_000).toISOString();
    const obs = ecgObservation(record, patient, effective, k % 2 === 0 ? 'value' : 'component');
    writeFileSync(path.join(dir, `${obs.id}.json`), JSON.stringify(ecgBundle(obs)) + '\n');
    console.log(`${record.id} (${label}${correct ? '' : ', misclassified by the model'}) → Patient/${patient} as ${obs.id}`);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
