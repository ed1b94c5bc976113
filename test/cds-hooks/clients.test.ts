import { afterEach, describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CdsClientRegistry, CdsClientsConfigError, loadCdsClients, parseCdsClients } from '../../src/cds-hooks/clients.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});
function writeTemp(content: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-clients-'));
  dirs.push(dir);
  const file = path.join(dir, 'clients.json');
  fs.writeFileSync(file, content);
  return file;
}

const jwk = { kty: 'EC', crv: 'P-384', kid: 'k1', x: 'abc', y: 'def', alg: 'ES384' };
const good = [
  { issuer: 'https://ehr.example', jwksUrl: 'https://ehr.example/jwks', services: ['*'], tenant: 't1' },
  { issuer: 'https://other.example', jwks: { keys: [jwk] }, services: ['news2'] },
];

function fieldsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CdsClientsConfigError);
    return (err as CdsClientsConfigError).details.map((d) => d.field ?? '');
  }
  throw new Error('expected CdsClientsConfigError');
}

describe('loadCdsClients', () => {
  it('reads a valid file', () => {
    const clients = loadCdsClients(writeTemp(JSON.stringify(good)));
    expect(clients).toEqual(good);
  });

  it('explains unreadable and non-JSON files', () => {
    expect(() => loadCdsClients('/nonexistent/clients.json')).toThrow(/cannot be read/);
    expect(() => loadCdsClients(writeTemp('[{'))).toThrow(/not valid JSON/);
  });

  it.each([
    ['not an array', { issuer: 'x' }, '(root)'],
    ['entry not an object', ['x'], '[0]'],
    ['missing issuer', [{ jwksUrl: 'https://a/jwks', services: ['*'] }], '[0].issuer'],
    ['neither jwksUrl nor jwks', [{ issuer: 'a', services: ['*'] }], '[0].jwksUrl'],
    ['both jwksUrl and jwks', [{ issuer: 'a', jwksUrl: 'https://a/j', jwks: { keys: [jwk] }, services: ['*'] }], '[0].jwksUrl'],
    ['relative jwksUrl', [{ issuer: 'a', jwksUrl: '/jwks', services: ['*'] }], '[0].jwksUrl'],
    ['empty key set', [{ issuer: 'a', jwks: { keys: [] }, services: ['*'] }], '[0].jwks.keys'],
    ['key without kty', [{ issuer: 'a', jwks: { keys: [{ kid: 'x' }] }, services: ['*'] }], '[0].jwks.keys[0].kty'],
    ['private key', [{ issuer: 'a', jwks: { keys: [{ ...jwk, d: 'secret' }] }, services: ['*'] }], '[0].jwks.keys[0].d'],
    ['no services', [{ issuer: 'a', jwksUrl: 'https://a/j', services: [] }], '[0].services'],
    ['bad service id', [{ issuer: 'a', jwksUrl: 'https://a/j', services: [''] }], '[0].services[0]'],
    ['empty tenant', [{ issuer: 'a', jwksUrl: 'https://a/j', services: ['*'], tenant: '' }], '[0].tenant'],
    ['duplicate issuer', [good[0], { ...good[0] }], '[1].issuer'],
  ])('names the field for %s', (_name, json, field) => {
    expect(fieldsOf(() => parseCdsClients(json))).toContain(field);
    expect(fieldsOf(() => loadCdsClients(writeTemp(JSON.stringify(json))))).toContain(field);
  });

  it('names the file and the field in the message', () => {
    const file = writeTemp(JSON.stringify([good[0], { issuer: 'b', services: ['*'] }]));
    expect(() => loadCdsClients(file)).toThrow(new RegExp(`${file}.*\\[1\\]\\.jwksUrl`));
  });
});

describe('CdsClientRegistry', () => {
  it('looks clients up by issuer and checks service permissions', () => {
    const registry = new CdsClientRegistry(parseCdsClients(good));
    expect(registry.byIssuer('https://ehr.example')?.tenant).toBe('t1');
    expect(registry.byIssuer('https://ehr.example/')).toBeUndefined();
    expect(registry.allows('https://ehr.example', 'anything')).toBe(true);
    expect(registry.allows('https://other.example', 'news2')).toBe(true);
    expect(registry.allows('https://other.example', 'sepsis')).toBe(false);
    expect(registry.allows('https://unknown.example', 'news2')).toBe(false);
  });

  it('lets the sandbox register itself, replacing by issuer, and refuses invalid entries', () => {
    const registry = new CdsClientRegistry();
    registry.add({ issuer: 'http://localhost:8080/sandbox', jwks: { keys: [jwk] }, services: ['news2'] });
    registry.add({ issuer: 'http://localhost:8080/sandbox', jwks: { keys: [jwk] }, services: ['*'] });
    expect(registry.list()).toHaveLength(1);
    expect(registry.allows('http://localhost:8080/sandbox', 'sepsis')).toBe(true);
    expect(() => registry.add({ issuer: '', services: ['*'] })).toThrow(CdsClientsConfigError);
  });
});
