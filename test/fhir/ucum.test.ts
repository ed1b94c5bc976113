/**
 * src/fhir/ucum.ts: unit codes and conversions, and that @lhncbc/ucum-lhc's own console.log output
 * (it prints every unit string it fails to parse) never reaches stdout, where only JSON log lines belong.
 */
import { spawn } from 'node:child_process';
import { describe, expect, it, jest } from '@jest/globals';
import { convertUcum, toUcumCode } from '../../src/fhir/ucum.js';

/** A unit string the library rejects with a thrown parse error, which it reports with console.log. */
const REJECTED = 'mg per g crea';

function runNode(script: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('ucum', () => {
  it('maps printed units to UCUM and converts commensurable units', () => {
    expect(toUcumCode('mg/dl')).toBe('mg/dL');
    expect(toUcumCode('mmHg')).toBe('mm[Hg]');
    expect(toUcumCode('kg/m2')).toBe('kg/m2');
    expect(toUcumCode(REJECTED)).toBeUndefined();
    expect(convertUcum(1, 'mg/dL', 'g/L')).toBeCloseTo(0.01, 10);
    expect(convertUcum(98.6, '[degF]', 'Cel')).toBeCloseTo(37, 6);
    expect(convertUcum(1, 'kg', 'm')).toBeUndefined();
  });

  it('writes nothing to the console or stdout, and leaves console as it found it', () => {
    const original = { log: console.log, warn: console.warn, error: console.error };
    const log = jest.spyOn(console, 'log');
    const write = jest.spyOn(process.stdout, 'write');
    try {
      expect(toUcumCode(`${REJECTED} 2`)).toBeUndefined();
      expect(convertUcum(1, REJECTED, 'g')).toBeUndefined();
      expect(convertUcum(5, 'mmol/L', 'mg/dL', { molecularWeight: 180.16 })).toBeCloseTo(90.08, 6);
      expect(log).not.toHaveBeenCalled();
      expect(write).not.toHaveBeenCalled();
    } finally {
      log.mockRestore();
      write.mockRestore();
    }
    expect({ log: console.log, warn: console.warn, error: console.error }).toEqual(original);
  });

  it('a process that loads it and converts units prints nothing on stdout (the raw library would)', async () => {
    const ours = await runNode(
      `import { toUcumCode, convertUcum } from './src/fhir/ucum.ts';
       const r = [toUcumCode(${JSON.stringify(REJECTED)}), toUcumCode('mg/dl'), convertUcum(1, ${JSON.stringify(REJECTED)}, 'g'), convertUcum(1, 'mg/dL', 'g/L')];
       process.stderr.write('RESULT ' + JSON.stringify(r));`,
    );
    expect(ours.code).toBe(0);
    expect(ours.stderr).toContain('RESULT [null,"mg/dL",null,0.01]');
    expect(ours.stdout).toBe('');
    // Control: the library called directly does print, so the empty stdout above is the wrapper's doing.
    const raw = await runNode(
      `import { createRequire } from 'node:module';
       const ucum = createRequire(process.cwd() + '/')('@lhncbc/ucum-lhc');
       ucum.UcumLhcUtils.getInstance().validateUnitString(${JSON.stringify(REJECTED)}, false);`,
    );
    expect(raw.code).toBe(0);
    expect(raw.stdout).toContain(REJECTED);
  }, 60_000);
});
