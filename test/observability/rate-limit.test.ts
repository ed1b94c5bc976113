/**
 * Per-client rate limits (src/http/rate-limit.ts): token bucket arithmetic, bounded memory, and over HTTP
 * a 429 with Retry-After counted against the verified CDS client issuer, else the caller's IP.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { TokenBucketLimiter } from '../../src/http/rate-limit.js';
import { startVigil, type RunningVigil } from './helpers.js';

describe('TokenBucketLimiter', () => {
  it('allows a burst, then the sustained rate, and says when to retry', () => {
    const limiter = new TokenBucketLimiter({ ratePerSecond: 2, burst: 3 });
    const t0 = 1_000_000;
    expect([1, 2, 3].map(() => limiter.take('a', t0).allowed)).toEqual([true, true, true]);
    expect(limiter.take('a', t0)).toEqual({ allowed: false, retryAfterSeconds: 1 });
    // Another client has its own bucket.
    expect(limiter.take('b', t0).allowed).toBe(true);
    // 2 tokens/s: after 500 ms exactly one more request passes.
    expect(limiter.take('a', t0 + 500).allowed).toBe(true);
    expect(limiter.take('a', t0 + 500).allowed).toBe(false);
    // After a long quiet period the bucket is full again, never fuller.
    expect([1, 2, 3, 4].map(() => limiter.take('a', t0 + 60_000).allowed)).toEqual([true, true, true, false]);
  });

  it('rounds Retry-After up to whole seconds for slow rates', () => {
    const limiter = new TokenBucketLimiter({ ratePerSecond: 0.1, burst: 1 });
    limiter.take('a', 0);
    expect(limiter.take('a', 0)).toEqual({ allowed: false, retryAfterSeconds: 10 });
  });

  it('forgets the least recently seen clients beyond maxKeys, so a spoofed-address flood cannot grow memory', () => {
    const limiter = new TokenBucketLimiter({ ratePerSecond: 1, burst: 1, maxKeys: 100 });
    for (let i = 0; i < 10_000; i++) limiter.take(`ip:${i}`, 0);
    expect(limiter.size).toBe(100);
  });

  it('refuses a nonsensical configuration', () => {
    expect(() => new TokenBucketLimiter({ ratePerSecond: 0, burst: 1 })).toThrow();
  });
});

describe('rate limits on /cds-services', () => {
  let app: RunningVigil;
  beforeAll(async () => {
    app = await startVigil({ RATE_LIMIT_RPS: '1', RATE_LIMIT_BURST: '2' });
  });
  afterAll(async () => {
    await app.stop();
  });

  const body = () => ({ hook: 'patient-view', hookInstance: randomUUID(), context: { userId: 'Practitioner/u1', patientId: 'p1' }, prefetch: { patient: { resourceType: 'Patient', id: 'p1' } } });

  it('answers 429 with Retry-After once the issuer has spent its burst, without touching other clients', async () => {
    // Concurrent, so the bucket (2 now, 1 more per second) cannot refill between them even on a busy machine.
    const answers = await Promise.all(Array.from({ length: 6 }, () => app.post('/cds-services/vigil-news2', body())));
    const statuses = answers.map((r) => r.status);
    const ok = statuses.filter((s) => s === 200).length;
    expect(ok).toBeGreaterThanOrEqual(2);
    expect(ok).toBeLessThanOrEqual(3);
    expect(statuses.filter((s) => s !== 200).every((s) => s === 429)).toBe(true);
    const limited = answers.find((r) => r.status === 429)!;
    expect(limited.headers.get('retry-after')).toBe('1');
    expect(await limited.json()).toMatchObject({ error: 'too_many_requests' });
    // Unauthenticated callers are counted per IP, a separate bucket: still 401, not 429.
    const anonymous = await fetch(`${app.origin}/cds-services/vigil-news2`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(anonymous.status).toBe(401);
  });

  it('throttles a flood of refused (bad JWT) calls per IP, and never limits the probes', async () => {
    const answers = await Promise.all(
      Array.from({ length: 8 }, () => fetch(`${app.origin}/cds-services/vigil-news2`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer x.y.z' }, body: '{}' })),
    );
    const statuses = answers.map((r) => r.status);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(5);
    expect(statuses.filter((s) => s !== 429).every((s) => s === 401)).toBe(true);
    for (let i = 0; i < 20; i++) expect((await fetch(`${app.origin}/healthz`)).status).toBe(200);
    const metrics = await (await fetch(`${app.origin}/metrics`)).text();
    expect(metrics).toMatch(/vigil_rate_limited_total\{client_kind="issuer"\} [3-9]/);
    expect(metrics).toMatch(/vigil_rate_limited_total\{client_kind="ip"\} [5-9]/);
  });
});
