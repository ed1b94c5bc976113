/**
 * SMART scope grammar (v2 and v1), the shared access decision and PKCE S256 — table tests.
 */
import { describe, expect, it } from '@jest/globals';
import { decideAccess } from '../../src/smart/access-decision.js';
import { isValidCodeChallenge, newPkcePair, s256Challenge, verifierMatches } from '../../src/smart/pkce.js';
import { parseClinicalScope, scopesPermit, splitScopes } from '../../src/smart/scopes.js';

describe('parseClinicalScope', () => {
  it.each([
    ['patient/Observation.rs', { context: 'patient', resourceType: 'Observation', perms: 'rs' }],
    ['patient/*.rs', { context: 'patient', resourceType: '*', perms: 'rs' }],
    ['user/*.cruds', { context: 'user', resourceType: '*', perms: 'cruds' }],
    ['system/Patient.r', { context: 'system', resourceType: 'Patient', perms: 'r' }],
    ['patient/*.read', { context: 'patient', resourceType: '*', perms: 'rs' }],
    ['user/Observation.write', { context: 'user', resourceType: 'Observation', perms: 'cud' }],
    ['patient/*.*', { context: 'patient', resourceType: '*', perms: 'cruds' }],
  ])('%s', (scope, want) => {
    const parsed = parseClinicalScope(scope)!;
    expect(parsed.context).toBe(want.context);
    expect(parsed.resourceType).toBe(want.resourceType);
    expect([...parsed.permissions].sort().join('')).toBe([...want.perms].sort().join(''));
  });

  it.each(['openid', 'launch/patient', 'patient/Observation.sr', 'patient/Observation.rr', 'patient/observation.rs', 'admin/*.rs', 'patient/*.x'])(
    '%s is not a clinical scope',
    (scope) => {
      expect(parseClinicalScope(scope)).toBeUndefined();
    },
  );

  it('keeps the query of a granular scope, which then grants nothing', () => {
    expect(parseClinicalScope('patient/Observation.rs?category=vital-signs')?.query).toBe('category=vital-signs');
    expect(scopesPermit(['patient/Observation.rs?category=vital-signs'], { resourceType: 'Observation', access: 'read', contexts: ['patient'] })).toBe(false);
  });

  it('splitScopes dedupes and ignores extra spaces', () => {
    expect(splitScopes('  openid  patient/*.rs openid ')).toEqual(['openid', 'patient/*.rs']);
    expect(splitScopes(undefined)).toEqual([]);
  });
});

describe('decideAccess', () => {
  const A = 'patient-a';
  const B = 'patient-b';
  it.each([
    ['patient scope, own patient', { scope: 'patient/*.rs', patient: A }, { resourceType: 'Observation', access: 'read', patientId: A }, true],
    ['patient scope, other patient', { scope: 'patient/*.rs', patient: A }, { resourceType: 'Observation', access: 'read', patientId: B }, 'patient'],
    ['patient scope, unknown patient', { scope: 'patient/*.rs', patient: A }, { resourceType: 'Observation', access: 'search' }, 'patient'],
    ['patient scope, no patient in token', { scope: 'patient/*.rs' }, { resourceType: 'Observation', access: 'read', patientId: A }, 'patient'],
    ['scope without the type', { scope: 'patient/Observation.rs', patient: A }, { resourceType: 'Condition', access: 'read', patientId: A }, 'scope'],
    ['scope without the interaction', { scope: 'patient/Patient.r', patient: A }, { resourceType: 'Patient', access: 'search', patientId: A }, 'scope'],
    ['read-only scope, write', { scope: 'patient/*.rs', patient: A }, { resourceType: 'Observation', access: 'create', patientId: A }, 'scope'],
    ['user scope with a user', { scope: 'user/*.rs', user: 'Practitioner/1' }, { resourceType: 'Observation', access: 'search' }, true],
    ['user scope without a user', { scope: 'user/*.rs' }, { resourceType: 'Observation', access: 'search' }, 'scope'],
    ['system scope, backend token', { scope: 'system/Observation.rs' }, { resourceType: 'Observation', access: 'search' }, true],
    ['system scope on a user token', { scope: 'system/*.rs', user: 'Practitioner/1' }, { resourceType: 'Observation', access: 'search' }, 'scope'],
    ['v1 read scope', { scope: 'patient/*.read', patient: A }, { resourceType: 'Observation', access: 'search', patientId: A }, true],
  ] as const)('%s', (_name, grant, request, want) => {
    const decision = decideAccess(grant, request);
    if (want === true) expect(decision).toEqual({ allowed: true });
    else expect(decision).toEqual({ allowed: false, reason: want });
  });
});

describe('PKCE S256', () => {
  it('matches the RFC 7636 Appendix B example', () => {
    expect(s256Challenge('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk')).toBe('E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM');
  });

  it('accepts the right verifier only', () => {
    const { verifier, challenge } = newPkcePair();
    expect(isValidCodeChallenge(challenge)).toBe(true);
    expect(verifierMatches(verifier, challenge)).toBe(true);
    expect(verifierMatches(newPkcePair().verifier, challenge)).toBe(false);
    expect(verifierMatches('short', challenge)).toBe(false);
    expect(verifierMatches(undefined, challenge)).toBe(false);
  });
});
