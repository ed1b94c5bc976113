/**
 * A small HL7 v2 ER7 ("pipe and hat") parser, tolerant the way real feeds need: CR, LF or CRLF
 * segment endings, a leading byte-order mark, blank lines, trailing delimiters, v2.3–2.8 (2.7+ may
 * add the truncation character `#` as a fifth encoding character).
 *
 * HL7 v2.5.1 chapter 2 §2.5 (message construction rules), §2.7 (escape sequences). Values are read
 * lazily: a field is split into repetitions/components only when asked for, which keeps parsing a
 * message that is only queued (not yet applied) cheap.
 */
import { Hl7ParseError, type Hl7Location } from './errors.js';

export interface Hl7Delimiters {
  field: string;
  component: string;
  repetition: string;
  escape: string;
  subcomponent: string;
}

export interface Hl7Segment {
  name: string;
  /** Raw (still escaped) fields; index n is field n (for MSH, [1] is the field separator itself). */
  fields: string[];
  /** 1-based occurrence of this segment name within the message (ERL segment sequence). */
  sequence: number;
}

const SEGMENT_NAME = /^[A-Z][A-Z0-9]{2}$/;
const BOM = '\uFEFF';

export class Hl7Message {
  constructor(
    readonly segments: readonly Hl7Segment[],
    readonly delimiters: Hl7Delimiters,
  ) {}

  segment(name: string): Hl7Segment | undefined {
    return this.segments.find((s) => s.name === name);
  }

  all(name: string): Hl7Segment[] {
    return this.segments.filter((s) => s.name === name);
  }

  /** Raw field n of a segment ('' when absent). */
  field(seg: Hl7Segment | undefined, n: number): string {
    return seg?.fields[n] ?? '';
  }

  /** The raw repetitions of field n (empty array when the field is empty). */
  repetitions(seg: Hl7Segment | undefined, n: number): string[] {
    const raw = this.field(seg, n);
    if (raw === '') return [];
    // MSH-2 holds the encoding characters themselves; never split it.
    if (seg?.name === 'MSH' && n <= 2) return [raw];
    return raw.split(this.delimiters.repetition);
  }

  /** Component c (1-based) of a raw repetition, optionally sub-component s; unescaped. */
  component(rawRep: string, c: number, s?: number): string {
    const comp = rawRep.split(this.delimiters.component)[c - 1] ?? '';
    if (s === undefined) return this.unescape(comp);
    return this.unescape(comp.split(this.delimiters.subcomponent)[s - 1] ?? '');
  }

  /** Convenience: first repetition, component c (default 1), sub-component s; unescaped. */
  value(seg: Hl7Segment | undefined, n: number, c = 1, s?: number): string {
    const rep = this.repetitions(seg, n)[0];
    if (rep === undefined) return '';
    if (seg?.name === 'MSH' && n <= 2) return rep;
    return this.component(rep, c, s);
  }

  /** §2.7 escape sequences: \F\ \S\ \T\ \R\ \E\, \Xhh..\ and \.br\; other sequences are dropped. */
  unescape(text: string): string {
    const { escape } = this.delimiters;
    if (!text.includes(escape)) return text;
    let out = '';
    let i = 0;
    while (i < text.length) {
      const ch = text[i]!;
      if (ch !== escape) {
        out += ch;
        i++;
        continue;
      }
      const end = text.indexOf(escape, i + 1);
      if (end < 0) {
        out += text.slice(i);
        break;
      }
      const seq = text.slice(i + 1, end);
      out += this.escapeValue(seq);
      i = end + 1;
    }
    return out;
  }

  private escapeValue(seq: string): string {
    const d = this.delimiters;
    switch (seq) {
      case 'F':
        return d.field;
      case 'S':
        return d.component;
      case 'T':
        return d.subcomponent;
      case 'R':
        return d.repetition;
      case 'E':
        return d.escape;
      case '.br':
        return '\n';
    }
    if (/^X([0-9A-Fa-f]{2})+$/.test(seq)) {
      return Buffer.from(seq.slice(1), 'hex').toString('latin1');
    }
    // Highlighting (\H\, \N\) and character-set switches carry no content we keep.
    return '';
  }

  /** MSH-9 parts, MSH-10, MSH-11, MSH-12 — the header facts every handler needs. */
  get header(): MessageHeader {
    const msh = this.segment('MSH')!;
    return {
      sendingApplication: this.value(msh, 3),
      sendingFacility: this.value(msh, 4),
      receivingApplication: this.value(msh, 5),
      receivingFacility: this.value(msh, 6),
      dateTime: this.value(msh, 7),
      messageCode: this.value(msh, 9, 1),
      triggerEvent: this.value(msh, 9, 2),
      controlId: this.value(msh, 10),
      processingId: this.value(msh, 11),
      version: this.value(msh, 12),
      charset: this.value(msh, 18),
    };
  }
}

export interface MessageHeader {
  sendingApplication: string;
  sendingFacility: string;
  receivingApplication: string;
  receivingFacility: string;
  dateTime: string;
  messageCode: string;
  triggerEvent: string;
  controlId: string;
  processingId: string;
  version: string;
  charset: string;
}

function readDelimiters(text: string): { delimiters: Hl7Delimiters; encodingLength: number } {
  if (!text.startsWith('MSH')) throw new Hl7ParseError('Message does not start with an MSH segment', 100, { segment: 'MSH' });
  const field = text[3];
  if (field === undefined || /[A-Za-z0-9\r\n ]/.test(field)) {
    throw new Hl7ParseError('MSH-1 field separator is missing or invalid', 100, { segment: 'MSH', sequence: 1, field: 1 });
  }
  const end = text.indexOf(field, 4);
  const enc = end < 0 ? '' : text.slice(4, end);
  if (enc.length < 4 || enc.length > 5 || /[A-Za-z0-9\r\n ]/.test(enc) || new Set(enc + field).size !== enc.length + 1) {
    throw new Hl7ParseError('MSH-2 encoding characters are missing or invalid', 100, { segment: 'MSH', sequence: 1, field: 2 });
  }
  return {
    delimiters: { field, component: enc[0]!, repetition: enc[1]!, escape: enc[2]!, subcomponent: enc[3]! },
    encodingLength: enc.length,
  };
}

/**
 * Parses one ER7 message. Throws Hl7ParseError (→ ACK AR) when there is no readable MSH or a
 * segment line is not a segment. Checks only structure: content rules live in the mappers.
 */
export function parseHl7(input: string): Hl7Message {
  let text = input.startsWith(BOM) ? input.slice(1) : input;
  text = text.replace(/^[\r\n\t ]+/, '');
  const { delimiters } = readDelimiters(text);
  const segments: Hl7Segment[] = [];
  const counts = new Map<string, number>();
  for (const line of text.split(/\r\n|\r|\n/)) {
    if (line.trim() === '') continue;
    const fields = line.split(delimiters.field);
    const name = fields[0]!;
    if (!SEGMENT_NAME.test(name)) {
      throw new Hl7ParseError(`Line ${segments.length + 1} is not an HL7 segment`, 100, { segment: name.slice(0, 3) || '?' });
    }
    // MSH-1 is the field separator: shift so that fields[n] is MSH-n like every other segment.
    if (name === 'MSH') fields.splice(1, 0, delimiters.field);
    const sequence = (counts.get(name) ?? 0) + 1;
    counts.set(name, sequence);
    segments.push({ name, fields, sequence });
  }
  if (segments[0]?.name !== 'MSH' || counts.get('MSH') !== 1) {
    throw new Hl7ParseError('A message holds exactly one MSH segment, first', 100, { segment: 'MSH' });
  }
  const message = new Hl7Message(segments, delimiters);
  if (message.header.controlId === '') {
    throw new Hl7ParseError('MSH-10 message control id is empty', 101, { segment: 'MSH', sequence: 1, field: 10 });
  }
  if (message.header.messageCode === '') {
    throw new Hl7ParseError('MSH-9 message type is empty', 101, { segment: 'MSH', sequence: 1, field: 9 });
  }
  return message;
}

/**
 * Best-effort header of bytes that failed to parse, so the AR can still echo MSH-10 and route back.
 * Never throws.
 */
export function salvageHeader(input: string): Partial<MessageHeader> & { fieldSeparator: string } {
  const text = (input.startsWith(BOM) ? input.slice(1) : input).replace(/^[\r\n\t ]+/, '');
  const firstLine = text.split(/\r\n|\r|\n/, 1)[0] ?? '';
  if (!firstLine.startsWith('MSH') || firstLine.length < 8) return { fieldSeparator: '|' };
  const sep = firstLine[3]!;
  const fields = firstLine.split(sep);
  fields.splice(1, 0, sep);
  const comp = (fields[2] ?? '^')[0] ?? '^';
  const first = (n: number) => (fields[n] ?? '').split(comp)[0] ?? '';
  return {
    fieldSeparator: sep,
    sendingApplication: first(3),
    sendingFacility: first(4),
    receivingApplication: first(5),
    receivingFacility: first(6),
    controlId: (fields[10] ?? '').slice(0, 199),
    processingId: first(11),
    version: first(12),
    triggerEvent: (fields[9] ?? '').split(comp)[1] ?? '',
  };
}

/** The ERL location of field n in a segment, for errors. */
export function at(seg: Hl7Segment | undefined, field?: number, component?: number): Hl7Location {
  return { segment: seg?.name ?? '?', sequence: seg?.sequence ?? 1, ...(field !== undefined ? { field } : {}), ...(component !== undefined ? { component } : {}) };
}
