/**
 * RemoteJwksCache: unknown-kid refresh, the cool-down that bounds fetches, shared in-flight fetches,
 * stale-on-failure and max age. The fetcher and clock are injected; one test uses real HTTP.
 */
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from '@jest/globals';
import express from 'express';
import type { JSONWebKeySet } from 'jose';
import { fetchJwksOverHttp, JwksUnavailableError, RemoteJwksCache, UnknownKeyError } from '../../src/smart/jwks-cache.js';
import { makeKey } from './helpers.js';

const URL_A = 'https://ehr.example/jwks.json';

function fakeFetcher(sets: () => JSONWebKeySet | Error) {
  const calls: string[] = [];
  const fetchJwks = async (url: string) => {
    calls.push(url);
    const next = sets();
    if (next instanceof Error) throw next;
    return next;
  };
  return { calls, fetchJwks };
}

describe('RemoteJwksCache', () => {
  it('fetches once, then serves known kids from the cache', async () => {
    const k1 = await makeKey('ES384', 'k1');
    const { calls, fetchJwks } = fakeFetcher(() => ({ keys: [k1.jwk] }));
    const cache = new RemoteJwksCache({ cooldownSeconds: 30, maxAgeSeconds: 600, fetchJwks });
    await cache.keyFor(URL_A, { alg: 'ES384', kid: 'k1' });
    await cache.keyFor(URL_A, { alg: 'ES384', kid: 'k1' });
    expect(calls).toHaveLength(1);
  });

  it('a flood of unknown kids causes at most one fetch per cool-down', async () => {
    const k1 = await makeKey('ES384', 'k1');
    let clock = 1_000_000;
    const { calls, fetchJwks } = fakeFetcher(() => ({ keys: [k1.jwk] }));
    const cache = new RemoteJwksCache({ cooldownSeconds: 30, maxAgeSeconds: 600, fetchJwks, now: () => clock });
    await cache.keyFor(URL_A, { alg: 'ES384', kid: 'k1' });
    const flood = Array.from({ length: 50 }, (_, i) => cache.keyFor(URL_A, { alg: 'ES384', kid: `bogus-${i}` }));
    const results = await Promise.allSettled(flood);
    expect(results.every((r) => r.status === 'rejected' && r.reason instanceof UnknownKeyError)).toBe(true);
    // The first fetch happened at start; the flood is inside the cool-down: no refetch at all.
    expect(calls).toHaveLength(1);
    clock += 31_000;
    await Promise.allSettled(Array.from({ length: 50 }, (_, i) => cache.keyFor(URL_A, { alg: 'ES384', kid: `bogus2-${i}` })));
    expect(calls).toHaveLength(2);
  });

  it('picks up a rotated key once the cool-down has passed', async () => {
    const k1 = await makeKey('ES384', 'k1');
    const k2 = await makeKey('ES384', 'k2');
    let clock = 0;
    let published: JSONWebKeySet = { keys: [k1.jwk] };
    const { fetchJwks } = fakeFetcher(() => published);
    const cache = new RemoteJwksCache({ cooldownSeconds: 30, maxAgeSeconds: 600, fetchJwks, now: () => clock });
    await cache.keyFor(URL_A, { alg: 'ES384', kid: 'k1' });
    published = { keys: [k1.jwk, k2.jwk] };
    await expect(cache.keyFor(URL_A, { alg: 'ES384', kid: 'k2' })).rejects.toBeInstanceOf(UnknownKeyError);
    clock += 30_000;
    await expect(cache.keyFor(URL_A, { alg: 'ES384', kid: 'k2' })).resolves.toBeDefined();
  });

  it('concurrent first uses share one fetch', async () => {
    const k1 = await makeKey('ES384', 'k1');
    const { calls, fetchJwks } = fakeFetcher(() => ({ keys: [k1.jwk] }));
    const cache = new RemoteJwksCache({ cooldownSeconds: 0, maxAgeSeconds: 600, fetchJwks });
    await Promise.all(Array.from({ length: 10 }, () => cache.keyFor(URL_A, { alg: 'ES384', kid: 'k1' })));
    expect(calls).toHaveLength(1);
  });

  it('keeps using the last good set when a refresh fails, and fails closed when it never had one', async () => {
    const k1 = await makeKey('ES384', 'k1');
    let clock = 0;
    let answer: JSONWebKeySet | Error = { keys: [k1.jwk] };
    const { fetchJwks } = fakeFetcher(() => answer);
    const cache = new RemoteJwksCache({ cooldownSeconds: 0, maxAgeSeconds: 60, fetchJwks, now: () => clock });
    await cache.keyFor(URL_A, { alg: 'ES384', kid: 'k1' });
    answer = new Error('down');
    clock += 120_000; // past max age: a refetch is due and fails
    await expect(cache.keyFor(URL_A, { alg: 'ES384', kid: 'k1' })).resolves.toBeDefined();
    await expect(cache.keyFor('https://other.example/jwks.json', { alg: 'ES384', kid: 'k1' })).rejects.toBeInstanceOf(JwksUnavailableError);
  });

  it('refetches after the maximum age', async () => {
    const k1 = await makeKey('ES384', 'k1');
    let clock = 0;
    const { calls, fetchJwks } = fakeFetcher(() => ({ keys: [k1.jwk] }));
    const cache = new RemoteJwksCache({ cooldownSeconds: 30, maxAgeSeconds: 600, fetchJwks, now: () => clock });
    await cache.keyFor(URL_A, { alg: 'ES384', kid: 'k1' });
    clock += 599_000;
    await cache.keyFor(URL_A, { alg: 'ES384', kid: 'k1' });
    expect(calls).toHaveLength(1);
    clock += 2_000;
    await cache.keyFor(URL_A, { alg: 'ES384', kid: 'k1' });
    expect(calls).toHaveLength(2);
  });

  it('refuses a key whose alg differs from the token header', async () => {
    const k1 = await makeKey('ES384', 'k1');
    const { fetchJwks } = fakeFetcher(() => ({ keys: [k1.jwk] }));
    const cache = new RemoteJwksCache({ cooldownSeconds: 30, maxAgeSeconds: 600, fetchJwks });
    await expect(cache.keyFor(URL_A, { alg: 'ES256', kid: 'k1' })).rejects.toBeInstanceOf(UnknownKeyError);
  });
});

describe('fetchJwksOverHttp', () => {
  it('reads a JWK Set, refuses redirects, error statuses and non-sets', async () => {
    const k1 = await makeKey('ES384', 'k1');
    const app = express();
    app.get('/ok', (_req, res) => res.json({ keys: [k1.jwk] }));
    app.get('/redirect', (_req, res) => res.redirect('/ok'));
    app.get('/500', (_req, res) => res.status(500).json({}));
    app.get('/not-a-set', (_req, res) => res.json({ keys: 'no' }));
    const server = app.listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const signal = () => AbortSignal.timeout(2000);
      await expect(fetchJwksOverHttp(`${base}/ok`, signal())).resolves.toEqual({ keys: [k1.jwk] });
      await expect(fetchJwksOverHttp(`${base}/redirect`, signal())).rejects.toThrow();
      await expect(fetchJwksOverHttp(`${base}/500`, signal())).rejects.toThrow(/500/);
      await expect(fetchJwksOverHttp(`${base}/not-a-set`, signal())).rejects.toThrow(/not a JWK Set/);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
