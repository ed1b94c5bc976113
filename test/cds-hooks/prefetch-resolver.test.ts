import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { resolvePrefetch } from '../../src/cds-hooks/prefetch-resolver.js';
import type { CdsHookRequest, CdsService, FhirReader } from '../../src/cds-hooks/types.js';
import { PreconditionFailedError } from '../../src/errors.js';
import { createFhirReader, FhirReadError } from '../../src/fhir/fhir-reader.js';
import { startFakeFhir, type FakeFhirServer } from './helpers.js';

function service(prefetch: Record<string, string>, requiredPrefetch: string[] = []): CdsService {
  return {
    definition: { id: 's', hook: 'patient-view', description: 'd', prefetch },
    requiredPrefetch,
    handle: async () => ({ cards: [] }),
  };
}

const request: CdsHookRequest = {
  hook: 'patient-view',
  hookInstance: 'd1577c69-dfbe-44ad-ba6d-3e05e953b2ea',
  fhirServer: 'http://unused',
  context: { userId: 'Practitioner/u1', patientId: 'p1' },
};

async function precondition(promise: Promise<unknown>): Promise<PreconditionFailedError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(PreconditionFailedError);
    return err as PreconditionFailedError;
  }
  throw new Error('expected 412');
}

let fhir: FakeFhirServer;
beforeAll(async () => {
  fhir = await startFakeFhir({
    'Patient/p1': { delayMs: 120, body: { resourceType: 'Patient', id: 'p1' } },
    'Encounter?patient=p1': { delayMs: 120, body: { resourceType: 'Bundle', type: 'searchset' } },
    'Condition?patient=p1': { status: 403, body: { resourceType: 'OperationOutcome', issue: [] } },
  });
});
afterAll(() => fhir.close());

describe('resolvePrefetch', () => {
  it('reads all missing keys in parallel over HTTP', async () => {
    const reader = createFhirReader(fhir.baseUrl, undefined, { timeoutMs: 2000 });
    const { prefetch, outcomes } = await resolvePrefetch({
      service: service({ patient: 'Patient/{{context.patientId}}', encounters: 'Encounter?patient={{context.patientId}}' }),
      request,
      reader,
    });
    expect(fhir.maxInFlight).toBe(2);
    expect(prefetch.patient).toEqual({ resourceType: 'Patient', id: 'p1' });
    expect(prefetch.encounters?.resourceType).toBe('Bundle');
    expect(outcomes.map((o) => o.source)).toEqual(['fhir', 'fhir']);
  });

  it('412 for a required key the server forbids; optional keys become null', async () => {
    const reader = createFhirReader(fhir.baseUrl, undefined, { timeoutMs: 2000 });
    const err = await precondition(
      resolvePrefetch({ service: service({ conditions: 'Condition?patient={{context.patientId}}' }, ['conditions']), request, reader }),
    );
    expect(err.details).toEqual([{ field: 'prefetch.conditions', message: expect.stringContaining('403') }]);
    const { prefetch } = await resolvePrefetch({ service: service({ conditions: 'Condition?patient={{context.patientId}}' }), request, reader });
    expect(prefetch).toEqual({ conditions: null });
  });

  it('412 when a required template cannot be filled, or has no template at all', async () => {
    const reader: FhirReader = { get: async () => ({ resourceType: 'Patient' }) };
    const err = await precondition(
      resolvePrefetch({ service: service({ enc: 'Encounter/{{context.encounterId}}' }, ['enc', 'ghost']), request, reader }),
    );
    expect(err.details.map((d) => d.field)).toEqual(['prefetch.enc', 'prefetch.ghost']);
    expect(err.message).toContain('enc, ghost');
  });

  it('prefers the EHR prefetch and ignores keys it did not ask for', async () => {
    let reads = 0;
    const reader: FhirReader = { get: async () => (reads++, { resourceType: 'Patient', id: 'fetched' }) };
    const { prefetch } = await resolvePrefetch({
      service: service({ patient: 'Patient/{{context.patientId}}' }, ['patient']),
      request: { ...request, prefetch: { patient: { resourceType: 'Patient', id: 'sent' }, other: { resourceType: 'Patient' } } },
      reader,
    });
    expect(prefetch).toEqual({ patient: { resourceType: 'Patient', id: 'sent' } });
    expect(reads).toBe(0);
  });

  it('treats non-FhirReadError failures as unobtainable', async () => {
    const reader: FhirReader = {
      get: async () => {
        throw new Error('boom');
      },
    };
    await precondition(resolvePrefetch({ service: service({ p: 'Patient/{{context.patientId}}' }, ['p']), request, reader }));
  });

  it('keeps the EHR null when a re-read fails, without 412', async () => {
    const reader: FhirReader = {
      get: async () => {
        throw new FhirReadError('x', 'timeout');
      },
    };
    const { prefetch, outcomes } = await resolvePrefetch({
      service: service({ p: 'Patient/{{context.patientId}}' }, ['p']),
      request: { ...request, prefetch: { p: null } },
      reader,
    });
    expect(prefetch).toEqual({ p: null });
    expect(outcomes[0]!.missing).toBe('empty');
  });

  it('412 for a required key without fhirServer, naming why', async () => {
    const err = await precondition(resolvePrefetch({ service: service({ p: 'Patient/{{context.patientId}}' }, ['p']), request }));
    expect(err.details[0]!.message).toMatch(/no fhirServer/);
  });
});
