/**
 * ecgIssuedKeyOf (services/ecg-rhythm/issued-key.ts): the key changes with each part the record and card are
 * built from (one row per part) and not with the order of the SampledData's JSON keys or the call's clock.
 */
import { describe, expect, it } from '@jest/globals';
import type { Observation } from 'fhir/r4';
import { ECG_ISSUED_KEY_SCHEME, ecgIssuedKeyOf, type EcgIssuedKeyParts } from '../../../src/cds-hooks/services/ecg-rhythm/issued-key.js';
import { pickLead } from '../../../src/cds-hooks/services/ecg-rhythm/observation.js';

function observation(): Observation {
  return {
    resourceType: 'Observation',
    id: 'ecg-1',
    meta: { versionId: '1', lastUpdated: '2026-01-01T10:00:05Z' },
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: '11524-6' }] },
    subject: { reference: 'Patient/p1' },
    effectiveDateTime: '2026-01-01T10:00:00Z',
    valueSampledData: { origin: { value: 0, unit: 'mV', system: 'http://unitsofmeasure.org', code: 'mV' }, period: 3.3333333, factor: 0.001, dimensions: 1, data: '1 2 3 4 5' },
  };
}

function parts(edit: (p: EcgIssuedKeyParts) => void = () => {}): EcgIssuedKeyParts {
  const o = observation();
  const p: EcgIssuedKeyParts = {
    serviceId: 'vigil-ecg-rhythm',
    patient: 'Patient/p1',
    model: { id: 'ecg-rhythm', version: '2.0.0' },
    explainer: 'settings-a',
    backend: 'wasm',
    saliency: true,
    observation: o,
    lead: pickLead(o)!,
  };
  edit(p);
  return p;
}

/** Parts with the Observation edited (the lead re-read from it, as the service does). */
function withObservation(edit: (o: Observation) => void): EcgIssuedKeyParts {
  return parts((p) => {
    const o = observation();
    edit(o);
    p.observation = o;
    p.lead = pickLead(o)!;
  });
}

describe('ecgIssuedKeyOf', () => {
  const base = ecgIssuedKeyOf(parts());

  it('names the scheme, service, patient and model in the clear', () => {
    expect(JSON.parse(base).slice(0, 8)).toEqual([ECG_ISSUED_KEY_SCHEME, 'vigil-ecg-rhythm', 'Patient/p1', 'ecg-rhythm', '2.0.0', 'settings-a', 'wasm', true]);
  });

  it.each<[string, EcgIssuedKeyParts]>([
    ['service', parts((p) => (p.serviceId = 'vigil-ecg-rhythm-filed'))],
    ['patient', parts((p) => (p.patient = 'Patient/p2'))],
    ['model version', parts((p) => (p.model = { id: 'ecg-rhythm', version: '2.0.1' }))],
    ['explanation settings', parts((p) => (p.explainer = 'settings-b'))],
    ['back end', parts((p) => (p.backend = 'cpu'))],
    ['saliency off', parts((p) => (p.saliency = false))],
    ['Observation id', withObservation((o) => (o.id = 'ecg-2'))],
    ['meta.versionId', withObservation((o) => (o.meta = { ...o.meta, versionId: '2' }))],
    ['meta.lastUpdated', withObservation((o) => (o.meta = { ...o.meta, lastUpdated: '2026-01-01T11:00:00Z' }))],
    ['effective time', withObservation((o) => (o.effectiveDateTime = '2026-01-01T10:00:01Z'))],
    ['issued', withObservation((o) => (o.issued = '2026-01-01T10:05:00Z'))],
    ['one datum', withObservation((o) => (o.valueSampledData!.data = '1 2 3 4 6'))],
    ['origin', withObservation((o) => (o.valueSampledData!.origin = { ...o.valueSampledData!.origin, value: 0.1 }))],
    ['origin unit', withObservation((o) => (o.valueSampledData!.origin = { ...o.valueSampledData!.origin, code: 'uV', unit: 'uV' }))],
    ['period', withObservation((o) => (o.valueSampledData!.period = 4))],
    ['factor', withObservation((o) => (o.valueSampledData!.factor = 0.002))],
    ['upperLimit', withObservation((o) => (o.valueSampledData!.upperLimit = 2000))],
    ['dimensions', withObservation((o) => (o.valueSampledData!.dimensions = 5))],
    [
      'lead read (a component instead of valueSampledData)',
      withObservation((o) => {
        o.component = [{ code: { coding: [{ system: 'urn:oid:2.16.840.1.113883.6.24', code: '131329' }] }, valueSampledData: o.valueSampledData! }];
        delete o.valueSampledData;
      }),
    ],
  ])('changes with the %s', (_part, changed) => {
    expect(ecgIssuedKeyOf(changed)).not.toBe(base);
  });

  it('does not change with the SampledData key order, or with elements the card and record do not use', () => {
    const reordered = withObservation((o) => {
      const s = o.valueSampledData!;
      o.valueSampledData = { data: s.data, dimensions: s.dimensions, factor: s.factor, period: s.period, origin: { code: 'mV', system: 'http://unitsofmeasure.org', unit: 'mV', value: 0 } };
    });
    expect(ecgIssuedKeyOf(reordered)).toBe(base);
    expect(ecgIssuedKeyOf(withObservation((o) => (o.note = [{ text: 'filed by the handheld app' }])))).toBe(base);
  });
});
