import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { stratifiedSplit } from '../../src/models/data/split.js';
import { encodeHeart, fitHeartEncoding, hideOftenMissing, parseUciHeart } from '../../src/models/data/uci-heart.js';
import {
  CHANNELS,
  MEASUREMENTS,
  encodeWindow,
  fitPhysionetEncoding,
  parsePhysionetCsv,
  readPhysionet,
  windowRows,
  type PhysionetEncodingSpec,
} from '../../src/models/data/physionet.js';
import { seededRandom } from '../../src/models/random.js';
import { UnprocessableEntityError } from '../../src/errors.js';

describe('stratified patient split', () => {
  const patients = Array.from({ length: 100 }, (_, i) => ({ id: `p${i}`, positive: i % 10 === 0 }));

  it('is disjoint, complete, stratified and reproducible for the seed', () => {
    const s = stratifiedSplit(patients, 42);
    const all = [...s.train, ...s.validation, ...s.test];
    expect(new Set(all).size).toBe(100);
    expect([s.train.length, s.validation.length, s.test.length]).toEqual([70, 16, 14]); // rounding is per stratum: 7+2+1 positives, 63+14+13 negatives
    const positives = (ids: string[]) => ids.filter((id) => Number(id.slice(1)) % 10 === 0).length;
    expect([positives(s.train), positives(s.validation), positives(s.test)]).toEqual([7, 2, 1]);
    expect(stratifiedSplit([...patients].reverse(), 42)).toEqual(s);
    expect(stratifiedSplit(patients, 43).test).not.toEqual(s.test);
  });
});

describe('UCI heart disease', () => {
  const text = '63.0,1.0,1.0,145.0,233.0,1.0,2.0,150.0,0.0,2.3,3.0,0.0,6.0,0\n67.0,1.0,4.0,160.0,0,0.0,2.0,108.0,1.0,1.5,?,?,?,2\n';

  it('parses the 14-column format with ? as missing and num > 0 as the label', () => {
    const [a, b] = parseUciHeart(text);
    expect(a!.label).toBe(0);
    expect(b!.label).toBe(1);
    expect(b!.num).toBe(2);
    expect(b!.record.slope).toBeNaN();
    expect(b!.record.ca).toBeNaN();
    // Cholesterol 0 is the other sites' "not measured".
    expect(b!.record.chol).toBeNaN();
    expect(a!.record.thal).toBe(6);
  });

  it('rejects malformed lines with their number', () => {
    expect(() => parseUciHeart('1,2,3\n')).toThrow(UnprocessableEntityError);
    expect(() => parseUciHeart(text + '63,1,1,145,233,1,2,150,0,x,3,0,6,0\n')).toThrow(/line 3/);
  });

  it('encodes standardised values, one-hot categories and missingness indicators', () => {
    const examples = parseUciHeart(text);
    const spec = fitHeartEncoding(examples.map((e) => e.record));
    expect(spec.mean.age).toBe(65);
    const enc = encodeHeart(examples[1]!.record, spec);
    const at = (name: string) => enc[spec.featureNames.indexOf(name)];
    expect(enc).toHaveLength(spec.featureNames.length);
    expect(at('age')).toBeCloseTo(2 / Math.sqrt(8), 6);
    expect(at('cp=4')).toBe(1);
    expect(at('cp=1')).toBe(0);
    expect(at('slope:missing')).toBe(1);
    expect(at('slope=1') + at('slope=2') + at('slope=3')).toBe(0);
    expect(at('ca')).toBe(0);
    expect(at('chol:missing')).toBe(1);
    expect(encodeHeart(examples[0]!.record, spec)[spec.featureNames.indexOf('thal=6')]).toBe(1);
  });

  it('input dropout hides only the often-missing fields', () => {
    const [a] = parseUciHeart(text);
    const hidden = hideOftenMissing(a!.record, 1, seededRandom(1));
    expect(hidden.thal).toBeNaN();
    expect(hidden.age).toBe(63);
    expect(hideOftenMissing(a!.record, 0, seededRandom(1))).toEqual(a!.record);
  });
});

describe('PhysioNet 2019', () => {
  const header = ['patient_id', ...MEASUREMENTS, 'Age', 'Gender', 'Unit1', 'Unit2', 'HospAdmTime', 'ICULOS', 'SepsisLabel'];
  const row = (id: string, hr: string, lactate: string, label: number, hour: number) => {
    const values = MEASUREMENTS.map((m) => (m === 'HR' ? hr : m === 'Lactate' ? lactate : 'NaN'));
    return [id, ...values, '70', '1', '1', '0', '-1.5', String(hour), String(label)].join(',');
  };
  const csv = [
    header.join(','),
    row('p1', '80', 'NaN', 0, 1),
    row('p1', 'NaN', '2', 0, 2),
    row('p1', '100', 'NaN', 1, 3),
    row('p2', '70', 'NaN', 0, 1),
  ].join('\n');

  it('parses the concatenated CSV and a folder of .psv files into the same stays', () => {
    const stays = parsePhysionetCsv(csv);
    expect([...stays.keys()]).toEqual(['p1', 'p2']);
    expect(Array.from(stays.get('p1')!.labels)).toEqual([0, 0, 1]);
    expect(stays.get('p1')!.hours[1]![MEASUREMENTS.indexOf('Lactate')]).toBe(2);
    const dir = mkdtempSync(path.join(tmpdir(), 'vigil-psv-'));
    try {
      const lines = csv.split('\n');
      const toPsv = (l: string) => l.split(',').slice(1).join('|');
      writeFileSync(path.join(dir, 'p1.psv'), [lines[0]!, lines[1]!, lines[2]!, lines[3]!].map(toPsv).join('\n'));
      writeFileSync(path.join(dir, 'p2.psv'), [lines[0]!, lines[4]!].map(toPsv).join('\n'));
      expect(readPhysionet(dir)).toEqual(stays);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('encodes a window with carry-forward, mask and hours-since channels, left-padded', () => {
    const stays = parsePhysionetCsv(csv);
    const spec: PhysionetEncodingSpec = { ...fitPhysionetEncoding(stays.values()), windowHours: 4 };
    const hr = MEASUREMENTS.indexOf('HR');
    const n = MEASUREMENTS.length;
    expect(spec.mean[hr]).toBeCloseTo(250 / 3, 6);
    const p1 = stays.get('p1')!;
    const enc = encodeWindow(windowRows(p1, 2, 4), p1.age, p1.sex, spec);
    expect(enc).toHaveLength(4 * CHANNELS);
    const cell = (w: number, c: number) => enc[w * CHANNELS + c]!;
    // Row 0 is padding: nothing measured yet.
    expect([cell(0, hr), cell(0, n + hr), cell(0, 2 * n + hr)]).toEqual([0, 0, 1]);
    // Hour 1: HR 80 measured.
    expect(cell(1, hr)).toBeCloseTo((80 - spec.mean[hr]!) / spec.sd[hr]!, 5);
    expect([cell(1, n + hr), cell(1, 2 * n + hr)]).toEqual([1, 0]);
    // Hour 2: HR carried forward, not measured, one hour old.
    expect(cell(2, hr)).toBeCloseTo(cell(1, hr), 6);
    expect([cell(2, n + hr), cell(2, 2 * n + hr)]).toEqual([0, 0.25]);
    // Hour 3: fresh HR 100.
    expect(cell(3, hr)).toBeCloseTo((100 - spec.mean[hr]!) / spec.sd[hr]!, 5);
    expect(cell(3, 3 * n)).toBeCloseTo(10 / 15, 6);
    expect(cell(3, 3 * n + 1)).toBe(1);
  });

  it('clips implausible values instead of letting them dominate', () => {
    const stays = parsePhysionetCsv(csv);
    const spec = fitPhysionetEncoding(stays.values());
    const rows = [Float32Array.from(MEASUREMENTS, (m) => (m === 'HR' ? 900 : NaN))];
    const enc = encodeWindow(rows, 60, 0, spec);
    expect(enc[(spec.windowHours - 1) * CHANNELS + MEASUREMENTS.indexOf('HR')]).toBe(6);
  });
});
