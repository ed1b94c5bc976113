/**
 * Acknowledgements (HL7 v2.5.1 §2.9.2 original acknowledgment mode; MSA, ERR segments) and the one
 * place where errors become ACK codes:
 *
 * | error                                  | MSA-1 | ERR-3 (table 0357)          |
 * |----------------------------------------|-------|-----------------------------|
 * | none (stored durably, or duplicate)    | AA    | —                           |
 * | Hl7ParseError, PayloadTooLargeError     | AR    | its condition (100/101/…)   |
 * | Hl7UnsupportedError                    | AE    | 200 / 201 / 203             |
 * | Hl7ContentError                        | AE    | 101 / 102 / 103 …           |
 * | Hl7QueueUnavailableError, ServiceUnavailableError (not stored: disk full, database down) | AR | 207 — resend later |
 * | anything else                          | AE    | 207 application error       |
 *
 * Deviation on purpose: the spec reserves AR for "rejected" in the sense of unsupported type/version
 * too; following the project brief, an unreadable message gets AR and an unsupported one AE. AR 207
 * for an unavailable store follows §2.9.2.2 as written: AR also covers a receiving system that cannot
 * process the message for reasons unrelated to its content (system down, internal error), in which
 * case the sender is to resend it unchanged later; the connection stays open.
 */
import { randomUUID } from 'node:crypto';
import { PayloadTooLargeError, ServiceUnavailableError } from '../errors.js';
import { CONDITION_TEXT, Hl7ContentError, Hl7ParseError, Hl7UnsupportedError, type Hl7ConditionCode, type Hl7Location } from './errors.js';
import { hl7Timestamp, messageText, mshSegment, segment } from './build.js';
import type { MessageHeader } from './message.js';

export type AckCode = 'AA' | 'AE' | 'AR';

export interface AckDecision {
  code: AckCode;
  condition?: Hl7ConditionCode;
  location?: Hl7Location;
  /** ERR-8 user message: what was wrong, never patient data. */
  text?: string;
}

/** The single error → ACK mapping. */
export function ackFor(err: unknown): AckDecision {
  if (err instanceof Hl7ParseError) return { code: 'AR', condition: err.condition, location: err.location, text: err.message };
  if (err instanceof PayloadTooLargeError) return { code: 'AR', condition: 100, text: err.message };
  if (err instanceof Hl7UnsupportedError || err instanceof Hl7ContentError) {
    return { code: 'AE', condition: err.condition, location: err.location, text: err.message };
  }
  // Hl7QueueUnavailableError is one: the message was not stored.
  if (err instanceof ServiceUnavailableError) {
    return { code: 'AR', condition: 207, text: 'Message not stored (queue unavailable); send it again unchanged later' };
  }
  return { code: 'AE', condition: 207, text: 'Message could not be processed; send it again later' };
}

/** ERL as ER7 components: segment^sequence^field^repetition^component. */
function erl(loc: Hl7Location): (string | number | undefined)[] {
  return [loc.segment, loc.sequence ?? 1, loc.field, loc.field !== undefined ? 1 : undefined, loc.component];
}

/** Major.minor of MSH-12 as a number for "2.5 or later" checks; unknown → 2.5. */
function versionNumber(version: string | undefined): number {
  const m = /^(\d+)\.(\d+)/.exec(version ?? '');
  return m ? Number(m[1]) + Number(m[2]) / 10 : 2.5;
}

/**
 * Builds the ACK for a message header (or the salvaged header of an unreadable one). The ACK swaps
 * sender and receiver, echoes MSH-10 in MSA-2 and MSH-11/12, and for AE/AR carries one ERR segment:
 * ERR-1 (2.3/2.4 style, kept for older receivers), ERR-2 location, ERR-3 condition, ERR-4 severity E,
 * ERR-8 text.
 */
export function buildAck(
  header: Partial<MessageHeader>,
  decision: AckDecision,
  options: { now?: Date; controlId?: string; application?: string; facility?: string } = {},
): string {
  const now = options.now ?? new Date();
  const version = header.version || '2.5';
  const msh = mshSegment([
    header.receivingApplication || options.application || 'VIGIL',
    header.receivingFacility || options.facility || '',
    header.sendingApplication,
    header.sendingFacility,
    hl7Timestamp(now),
    undefined,
    ['ACK', header.triggerEvent || undefined, 'ACK'],
    options.controlId ?? randomUUID().replace(/-/g, '').slice(0, 20),
    header.processingId || 'P',
    version,
  ]);
  const segments = [msh, segment('MSA', [decision.code, header.controlId ?? '', decision.code === 'AA' ? undefined : decision.text])];
  if (decision.code !== 'AA') {
    const condition = decision.condition ?? 207;
    const conditionField = [String(condition), CONDITION_TEXT[condition], 'HL70357'];
    const loc = decision.location;
    // ERR-1 (CM: segment^sequence^field^code&text&table) is what 2.3/2.4 receivers read.
    const legacy = versionNumber(version) < 2.5 && loc
      ? { raw: [loc.segment, loc.sequence ?? 1, loc.field ?? '', `${condition}&${CONDITION_TEXT[condition]}&HL70357`].join('^') }
      : undefined;
    segments.push(
      segment('ERR', [
        legacy,
        loc ? erl(loc) : undefined,
        conditionField,
        'E',
        undefined,
        undefined,
        undefined,
        decision.text,
      ]),
    );
  }
  return messageText(segments);
}
