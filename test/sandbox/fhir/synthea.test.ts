import { describe, expect, it } from '@jest/globals';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Bundle, Encounter, Observation, Patient } from 'fhir/r4';
import { FhirStore } from '../../../src/sandbox/fhir/store.js';

// Real EHR-shaped data: the Synthea transaction bundles shipped in data/raw (see its SOURCE.md).
const DIR = path.resolve('data/raw/synthea-fhir-r4');
const files = existsSync(DIR) ? readdirSync(DIR).filter((f) => f.endsWith('.json')) : [];
const BASE = 'http://ehr.example/fhir';

(files.length ? describe : describe.skip)('loading Synthea patient bundles', () => {
  it('loads every bundle whole, resolving urn:uuid references, and answers patient searches', () => {
    const store = new FhirStore();
    let loaded = 0;
    for (const file of files) {
      const bundle = JSON.parse(readFileSync(path.join(DIR, file), 'utf8')) as Bundle;
      loaded += store.loadBundle(bundle).loaded;
    }
    expect(store.count()).toBe(loaded);
    expect(store.count('Patient')).toBe(files.length);

    for (const entry of store.search('Patient', new URLSearchParams('_count=1000'), { baseUrl: BASE }).entry ?? []) {
      const patient = entry.resource as Patient;
      const observations = store.search('Observation', new URLSearchParams(`patient=${patient.id}&_sort=-date&_count=1000`), { baseUrl: BASE });
      const resources = (observations.entry ?? []).map((e) => e.resource as Observation);
      expect(resources.every((o) => o.subject?.reference === `Patient/${patient.id}`)).toBe(true);
      const times = resources.map((o) => Date.parse(o.effectiveDateTime ?? o.effectivePeriod?.start ?? '')).filter((t) => !Number.isNaN(t));
      expect(times).toEqual([...times].sort((a, b) => b - a));
    }
    // No reference may still point into a bundle once loaded.
    const encounters = store.search('Encounter', new URLSearchParams('_count=1000'), { baseUrl: BASE }).entry ?? [];
    expect(encounters.length).toBeGreaterThan(0);
    for (const e of encounters) expect((e.resource as Encounter).subject?.reference).toMatch(/^Patient\/[A-Za-z0-9\-.]+$/);
  });
});
