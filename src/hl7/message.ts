/**
 * HL7 v2 ER7 ("pipe and hat") messages, read through node-hl7-client with a small typed interface
 * for the mapping modules (HL7 v2.5.1 chapter 2 §2.5 message construction rules, §2.7 escapes).
 *
 * Division of labour:
 * - node-hl7-client reads the delimiters from MSH-1/MSH-2 and splits segments → fields →
 *   repetitions → components → sub-components (lazily: a field is split only when asked for, so a
 *   message that is only queued stays cheap).
 * - We do what it does not: accept real feeds (byte-order mark, LF or CRLF endings, blank lines —
 *   the library only splits on CR), refuse structurally broken text with a typed Hl7ParseError
 *   (the library accepts any line as a segment and throws untyped errors), number repeated
 *   segments so ERR-2 can say "OBX 3, field 5", and decode §2.7 escapes (the library leaves `\.br\`
 *   as literal text and keeps unknown sequences).
 */
import { Message, NodeBase, type HL7Node } from 'node-hl7-client';
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
  /** 1-based occurrence of this segment name within the message (ERL segment sequence). */
  sequence: number;
  /** The library's segment node; read it through Hl7Message, which knows MSH numbering. */
  readonly node: HL7Node;
}

/** One repetition of a field (a library node); read its parts with Hl7Message.component/unescape. */
export type Hl7Repetition = HL7Node;

const SEGMENT_NAME = /^[A-Z][A-Z0-9]{2}$/;
const BOM = '\uFEFF';
const EMPTY = NodeBase.empty;

function rawOf(node: HL7Node | undefined): string {
  // The library's empty node throws on toRaw().
  return node === undefined || node === EMPTY ? '' : node.toRaw();
}

export class Hl7Message {
  private headerCache: MessageHeader | undefined;
  /** Characters that make a field need the library's splitting (repetition, component, sub-component). */
  private readonly structural: RegExp;

  constructor(
    readonly segments: readonly Hl7Segment[],
    readonly delimiters: Hl7Delimiters,
  ) {
    const d = delimiters;
    this.structural = new RegExp(`[${[d.repetition, d.component, d.subcomponent].map((c) => `\\${c}`).join('')}]`);
  }

  segment(name: string): Hl7Segment | undefined {
    return this.segments.find((s) => s.name === name);
  }

  all(name: string): Hl7Segment[] {
    return this.segments.filter((s) => s.name === name);
  }

  /** Field n as a library node; MSH counts MSH-1 (the separator) as a field, the library does not. */
  private fieldNode(seg: Hl7Segment | undefined, n: number): HL7Node | undefined {
    if (seg === undefined || n < 1) return undefined;
    const node = seg.node.get(seg.name === 'MSH' ? n - 1 : n);
    return node === EMPTY ? undefined : node;
  }

  /** Raw (still escaped) field n of a segment ('' when absent). MSH-1 is the field separator. */
  field(seg: Hl7Segment | undefined, n: number): string {
    if (seg?.name === 'MSH' && n === 1) return this.delimiters.field;
    return rawOf(this.fieldNode(seg, n));
  }

  /**
   * The repetitions of field n (empty array when the field is empty). MSH-1 and MSH-2 hold the
   * delimiters themselves and have no repetitions; read them with value().
   */
  repetitions(seg: Hl7Segment | undefined, n: number): Hl7Repetition[] {
    if (seg?.name === 'MSH' && n <= 2) return [];
    const node = this.fieldNode(seg, n);
    return node === undefined || rawOf(node) === '' ? [] : node.toArray();
  }

  /** The raw (still escaped) text of a repetition. */
  raw(rep: Hl7Repetition): string {
    return rawOf(rep);
  }

  /** Component c (1-based) of a repetition, optionally sub-component s; unescaped. */
  component(rep: Hl7Repetition, c: number, s?: number): string {
    if (c < 1) return '';
    const comp = rep.get(c - 1);
    if (s === undefined) return this.unescape(rawOf(comp));
    if (s < 1 || comp === EMPTY) return '';
    return this.unescape(rawOf(comp.get(s - 1)));
  }

  /** Convenience: first repetition, component c (default 1), sub-component s; unescaped. */
  value(seg: Hl7Segment | undefined, n: number, c = 1, s?: number): string {
    if (seg?.name === 'MSH' && n <= 2) return this.field(seg, n);
    // Hot path: a field without repetition/component/sub-component delimiters is its own first
    // component; reading it through repetition and component nodes (two EventEmitters each) gives
    // the same text at several times the cost.
    if (c === 1 && (s === undefined || s === 1)) {
      const raw = rawOf(this.fieldNode(seg, n));
      if (!this.structural.test(raw)) return this.unescape(raw);
    }
    const rep = this.repetitions(seg, n)[0];
    return rep === undefined ? '' : this.component(rep, c, s);
  }

  /**
   * §2.7 escape sequences: \F\ \S\ \T\ \R\ \E\, \Xhh..\ and \.br\ (→ line break); highlighting,
   * character-set and other formatting sequences carry no content we keep and are dropped.
   * Ours, not the library's: its unescape leaves `\.br\` in the text and keeps unknown sequences,
   * so a TX/FT value with line breaks would be stored with backslash codes in it.
   */
  unescape(value: string | Hl7Repetition): string {
    const text = typeof value === 'string' ? value : rawOf(value);
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
      out += this.escapeValue(text.slice(i + 1, end));
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
    if (/^X([0-9A-Fa-f]{2})+$/.test(seq)) return Buffer.from(seq.slice(1), 'hex').toString('latin1');
    return '';
  }

  /** MSH-9 parts, MSH-10, MSH-11, MSH-12 — the header facts every handler needs (read once, then cached). */
  get header(): MessageHeader {
    this.headerCache ??= this.readHeader();
    return this.headerCache;
  }

  private readHeader(): MessageHeader {
    const msh = this.segments[0];
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

/** MSH-1/MSH-2 checks the library does not make (it takes any five characters as delimiters). */
function readDelimiters(text: string): Hl7Delimiters {
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
  return { field, component: enc[0]!, repetition: enc[1]!, escape: enc[2]!, subcomponent: enc[3]! };
}

/**
 * Parses one ER7 message. Throws Hl7ParseError (→ ACK AR) when there is no readable MSH, a line is
 * not a segment, or MSH-9/MSH-10 is empty. Checks only structure: content rules live in the mappers.
 */
export function parseHl7(input: string): Hl7Message {
  const text = (input.startsWith(BOM) ? input.slice(1) : input).replace(/^[\r\n\t ]+/, '');
  const delimiters = readDelimiters(text);
  const lines: string[] = [];
  for (const line of text.split(/\r\n|\r|\n/)) {
    if (line.trim() === '') continue;
    const name = line.slice(0, 3);
    if (!SEGMENT_NAME.test(name) || (line.length > 3 && line[3] !== delimiters.field)) {
      const shown = (line.split(delimiters.field, 1)[0] ?? '').slice(0, 3);
      throw new Hl7ParseError(`Line ${lines.length + 1} is not an HL7 segment`, 100, { segment: shown || '?' });
    }
    if (name === 'MSH' && lines.length > 0) {
      throw new Hl7ParseError('A message holds exactly one MSH segment, first', 100, { segment: 'MSH' });
    }
    lines.push(line);
  }
  let nodes: HL7Node[];
  try {
    nodes = new Message({ text: lines.join('\r'), newLine: '\r' }).toArray();
  } catch (err) {
    throw new Hl7ParseError(`Message could not be parsed: ${err instanceof Error ? err.message : String(err)}`, 100, { segment: 'MSH' });
  }
  if (nodes.length !== lines.length) {
    throw new Hl7ParseError('Message could not be split into segments', 100, { segment: 'MSH' });
  }
  const counts = new Map<string, number>();
  const segments = nodes.map((node, i) => {
    const name = lines[i]!.slice(0, 3);
    const sequence = (counts.get(name) ?? 0) + 1;
    counts.set(name, sequence);
    return { name, sequence, node };
  });
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
 * Our own: the library cannot read what is unreadable. Never throws.
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

/** The ERL location of field n in a segment, for errors (ERR-2). */
export function at(seg: Hl7Segment | undefined, field?: number, component?: number): Hl7Location {
  return { segment: seg?.name ?? '?', sequence: seg?.sequence ?? 1, ...(field !== undefined ? { field } : {}), ...(component !== undefined ? { component } : {}) };
}
