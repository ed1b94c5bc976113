/**
 * The one place where errors become HTTP answers. CDS Hooks endpoints answer JSON
 * `{ error, message, details }`; FHIR endpoints answer an OperationOutcome. Unknown errors are
 * logged (without request data) and answered 500 with no internals.
 */
import type { ErrorRequestHandler, Response } from 'express';
import type { OperationOutcome } from 'fhir/r4';
import {
  BadRequestError,
  PayloadTooLargeError,
  StoreUnavailableError,
  UnauthorizedError,
  UnsupportedMediaTypeError,
  VigilError,
  isVigilError,
} from '../errors.js';
import type { Logger } from '../logger.js';

/**
 * SQLite result codes (better-sqlite3 SqliteError.code) meaning "the database cannot be used right now"
 * — locked past busy_timeout, I/O failure, disk full, file gone or read-only — as opposed to a bug in a
 * query. They answer 503 so clients retry and the instance recovers by itself when the cause clears.
 */
const STORE_UNAVAILABLE = /^SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN|READONLY|PROTOCOL)/;

export function isStoreUnavailable(err: unknown): boolean {
  const e = err as { name?: unknown; code?: unknown } | undefined;
  return e?.name === 'SqliteError' && typeof e.code === 'string' && STORE_UNAVAILABLE.test(e.code);
}

/** Body-parser and other express-level errors arrive as plain errors with `type`/`status`; give them our classes. */
export function normalizeError(err: unknown): VigilError {
  if (isVigilError(err)) return err;
  if (isStoreUnavailable(err)) return new StoreUnavailableError({ cause: err });
  const e = err as { type?: string; status?: number; message?: string } | undefined;
  switch (e?.type) {
    case 'entity.parse.failed':
      return new BadRequestError('Request body is not valid JSON', [{ field: 'body', message: 'malformed JSON' }]);
    case 'entity.too.large':
      return new PayloadTooLargeError('Request body is too large');
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new UnsupportedMediaTypeError('Unsupported request body encoding');
    case 'request.aborted':
      return new BadRequestError('Request aborted by the client');
  }
  if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500) {
    return new BadRequestError(e.message ?? 'Bad request');
  }
  return new VigilError('Internal server error', [], { cause: err });
}

function logIfServerError(logger: Logger, err: VigilError, original: unknown, reqId: unknown): void {
  if (err.status >= 500) {
    const cause = original instanceof Error ? original : undefined;
    // Only the error class, message and stack: never the request that caused it.
    logger.error({ reqId, errName: cause?.name, errMessage: cause?.message, stack: cause?.stack }, 'request failed');
  }
}

function setChallenge(res: Response, err: VigilError): void {
  if (err instanceof UnauthorizedError) res.setHeader('WWW-Authenticate', err.challenge);
}

export function jsonErrorHandler(logger: Logger): ErrorRequestHandler {
  return (original, req, res, next) => {
    if (res.headersSent) return next(original);
    const err = normalizeError(original);
    logIfServerError(logger, err, original, req.id);
    setChallenge(res, err);
    res.status(err.status).json({ error: err.code, message: err.message, details: err.details });
  };
}

/** FHIR issue-type codes (http://hl7.org/fhir/R4/valueset-issue-type.html) for our error classes. */
function issueCode(err: VigilError): OperationOutcome['issue'][number]['code'] {
  switch (err.status) {
    case 400:
      return 'invalid';
    case 401:
      return 'login';
    case 403:
      return 'forbidden';
    case 404:
      return 'not-found';
    case 405:
    case 415:
      return 'not-supported';
    case 412:
      return 'conflict';
    case 413:
      return 'too-costly';
    case 422:
      return 'processing';
    case 429:
      return 'throttled';
    default:
      return 'exception';
  }
}

export function operationOutcomeFor(err: VigilError): OperationOutcome {
  const issues: OperationOutcome['issue'] = err.details.length
    ? err.details.map((d) => ({
        severity: 'error' as const,
        code: issueCode(err),
        diagnostics: d.message,
        ...(d.field ? { expression: [d.field] } : {}),
      }))
    : [{ severity: 'error', code: issueCode(err), diagnostics: err.message }];
  return { resourceType: 'OperationOutcome', issue: issues };
}

export function operationOutcomeErrorHandler(logger: Logger): ErrorRequestHandler {
  return (original, req, res, next) => {
    if (res.headersSent) return next(original);
    const err = normalizeError(original);
    logIfServerError(logger, err, original, req.id);
    setChallenge(res, err);
    res.status(err.status).type('application/fhir+json').send(JSON.stringify(operationOutcomeFor(err)));
  };
}
