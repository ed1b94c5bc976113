/**
 * The logger's redaction list is the second line of defence against PHI in logs: PHI-shaped objects fed
 * straight into it (top level and one level down, as error wrappers and request objects nest them) must
 * come out without a single identifying value.
 */
import { describe, expect, it } from '@jest/globals';
import type { Bundle, Observation, Patient } from 'fhir/r4';
import { capturingLogger } from '../smart/helpers.js';

const NAME = 'Zebedee Quinterra';
const MRN = 'MRN-99812377';
const BIRTH = '1937-04-05';
const TOKEN = 'eyJhbGciOiJFUzM4NCJ9.secret-access-token.sig';
const PHONE = '+44 20 7946 0321';
const STREET = '221B Quillfeather Lane';
const PATIENT_ID = 'pat-778899';

const patient: Patient = {
  resourceType: 'Patient',
  id: PATIENT_ID,
  identifier: [{ system: 'urn:oid:1.2.36.146.595.217.0.1', value: MRN }],
  name: [{ family: 'Quinterra', given: ['Zebedee'], text: NAME }],
  birthDate: BIRTH,
  telecom: [{ system: 'phone', value: PHONE }],
  address: [{ line: [STREET] }],
};
const observation: Observation = {
  resourceType: 'Observation',
  id: 'o1',
  status: 'final',
  code: { text: 'heart rate' },
  subject: { reference: `Patient/${PATIENT_ID}`, display: NAME },
  valueQuantity: { value: 131 },
};
const bundle: Bundle = { resourceType: 'Bundle', type: 'searchset', entry: [{ resource: observation }] };
const hookRequest = {
  hook: 'patient-view',
  hookInstance: 'f1e2',
  fhirAuthorization: { access_token: TOKEN, token_type: 'Bearer', expires_in: 300, scope: 'patient/*.read', subject: 'vigil', patient: PATIENT_ID },
  context: { userId: 'Practitioner/1', patientId: PATIENT_ID },
  prefetch: { patient, vitals: bundle },
};

const SECRETS = [NAME, 'Quinterra', MRN, BIRTH, TOKEN, PHONE, STREET, PATIENT_ID];

describe('logger redaction', () => {
  it.each([
    ['a whole hook request', hookRequest],
    ['its parts at the top level', { context: hookRequest.context, prefetch: hookRequest.prefetch, fhirAuthorization: hookRequest.fhirAuthorization }],
    ['a FHIR resource', { resource: patient }],
    ['a patient and a body one level down', { err: { patient, body: hookRequest }, req: { body: hookRequest, headers: { authorization: `Bearer ${TOKEN}` } } }],
    ['identifying fields one level down', { record: { name: patient.name, birthDate: BIRTH, identifier: patient.identifier, telecom: patient.telecom, address: patient.address, patientId: PATIENT_ID } }],
    ['tokens', { access_token: TOKEN, refresh_token: TOKEN, id_token: TOKEN, token: TOKEN, authorization: `Bearer ${TOKEN}` }],
    ['request headers', { req: { headers: { authorization: `Bearer ${TOKEN}`, cookie: `sid=${TOKEN}` } } }],
  ])('leaks nothing from %s', (_label, payload) => {
    const { logger, lines } = capturingLogger('trace');
    logger.info(payload as Record<string, unknown>, 'event');
    logger.child({ reqId: 'r1' }).warn(payload as Record<string, unknown>, 'child event');
    expect(lines).toHaveLength(2);
    const text = lines.join('\n');
    for (const secret of SECRETS) expect(text).not.toContain(secret);
    expect(text).toContain('[redacted]');
    // Still valid JSON lines with the message kept: redaction must not break the log format.
    for (const line of lines) expect(JSON.parse(line)).toHaveProperty('msg');
  });

  it('keeps the operational fields that carry no patient data', () => {
    const { logger, lines } = capturingLogger('info');
    logger.info({ reqId: 'abc', serviceId: 'vigil-news2', status: 412, ms: 12.5, prefetchSources: ['patient:request'] }, 'hook answered');
    expect(JSON.parse(lines[0]!)).toMatchObject({ reqId: 'abc', serviceId: 'vigil-news2', status: 412, ms: 12.5 });
  });
});
