/**
 * The PhysioNet/CinC Challenge 2017 records (data/raw/ecg-cinc2017, see its SOURCE.md) in their
 * `records.jsonl` form, and the record-level split. Records carry no patient identifiers, so the split is
 * by recording (the data's own limit, stated in the model card).
 */
import { readFileSync } from 'node:fs';
import { seededRandom, shuffled } from '../random.js';
import { ECG_CLASSES, classIndex, type EcgClass } from './classes.js';

export interface EcgRecord {
  id: string;
  label: EcgClass;
  /** Sampling rate, Hz. */
  fs: number;
  /** Millivolts. */
  samples: Float32Array;
}

/** Parses records.jsonl text (one `{record, label, fs, units, samples}` object per line). */
export function parseEcgRecords(text: string): EcgRecord[] {
  const out: EcgRecord[] = [];
  for (const [i, line] of text.split('\n').entries()) {
    if (!line.trim()) continue;
    const raw = JSON.parse(line) as { record?: unknown; label?: unknown; fs?: unknown; units?: unknown; samples?: unknown };
    if (typeof raw.record !== 'string' || typeof raw.label !== 'string' || typeof raw.fs !== 'number' || !Array.isArray(raw.samples)) {
      throw new Error(`records.jsonl line ${i + 1}: needs record, label, fs and samples`);
    }
    if (raw.units !== undefined && raw.units !== 'mV') throw new Error(`records.jsonl line ${i + 1}: units must be mV`);
    classIndex(raw.label);
    out.push({ id: raw.record, label: raw.label as EcgClass, fs: raw.fs, samples: Float32Array.from(raw.samples as number[]) });
  }
  return out;
}

export function readEcgRecords(file: string): EcgRecord[] {
  return parseEcgRecords(readFileSync(file, 'utf8'));
}

export interface RecordSplit {
  seed: number;
  fractions: { train: number; validation: number; test: number };
  /** How the split was made, in words (written into split.json). */
  method: string;
  train: string[];
  validation: string[];
  test: string[];
}

/**
 * Record-level split stratified by class: within each class the ids are sorted, shuffled with the seed and
 * cut by the fractions (rounding), so every class is present in every part.
 */
export function stratifiedRecordSplit(
  records: ReadonlyArray<Pick<EcgRecord, 'id' | 'label'>>,
  seed: number,
  fractions = { train: 0.6, validation: 0.2, test: 0.2 },
): RecordSplit {
  const random = seededRandom(seed);
  const split: RecordSplit = {
    seed,
    fractions,
    method: 'record-level, stratified by class (N, A, O, ~); per class: ids sorted, seeded Fisher–Yates shuffle, cut by fractions',
    train: [],
    validation: [],
    test: [],
  };
  for (const label of ECG_CLASSES) {
    const ids = shuffled(records.filter((r) => r.label === label).map((r) => r.id).sort(), random);
    const nVal = Math.round(ids.length * fractions.validation);
    const nTest = Math.round(ids.length * fractions.test);
    split.test.push(...ids.slice(0, nTest));
    split.validation.push(...ids.slice(nTest, nTest + nVal));
    split.train.push(...ids.slice(nTest + nVal));
  }
  split.train.sort();
  split.validation.sort();
  split.test.sort();
  return split;
}
