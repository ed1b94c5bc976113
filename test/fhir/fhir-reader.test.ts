import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createFhirReader, FhirReadError } from '../../src/fhir/fhir-reader.js';
import { BadRequestError } from '../../src/errors.js';
import type { FhirAuthorization } from '../../src/cds-hooks/types.js';
import { startFakeFhir, type FakeFhirServer } from '../cds-hooks/helpers.js';

const auth: FhirAuthorization = {
  access_token: 'opaque.token-äbc/+=',
  token_type: 'Bearer',
  expires_in: 300,
  scope: 'patient/*.read',
  subject: 'vigil',
};

let fhir: FakeFhirServer;
beforeAll(async () => {
  fhir = await startFakeFhir({
    'Patient/p1': { body: { resourceType: 'Patient', id: 'p1' } },
    'Observation?patient=p1&code=8867-4': { body: { resourceType: 'Bundle', type: 'searchset', entry: [] } },
    'Patient/secret': { status: 401, body: { resourceType: 'OperationOutcome', issue: [] } },
    'Patient/forbidden': { status: 403, body: { resourceType: 'OperationOutcome', issue: [] } },
    'Patient/broken': { status: 500, body: 'Internal Server Error' },
    'Patient/html': { body: '<html>login</html>', contentType: 'text/html' },
    'Patient/notresource': { body: { hello: 'world' } },
    'Patient/slow': { delayMs: 5000, body: { resourceType: 'Patient', id: 'slow' } },
  });
});
afterAll(() => fhir.close());

async function failure(promise: Promise<unknown>): Promise<FhirReadError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(FhirReadError);
    return err as FhirReadError;
  }
  throw new Error('expected a FhirReadError');
}

describe('createFhirReader', () => {
  it('reads a resource, forwarding the bearer token unchanged and asking for FHIR JSON', async () => {
    const reader = createFhirReader(fhir.baseUrl, auth, { timeoutMs: 2000 });
    await expect(reader.get('Patient/p1')).resolves.toEqual({ resourceType: 'Patient', id: 'p1' });
    const req = fhir.requests.at(-1)!;
    expect(req.authorization).toBe(`Bearer ${auth.access_token}`);
    expect(req.accept).toContain('application/fhir+json');
  });

  it('sends no Authorization header when the EHR gave no token', async () => {
    const reader = createFhirReader(`${fhir.baseUrl}/`, undefined, { timeoutMs: 2000 });
    const bundle = await reader.get('Observation?patient=p1&code=8867-4');
    expect(bundle.resourceType).toBe('Bundle');
    expect(fhir.requests.at(-1)!.authorization).toBeUndefined();
  });

  it.each([
    ['Patient/missing', 'not-found', 404],
    ['Patient/secret', 'unauthorized', 401],
    ['Patient/forbidden', 'forbidden', 403],
    ['Patient/broken', 'http-error', 500],
  ])('maps %s to %s keeping status %d', async (url, kind, status) => {
    const err = await failure(createFhirReader(fhir.baseUrl, auth, { timeoutMs: 2000 }).get(url));
    expect(err.failure).toBe(kind);
    expect(err.upstreamStatus).toBe(status);
    expect(err.status).toBe(502);
    expect(err.message).not.toContain(auth.access_token);
  });

  it('rejects non-JSON and non-resource bodies', async () => {
    const reader = createFhirReader(fhir.baseUrl, auth, { timeoutMs: 2000 });
    expect((await failure(reader.get('Patient/html'))).failure).toBe('invalid-response');
    expect((await failure(reader.get('Patient/notresource'))).failure).toBe('invalid-response');
  });

  it('times out', async () => {
    const started = Date.now();
    const err = await failure(createFhirReader(fhir.baseUrl, auth, { timeoutMs: 100 }).get('Patient/slow'));
    expect(err.failure).toBe('timeout');
    expect(Date.now() - started).toBeLessThan(2500);
  });

  it('stops when the outer signal aborts', async () => {
    const controller = new AbortController();
    const reader = createFhirReader(fhir.baseUrl, auth, { timeoutMs: 5000, signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    expect((await failure(reader.get('Patient/slow'))).failure).toBe('aborted');
  });

  it('reports an unreachable server as a network failure', async () => {
    const reader = createFhirReader('http://127.0.0.1:9/fhir', auth, { timeoutMs: 2000 });
    expect((await failure(reader.get('Patient/p1'))).failure).toBe('network');
  });

  it.each(['http://evil.example/Patient/1', 'https://evil.example', '//evil.example/x', '/Patient/1', 'httpx/Patient', '../admin', 'Patient/../../x', 'javascript:alert(1)', ''])(
    'refuses to send the token to %j',
    async (url) => {
      const before = fhir.requests.length;
      expect((await failure(createFhirReader(fhir.baseUrl, auth, { timeoutMs: 2000 }).get(url))).failure).toBe('invalid-url');
      expect(fhir.requests.length).toBe(before);
    },
  );

  it.each(['ftp://ehr.example/fhir', 'file:///etc', 'not a url'])('refuses fhirServer %j', (server) => {
    expect(() => createFhirReader(server, auth, { timeoutMs: 1000 })).toThrow(BadRequestError);
  });
});
