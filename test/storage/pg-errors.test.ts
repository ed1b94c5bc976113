/** What a PostgreSQL failure becomes (src/storage/pg-errors.ts): unavailable → 503, NUL text → 400, bugs unchanged. */
import { describe, expect, it } from '@jest/globals';
import { BadRequestError, StoreUnavailableError } from '../../src/errors.js';
import { fromPgError, isPgUnavailable, pgText } from '../../src/storage/pg-errors.js';

const withCode = (code: string, message = 'x') => Object.assign(new Error(message), { code });

describe('isPgUnavailable', () => {
  it.each([
    ['connection refused', withCode('ECONNREFUSED')],
    ['connection reset', withCode('ECONNRESET')],
    ['host unreachable', withCode('EHOSTUNREACH')],
    ['connection failure (08006)', withCode('08006')],
    ['too many connections (53300)', withCode('53300')],
    ['statement timeout (57014)', withCode('57014')],
    ['admin shutdown (57P01)', withCode('57P01')],
    ['starting up (57P03)', withCode('57P03')],
    ['read-only after fail-over (25006)', withCode('25006')],
    ['serialization failure (40001)', withCode('40001')],
    ['pool connect time-out', new Error('timeout exceeded when trying to connect')],
    ['connection lost', new Error('Connection terminated unexpectedly')],
    ['connect time-out', new Error('Connection terminated due to connection timeout')],
  ])('%s → unavailable', (_name, err) => {
    expect(isPgUnavailable(err)).toBe(true);
    expect(fromPgError(err)).toBeInstanceOf(StoreUnavailableError);
    expect((fromPgError(err) as StoreUnavailableError).status).toBe(503);
  });

  it.each([
    ['syntax error (42601)', withCode('42601')],
    ['unique violation (23505)', withCode('23505')],
    ['undefined table (42P01)', withCode('42P01')],
    ['a plain bug', new TypeError('x is undefined')],
  ])('%s → unchanged (a bug, 500)', (_name, err) => {
    expect(isPgUnavailable(err)).toBe(false);
    expect(fromPgError(err)).toBe(err);
  });

  it('NUL in text → 400, and pgText drops NUL from index columns', () => {
    expect(fromPgError(withCode('22021'))).toBeInstanceOf(BadRequestError);
    expect(fromPgError(withCode('22P05'))).toBeInstanceOf(BadRequestError);
    expect(pgText('a\u0000b')).toBe('ab');
    expect(pgText(null)).toBeNull();
  });
});
