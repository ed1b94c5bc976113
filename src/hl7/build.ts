/**
 * Writing HL7 v2 ER7: escaping text (HL7 v2.5.1 §2.7) and assembling segments with the standard
 * delimiters `|^~\&`. Used for ACKs and outbound ORU^R01 messages.
 *
 * Ours, not node-hl7-client's builder: in 4.0.0 its escape() returns values unchanged, so a `|`,
 * `^`, `~` or `&` in a value (a name, a note) silently becomes a new field/component/repetition; it
 * also stamps MSH-7 in local time without an offset, forces MSH-12 to 2.7 and refuses an ACK without
 * a 3-character trigger event; and it costs ≈ 63 µs per ACK against a few µs here, on the hot path.
 */

/** Escapes the delimiters and escape character in a text value (§2.7.1). Line breaks become \.br\. */
export function escapeHl7(text: string): string {
  let out = '';
  for (const ch of text) {
    switch (ch) {
      case '\\':
        out += '\\E\\';
        break;
      case '|':
        out += '\\F\\';
        break;
      case '^':
        out += '\\S\\';
        break;
      case '&':
        out += '\\T\\';
        break;
      case '~':
        out += '\\R\\';
        break;
      case '\r':
        break;
      case '\n':
        out += '\\.br\\';
        break;
      default:
        out += ch;
    }
  }
  return out;
}

/** A field value: plain text (escaped), components (each escaped) joined by `^`, or pre-built ER7 (`raw`). */
export type FieldValue = string | number | undefined | readonly (string | number | undefined)[] | { raw: string };

function fieldText(value: FieldValue): string {
  if (value === undefined) return '';
  if (typeof value === 'object' && 'raw' in value) return value.raw;
  if (typeof value === 'number') return String(value);
  if (typeof value === 'string') return escapeHl7(value);
  return value.map((c) => (c === undefined ? '' : escapeHl7(String(c)))).join('^').replace(/\^+$/, '');
}

/** One segment: `segment('PID', [ , , ['123', , , 'HOSP', 'MR']])` → "PID|||123^^^HOSP^MR". */
export function segment(name: string, fields: readonly FieldValue[]): string {
  const parts = fields.map(fieldText);
  while (parts.length && parts[parts.length - 1] === '') parts.pop();
  return [name, ...parts].join('|');
}

/** MSH with the standard encoding characters; `fields[0]` is MSH-3. */
export function mshSegment(fields: readonly FieldValue[]): string {
  const rest = fields.map(fieldText);
  while (rest.length && rest[rest.length - 1] === '') rest.pop();
  return ['MSH', '^~\\&', ...rest].join('|');
}

/** HL7 DTM in UTC with seconds and an explicit offset: YYYYMMDDHHMMSS+0000. */
export function hl7Timestamp(date: Date): string {
  const iso = date.toISOString();
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}+0000`;
}

/** Segments joined with CR, the standard segment terminator. */
export function messageText(segments: readonly string[]): string {
  return segments.join('\r') + '\r';
}
