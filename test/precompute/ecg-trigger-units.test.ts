/**
 * The pure parts of the new-ECG trigger (issue 10), without a model: which store writes are ECG tracings
 * (FhirStore.onWrite → watchStoreForEcgs, for create, update, transaction and bundle load), the AF
 * RiskAssessment's shape, and the filed-ECG hook's context checks.
 */
import { describe, expect, it } from '@jest/globals';
import type { Bundle, Observation } from 'fhir/r4';
import { BadRequestError } from '../../src/errors.js';
import { filedEcgTargets, MAX_FILED_ECGS } from '../../src/cds-hooks/services/ecg-rhythm/filed.js';
import { encodeSampledData } from '../../src/fhir/sampled-data.js';
import { ecgRiskAssessment, ecgRiskAssessmentId, isEcgTracing, watchStoreForEcgs } from '../../src/precompute/ecg.js';
import { FhirStore } from '../../src/sandbox/fhir/store.js';

const waveform = encodeSampledData(Float32Array.from({ length: 3000 }, (_, i) => Math.sin(i / 20)), 300);

function ecg(id: string | undefined, patientId: string, extra: Partial<Observation> = {}): Observation {
  return {
    resourceType: 'Observation',
    ...(id ? { id } : {}),
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: '11524-6' }] },
    subject: { reference: `Patient/${patientId}` },
    effectiveDateTime: '2026-01-01T10:00:00Z',
    valueSampledData: waveform,
    ...extra,
  };
}

describe('store writes → ECG trigger', () => {
  it('notifies ECG tracings on create, update, transaction-style writes and bundle loads; nothing else', () => {
    const store = new FhirStore();
    const seen: string[] = [];
    const stop = watchStoreForEcgs(store, (patient, observation) => seen.push(`${patient} ${observation}`));
    store.create(ecg('e1', 'p1'));
    store.update(ecg('e1', 'p1', { status: 'amended' }));
    store.create({ ...ecg('hr', 'p1'), code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] } });
    store.create(ecg('no-wave', 'p1', { valueSampledData: undefined }));
    store.create(ecg('wrong', 'p1', { status: 'entered-in-error' }));
    store.create({ resourceType: 'RiskAssessment', id: 'ra', status: 'final', subject: { reference: 'Patient/p1' } });
    const bundle: Bundle = { resourceType: 'Bundle', type: 'transaction', entry: [{ resource: ecg('e2', 'p2'), request: { method: 'PUT', url: 'Observation/e2' } }] };
    store.loadBundle(bundle);
    expect(seen).toEqual(['p1 Observation/e1', 'p1 Observation/e1', 'p2 Observation/e2']);
    stop();
    store.create(ecg('e3', 'p1'));
    expect(seen).toHaveLength(3);
  });

  it('a throwing listener does not fail the write', () => {
    const store = new FhirStore();
    store.onWrite(() => {
      throw new Error('listener bug');
    });
    expect(store.create(ecg('e1', 'p1')).id).toBe('e1');
    expect(store.has('Observation', 'e1')).toBe(true);
  });

  it('isEcgTracing: the MDC code and a lead component count too', () => {
    const component = ecg('c', 'p', {
      code: { coding: [{ system: 'urn:oid:2.16.840.1.113883.6.24', code: '131328' }] },
      valueSampledData: undefined,
      component: [{ code: { coding: [{ system: 'urn:oid:2.16.840.1.113883.6.24', code: '131329' }] }, valueSampledData: waveform }],
    });
    expect(isEcgTracing(component)).toBe(true);
    expect(isEcgTracing({ resourceType: 'Patient', id: 'p' })).toBe(false);
  });
});

describe('AF RiskAssessment', () => {
  const observation = ecg('e1', 'p1', { encounter: { reference: 'Encounter/enc-1' } });
  const ra = ecgRiskAssessment({
    patientId: 'p1',
    observation,
    observationRef: 'Observation/e1',
    classification: { rhythm: 'A', probabilities: { N: 0.1, A: 0.8, O: 0.07, '~': 0.03 } },
    manifest: { id: 'ecg-rhythm', version: '1.0.0' },
    now: new Date('2026-01-01T10:05:00Z'),
  });

  it('basis → the Observation, AF first with SNOMED CT, one prediction per class, preliminary', () => {
    expect(ra).toMatchObject({
      resourceType: 'RiskAssessment',
      status: 'preliminary',
      subject: { reference: 'Patient/p1' },
      encounter: { reference: 'Encounter/enc-1' },
      occurrenceDateTime: '2026-01-01T10:05:00.000Z',
      basis: [{ reference: 'Observation/e1' }],
      method: { coding: [{ system: 'http://vigil.example.org/CodeSystem/model', code: 'ecg-rhythm' }] },
    });
    expect(ra.prediction!.map((p) => [p.outcome!.text, p.probabilityDecimal])).toEqual([
      ['atrial fibrillation', 0.8],
      ['normal sinus rhythm', 0.1],
      ['other rhythm', 0.07],
      ['too noisy to classify', 0.03],
    ]);
    expect(ra.prediction![0]!.outcome!.coding).toEqual([{ system: 'http://snomed.info/sct', code: '49436004', display: 'Atrial fibrillation' }]);
  });

  it('its id is a valid FHIR id fixed by Observation and model version', () => {
    expect(ra.id).toBe(ecgRiskAssessmentId('Observation/e1', '1.0.0'));
    expect(ra.id).toMatch(/^[A-Za-z0-9\-.]{1,64}$/);
    expect(ecgRiskAssessmentId('Observation/e1', '1.0.1')).not.toBe(ra.id);
    expect(ecgRiskAssessmentId('Observation/e2', '1.0.0')).not.toBe(ra.id);
  });
});

describe('filed-ECG hook context', () => {
  const context = (entries: Observation[], patientId = 'p1') => ({ userId: 'Practitioner/1', patientId, observations: { resourceType: 'Bundle', type: 'collection', entry: entries.map((resource) => ({ resource })) } });

  it('returns exactly the filed ECG tracings, newest first; other Observations in the filing are ignored', () => {
    const older = ecg('old', 'p1', { effectiveDateTime: '2026-01-01T08:00:00Z' });
    const newer = ecg('new', 'p1', { effectiveDateTime: '2026-01-01T09:00:00Z', subject: { reference: 'https://ehr.example/fhir/Patient/p1' } });
    const hr = ecg('hr', 'p1', { code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] } });
    expect(filedEcgTargets(context([older, hr, newer])).map((t) => t.observationRef)).toEqual(['Observation/new', 'Observation/old']);
  });

  it.each<[string, Observation[], string]>([
    ['another patient', [ecg('e', 'p2')], 'context.observations.entry[0].resource.subject'],
    ['no subject', [ecg('e', 'p1', { subject: undefined })], 'context.observations.entry[0].resource.subject'],
    ['empty', [], 'context.observations.entry'],
    ['too many ECGs', Array.from({ length: MAX_FILED_ECGS + 1 }, (_, i) => ecg(`e${i}`, 'p1')), 'context.observations'],
  ])('%s → BadRequestError naming the field', (_name, entries, field) => {
    try {
      filedEcgTargets(context(entries));
      throw new Error('expected a BadRequestError');
    } catch (err) {
      expect(err).toBeInstanceOf(BadRequestError);
      expect((err as BadRequestError).details.map((d) => d.field)).toContain(field);
    }
  });
});
