/**
 * Typed errors. Each carries a stable machine code and the HTTP status it maps to; the single HTTP
 * mapping lives in src/http/error-handler.ts (and the HL7 ACK mapping will live beside the HL7 listener).
 */

export interface ErrorDetail {
  /** Where the problem is, as a JSON path into the request (e.g. "context.patientId") or a parameter name. */
  field?: string;
  message: string;
}

export class VigilError extends Error {
  readonly status: number = 500;
  readonly code: string = 'internal_error';
  readonly details: ErrorDetail[];

  constructor(message: string, details: ErrorDetail[] = [], options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.details = details;
  }
}

/** Syntactically malformed request (bad JSON, missing or wrongly typed field). */
export class BadRequestError extends VigilError {
  override readonly status = 400;
  override readonly code = 'bad_request';
}

/** Missing, invalid or expired credentials. */
export class UnauthorizedError extends VigilError {
  override readonly status = 401;
  override readonly code = 'unauthorized';
  constructor(
    message: string,
    /** Value for the WWW-Authenticate header. */
    readonly challenge = 'Bearer',
    details: ErrorDetail[] = [],
  ) {
    super(message, details);
  }
}

/** Valid credentials that do not cover this request (scope, patient, service). */
export class ForbiddenError extends VigilError {
  override readonly status = 403;
  override readonly code = 'forbidden';
}

export class NotFoundError extends VigilError {
  override readonly status = 404;
  override readonly code = 'not_found';
}

/** The resource or endpoint exists but does not support this HTTP method (FHIR answers 405). */
export class MethodNotAllowedError extends VigilError {
  override readonly status = 405;
  override readonly code = 'method_not_allowed';
}

/** A precondition the request relies on does not hold — CDS Hooks uses 412 when required FHIR data cannot be obtained. */
export class PreconditionFailedError extends VigilError {
  override readonly status = 412;
  override readonly code = 'precondition_failed';
}

export class PayloadTooLargeError extends VigilError {
  override readonly status = 413;
  override readonly code = 'payload_too_large';
}

export class UnsupportedMediaTypeError extends VigilError {
  override readonly status = 415;
  override readonly code = 'unsupported_media_type';
}

/** Well-formed but semantically invalid content (e.g. a FHIR resource that fails validation). */
export class UnprocessableEntityError extends VigilError {
  override readonly status = 422;
  override readonly code = 'unprocessable_entity';
}

export class TooManyRequestsError extends VigilError {
  override readonly status = 429;
  override readonly code = 'too_many_requests';
}

/** An upstream server we called on the caller's behalf (e.g. the EHR's FHIR server) failed or answered nonsense. */
export class BadGatewayError extends VigilError {
  override readonly status = 502;
  override readonly code = 'bad_gateway';
}

/** A dependency (FHIR server, database, model) is down or timed out. */
export class ServiceUnavailableError extends VigilError {
  override readonly status = 503;
  override readonly code = 'service_unavailable';
}

/**
 * The durable store (SQLite file, PostgreSQL server) cannot be used right now — locked, unreachable, timed
 * out — as opposed to a bug in a query. 503 so clients retry; the instance recovers when the cause clears.
 */
export class StoreUnavailableError extends ServiceUnavailableError {
  constructor(options?: { cause?: unknown }) {
    super('Storage is temporarily unavailable; retry later', [], options);
  }
}

export class GatewayTimeoutError extends VigilError {
  override readonly status = 504;
  override readonly code = 'gateway_timeout';
}

export function isVigilError(err: unknown): err is VigilError {
  return err instanceof VigilError;
}
