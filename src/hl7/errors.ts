/**
 * HL7 v2 error types. Each carries an HL7 table 0357 condition code and, where known, the location
 * (ERR-2, data type ERL) of the offending segment/field; src/hl7/ack.ts is the one place that turns
 * them (and any other error) into an ACK code.
 */
import { BadRequestError, ServiceUnavailableError, UnprocessableEntityError, type ErrorDetail } from '../errors.js';

/**
 * HL7 table 0357 "Message error condition codes" (v2.5+; also used with ERR-1 in 2.3/2.4).
 * 0 accepted · 100 segment sequence error · 101 required field missing · 102 data type error ·
 * 103 table value not found · 200 unsupported message type · 201 unsupported event code ·
 * 202 unsupported processing id · 203 unsupported version id · 204 unknown key identifier ·
 * 205 duplicate key identifier · 206 application record locked · 207 application internal error.
 */
export type Hl7ConditionCode = 0 | 100 | 101 | 102 | 103 | 200 | 201 | 202 | 203 | 204 | 205 | 206 | 207;

export const CONDITION_TEXT: Record<Hl7ConditionCode, string> = {
  0: 'Message accepted',
  100: 'Segment sequence error',
  101: 'Required field missing',
  102: 'Data type error',
  103: 'Table value not found',
  200: 'Unsupported message type',
  201: 'Unsupported event code',
  202: 'Unsupported processing id',
  203: 'Unsupported version id',
  204: 'Unknown key identifier',
  205: 'Duplicate key identifier',
  206: 'Application record locked',
  207: 'Application internal error',
};

/** ERL (v2.5 ERR-2): segment id, segment sequence (1-based), field, component. */
export interface Hl7Location {
  segment: string;
  sequence?: number;
  field?: number;
  component?: number;
}

export function locationText(loc: Hl7Location): string {
  const parts = [loc.segment, loc.sequence, loc.field, loc.component].filter((p) => p !== undefined);
  return parts.join('-');
}

function detailsFor(message: string, location?: Hl7Location): ErrorDetail[] {
  return [{ message, ...(location ? { field: locationText(location) } : {}) }];
}

/** The bytes are not an HL7 v2 message we can read at all (no MSH, bad delimiters, too large). ACK: AR. */
export class Hl7ParseError extends BadRequestError {
  readonly condition: Hl7ConditionCode;
  constructor(message: string, condition: Hl7ConditionCode = 100, readonly location?: Hl7Location) {
    super(message, detailsFor(message, location));
    this.condition = condition;
  }
}

/** A readable message whose content we cannot accept: missing/invalid field, unknown table value. ACK: AE. */
export class Hl7ContentError extends UnprocessableEntityError {
  constructor(
    message: string,
    readonly condition: Hl7ConditionCode,
    readonly location?: Hl7Location,
  ) {
    super(message, detailsFor(message, location));
  }
}

/** A message type, trigger event or version Vigil does not process (codes 200, 201, 203). ACK: AE. */
export class Hl7UnsupportedError extends UnprocessableEntityError {
  constructor(
    message: string,
    readonly condition: 200 | 201 | 202 | 203,
    readonly location?: Hl7Location,
  ) {
    super(message, detailsFor(message, location));
  }
}

/**
 * The message store could not take a message (disk full, database unreachable or timed out): it was
 * not stored, so it must not be ACKed AA. ACK: AR 207, the sender resends it unchanged later.
 */
export class Hl7QueueUnavailableError extends ServiceUnavailableError {
  constructor(message = 'HL7 message queue unavailable', options?: { cause?: unknown }) {
    super(message, [], options);
  }
}
