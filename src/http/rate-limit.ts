/**
 * Per-client rate limiting: a token bucket per client, where the client is the verified CDS client
 * issuer when authentication has identified one (res.locals.cdsClient), else the caller's IP address
 * (req.ip, which honours TRUST_PROXY). Over budget → 429 Too Many Requests with Retry-After
 * (RFC 9110 §10.2.3, RFC 6585 §4).
 *
 * The limiter sits behind the RateLimiter interface so a shared store (e.g. Redis or PostgreSQL) can
 * replace the in-memory one when replicas must share one budget; in memory, each replica enforces its
 * own, so the effective limit is N × the configured one behind a load balancer.
 */
import type { Request, RequestHandler, Response } from 'express';
import { TooManyRequestsError } from '../errors.js';
import type { VigilMetrics } from '../observability/metrics.js';

export interface RateDecision {
  allowed: boolean;
  /** Whole seconds until one request would be allowed (0 when allowed). */
  retryAfterSeconds: number;
}

export interface RateLimiter {
  /** Spends one token of `key`'s budget at time `nowMs`. */
  take(key: string, nowMs: number): RateDecision;
}

export interface TokenBucketOptions {
  /** Sustained requests per second per client. */
  ratePerSecond: number;
  /** Bucket size: how many requests may arrive at once after a quiet period. */
  burst: number;
  /** Most clients tracked; the least recently seen are forgotten first (a forgotten client starts full). Default 10 000. */
  maxKeys?: number;
}

interface Bucket {
  tokens: number;
  updatedMs: number;
}

/** Classic token bucket, one per key, refilled lazily on each take(). Memory is bounded by maxKeys. */
export class TokenBucketLimiter implements RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly maxKeys: number;

  constructor(private readonly options: TokenBucketOptions) {
    if (!(options.ratePerSecond > 0) || !(options.burst >= 1)) throw new Error('rate limit needs ratePerSecond > 0 and burst ≥ 1');
    this.maxKeys = options.maxKeys ?? 10_000;
  }

  take(key: string, nowMs: number): RateDecision {
    const { ratePerSecond, burst } = this.options;
    const bucket = this.buckets.get(key) ?? { tokens: burst, updatedMs: nowMs };
    const elapsed = Math.max(0, nowMs - bucket.updatedMs) / 1000;
    bucket.tokens = Math.min(burst, bucket.tokens + elapsed * ratePerSecond);
    bucket.updatedMs = nowMs;
    // Re-insert so Map order is least-recently-seen first, for eviction.
    this.buckets.delete(key);
    this.buckets.set(key, bucket);
    if (this.buckets.size > this.maxKeys) {
      const oldest = this.buckets.keys().next().value;
      if (oldest !== undefined) this.buckets.delete(oldest);
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { allowed: true, retryAfterSeconds: 0 };
    }
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / ratePerSecond)) };
  }

  /** Clients currently tracked (for tests and metrics). */
  get size(): number {
    return this.buckets.size;
  }
}

/** The client a request is counted against: "iss:<issuer>" once verified, else "ip:<address>". */
export function clientKeyOf(req: Request, res: Response): { key: string; kind: 'issuer' | 'ip' } {
  const issuer = (res.locals.cdsClient as { issuer?: unknown } | undefined)?.issuer;
  if (typeof issuer === 'string' && issuer) return { key: `iss:${issuer}`, kind: 'issuer' };
  return { key: `ip:${req.ip ?? req.socket.remoteAddress ?? 'unknown'}`, kind: 'ip' };
}

export interface RateLimitOptions {
  limiter: RateLimiter;
  metrics?: VigilMetrics;
  now?: () => number;
}

/** Middleware: spends one token for the request's client; over budget → TooManyRequestsError + Retry-After. */
export function rateLimit(options: RateLimitOptions): RequestHandler {
  const now = options.now ?? Date.now;
  return (req, res, next) => {
    const { key, kind } = clientKeyOf(req, res);
    const decision = options.limiter.take(key, now());
    if (decision.allowed) {
      next();
      return;
    }
    options.metrics?.countRateLimited(kind);
    res.setHeader('Retry-After', String(decision.retryAfterSeconds));
    next(new TooManyRequestsError('Too many requests from this client; retry later'));
  };
}
