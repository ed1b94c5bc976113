/**
 * What a PostgreSQL failure means to a caller (issue 9 §Faults "database unavailable"): the server cannot
 * be reached or used right now → StoreUnavailableError (503, retry later); text PostgreSQL cannot hold
 * (a NUL character) → BadRequestError; anything else is a bug and stays a 500.
 */
import { BadRequestError, StoreUnavailableError } from '../errors.js';

/** Socket-level failures: the server is down, unreachable or went away. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

/**
 * SQLSTATE (https://www.postgresql.org/docs/15/errcodes-appendix.html): 08 connection exception, 53
 * insufficient resources, 57014 statement timeout, 57P01–57P03 shutdown / not accepting connections,
 * 25006 read-only transaction (a fail-over replica), 40001/40P01 serialization failure or deadlock.
 */
const UNAVAILABLE_SQLSTATE = /^(08|53|57014|57P0[123]|25006|40001|40P01)/;

/** Messages of node-postgres's own failures (pool time-out, connection lost, pool ended), which carry no code. */
const UNAVAILABLE_MESSAGE = /timeout exceeded when trying to connect|Connection terminated|connection error|not queryable|Cannot use a pool after calling end|Query read timeout/i;

/** SQLSTATE 22021 / 22P05: a NUL (or otherwise unstorable) character in text. */
const BAD_TEXT_SQLSTATE = /^(22021|22P05)$/;

export function isPgUnavailable(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | undefined;
  if (typeof e?.code === 'string' && (NETWORK_CODES.has(e.code) || UNAVAILABLE_SQLSTATE.test(e.code))) return true;
  return typeof e?.message === 'string' && UNAVAILABLE_MESSAGE.test(e.message);
}

/** The typed error for a PostgreSQL failure (unchanged when it is neither unavailability nor bad text). */
export function fromPgError(err: unknown): unknown {
  if (isPgUnavailable(err)) return new StoreUnavailableError({ cause: err });
  const code = (err as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string' && BAD_TEXT_SQLSTATE.test(code)) return new BadRequestError('Text contains characters that cannot be stored (NUL)');
  return err;
}

/** Runs one store operation, translating PostgreSQL failures with fromPgError. */
export async function pgCall<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    throw fromPgError(err);
  }
}

/** PostgreSQL text cannot hold U+0000; index columns drop it (the full JSON keeps it, escaped). */
export function pgText(value: string): string;
export function pgText(value: string | null): string | null;
export function pgText(value: string | null): string | null {
  return value === null ? null : value.replace(/\u0000/g, '');
}
