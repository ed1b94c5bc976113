/**
 * heartIssuedKeyOf (services/heart-disease/issued-key.ts): equal for equal data however the prefetch is
 * ordered, and different for a change of anything the record or the card is built from — one row per part.
 */
import { describe, expect, it } from '@jest/globals';
import type { Observation } from 'fhir/r4';
import { HEART_ISSUED_KEY_SCHEME, heartIssuedKeyOf, type HeartIssuedKeyParts } from '../../../src/cds-hooks/services/heart-disease/issued-key.js';
import { HEART_INPUTS, type HeartInput } from '../../../src/models/data/uci-heart.js';
import type { HeartDiseaseInput } from '../../../src/models/index.js';

const NOW = new Date('2026-01-01T12:00:00Z');

function observation(id: string, at: string, meta?: Observation['meta']): Observation {
  return { resourceType: 'Observation', id, status: 'final', code: { text: id }, effectiveDateTime: at, ...(meta ? { meta } : {}) };
}

function parts(): HeartIssuedKeyParts {
  const input = Object.fromEntries(HEART_INPUTS.map((n, i) => [n, i + 1])) as HeartDiseaseInput;
  input.slope = Number.NaN;
  const evidence = Object.fromEntries(HEART_INPUTS.map((n) => [n, n === 'age' || n === 'sex' ? ['Patient/p1'] : n === 'slope' ? [] : [`Observation/o-${n}`]])) as Record<HeartInput, string[]>;
  const observations = HEART_INPUTS.filter((n) => evidence[n][0]?.startsWith('Observation/')).map((n) => observation(`o-${n}`, '2025-11-17T12:00:00Z', { versionId: '1' }));
  return {
    serviceId: 'vigil-heart-disease',
    patient: 'Patient/p1',
    model: { id: 'heart-disease', version: '1.0.0' },
    explainer: 'settings-a',
    input,
    evidence,
    provenance: { sources: [HEART_INPUTS.map((n) => (evidence[n][0]?.startsWith('Observation/') ? [`o-${n}`] : []))], observedAt: HEART_INPUTS.map((n) => (n === 'age' || n === 'sex' || n === 'slope' ? undefined : '2025-11-17T12:00:00Z')) },
    notUsed: [{ reference: 'Observation/o-chol-mmol', reason: 'Cholesterol 5.2 in unit "mmol/L" cannot be read (expected mg/dL)' }],
    observationsById: new Map([...observations, observation('o-chol-mmol', '2025-11-18T08:00:00Z')].map((o) => [o.id!, o])),
    asOf: NOW,
  };
}

function withObservation(p: HeartIssuedKeyParts, id: string, edit: (o: Observation) => Observation): HeartIssuedKeyParts {
  const map = new Map(p.observationsById);
  map.set(id, edit(map.get(id)!));
  return { ...p, observationsById: map };
}

describe('heartIssuedKeyOf', () => {
  it('is the same for the same data, whatever the order of the Observation map, and names the scheme', () => {
    const a = parts();
    const b = { ...parts(), observationsById: new Map([...parts().observationsById].reverse()) };
    expect(heartIssuedKeyOf(b)).toBe(heartIssuedKeyOf(a));
    expect(JSON.parse(heartIssuedKeyOf(a))[0]).toBe(HEART_ISSUED_KEY_SCHEME);
    // A later call the same day as the first (nothing crosses 24 h): the same key.
    expect(heartIssuedKeyOf({ ...a, asOf: new Date(NOW.getTime() + 3_600_000) })).toBe(heartIssuedKeyOf(a));
  });

  const changes: Array<[string, (p: HeartIssuedKeyParts) => HeartIssuedKeyParts]> = [
    ['service', (p) => ({ ...p, serviceId: 'vigil-heart-disease-order' })],
    ['patient', (p) => ({ ...p, patient: 'Patient/p2' })],
    ['model id', (p) => ({ ...p, model: { ...p.model, id: 'heart-disease-2' } })],
    ['model version', (p) => ({ ...p, model: { ...p.model, version: '1.0.1' } })],
    ['explanation settings', (p) => ({ ...p, explainer: 'settings-b' })],
    ['one input value', (p) => ({ ...p, input: { ...p.input, chol: p.input.chol + 1 } })],
    ['a missing input now present', (p) => ({ ...p, input: { ...p.input, slope: 2 } })],
    ['an input’s evidence', (p) => ({ ...p, evidence: { ...p.evidence, chol: ['Observation/o-chol-2'] } })],
    ['the Observation a factor cites', (p) => ({ ...p, provenance: { ...p.provenance, sources: [p.provenance.sources[0]!.map((s, i) => (i === 3 ? ['o-other'] : s))] } })],
    ['a factor’s observed time', (p) => ({ ...p, provenance: { ...p.provenance, observedAt: p.provenance.observedAt!.map((t, i) => (i === 3 ? '2025-11-17T13:00:00Z' : t)) } })],
    ['a cited Observation’s time', (p) => withObservation(p, 'o-chol', (o) => ({ ...o, effectiveDateTime: '2025-11-17T12:05:00Z' }))],
    ['a cited Observation’s issued time', (p) => withObservation(p, 'o-chol', (o) => ({ ...o, issued: '2025-11-17T15:00:00Z' }))],
    ['a cited Observation’s version', (p) => withObservation(p, 'o-chol', (o) => ({ ...o, meta: { versionId: '2' } }))],
    ['a cited Observation’s lastUpdated', (p) => withObservation(p, 'o-chol', (o) => ({ ...o, meta: { ...o.meta, lastUpdated: '2025-12-01T00:00:00Z' } }))],
    ['a reading not used', (p) => ({ ...p, notUsed: [] })],
    ['a not-used reading’s version', (p) => withObservation(p, 'o-chol-mmol', (o) => ({ ...o, meta: { versionId: '3' } }))],
  ];
  it.each(changes)('changes with %s', (_name, change) => {
    expect(heartIssuedKeyOf(change(parts()))).not.toBe(heartIssuedKeyOf(parts()));
  });

  it('changes when a cited reading becomes more than 24 h old at the call (its sentence then prints the date), and only then', () => {
    const at = (iso: string) => ({ ...withObservation(parts(), 'o-chol', (o) => ({ ...o, effectiveDateTime: iso })), asOf: NOW });
    const recent = '2026-01-01T00:00:00Z';
    const day1 = heartIssuedKeyOf(at(recent));
    const later = (hours: number) => heartIssuedKeyOf({ ...at(recent), asOf: new Date(NOW.getTime() + hours * 3_600_000) });
    expect(later(11)).toBe(day1);
    expect(later(13)).not.toBe(day1);
    expect(later(40)).toBe(later(13));
  });
});
