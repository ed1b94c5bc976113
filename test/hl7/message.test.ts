import { describe, expect, it } from '@jest/globals';
import { parseHl7, salvageHeader } from '../../src/hl7/message.js';
import { Hl7ParseError } from '../../src/hl7/errors.js';
import { buildAck, ackFor } from '../../src/hl7/ack.js';
import { escapeHl7 } from '../../src/hl7/build.js';
import { Hl7ContentError, Hl7QueueUnavailableError, Hl7UnsupportedError } from '../../src/hl7/errors.js';
import { PayloadTooLargeError, ServiceUnavailableError } from '../../src/errors.js';
import { hl7ToFhirDate, hl7ToFhirDateTime } from '../../src/hl7/datetime.js';

const SEGMENTS = ['MSH|^~\\&|APP|FAC|RCV|RFAC|20240101120000||ADT^A01^ADT_A01|C1|P|2.5.1', 'PID|1||123^^^HOSP^MR||Doe^Jane\\S\\Ann||19800101|F'];

describe('parseHl7', () => {
  it.each([
    ['CR', '\r'],
    ['LF', '\n'],
    ['CRLF', '\r\n'],
  ])('accepts %s segment endings', (_name, eol) => {
    const msg = parseHl7(SEGMENTS.join(eol) + eol);
    expect(msg.segments.map((s) => s.name)).toEqual(['MSH', 'PID']);
    expect(msg.header).toMatchObject({ sendingApplication: 'APP', messageCode: 'ADT', triggerEvent: 'A01', controlId: 'C1', version: '2.5.1' });
  });

  it('accepts a leading byte-order mark and blank lines', () => {
    const msg = parseHl7('\uFEFF' + SEGMENTS.join('\n\n') + '\n');
    expect(msg.header.controlId).toBe('C1');
  });

  it('numbers MSH fields like the standard (MSH-1 separator, MSH-2 encoding characters)', () => {
    const msg = parseHl7(SEGMENTS.join('\r'));
    const msh = msg.segment('MSH');
    expect(msg.value(msh, 1)).toBe('|');
    expect(msg.value(msh, 2)).toBe('^~\\&');
    expect(msg.value(msh, 3)).toBe('APP');
  });

  it('unescapes \\S\\, \\F\\, \\E\\, \\X..\\ and \\.br\\', () => {
    const msg = parseHl7(SEGMENTS.join('\r'));
    expect(msg.value(msg.segment('PID'), 5, 2)).toBe('Jane^Ann');
    const m2 = parseHl7(`${SEGMENTS[0]}\rNTE|1||a\\F\\b\\E\\c\\X41\\d\\.br\\e`);
    expect(m2.value(m2.segment('NTE'), 3)).toBe('a|b\\cAd\ne');
  });

  it('reads non-standard delimiters from MSH', () => {
    const msg = parseHl7('MSH#*@!%#A#B#C#D#20240101##ORU*R01#X9#P#2.4\rPID#1##A1*B1@A2');
    expect(msg.header.controlId).toBe('X9');
    expect(msg.repetitions(msg.segment('PID'), 3).map((r) => msg.raw(r))).toEqual(['A1*B1', 'A2']);
  });

  it.each([
    ['empty', ''],
    ['no MSH', 'PID|1||x'],
    ['bad encoding characters', 'MSH|^^|x'],
    ['a line that is no segment', `${SEGMENTS[0]}\rthis is not a segment`],
    ['no control id', 'MSH|^~\\&|A|B|C|D|2024||ADT^A01||P|2.5'],
    ['two MSH', `${SEGMENTS[0]}\r${SEGMENTS[0]}`],
  ])('refuses %s with Hl7ParseError', (_name, text) => {
    expect(() => parseHl7(text)).toThrow(Hl7ParseError);
  });

  it('salvages header fields of unreadable bytes for the AR', () => {
    expect(salvageHeader(`${SEGMENTS[0]}\rgarbage line`)).toMatchObject({ controlId: 'C1', sendingApplication: 'APP', version: '2.5.1' });
    expect(salvageHeader('junk')).toEqual({ fieldSeparator: '|' });
  });
});

describe('ACK mapping and building', () => {
  it.each([
    [new Hl7ParseError('x', 100), 'AR', 100],
    [new PayloadTooLargeError('x'), 'AR', 100],
    [new Hl7UnsupportedError('x', 200), 'AE', 200],
    [new Hl7UnsupportedError('x', 203), 'AE', 203],
    [new Hl7ContentError('x', 101), 'AE', 101],
    [new ServiceUnavailableError('db down'), 'AR', 207],
    [new Hl7QueueUnavailableError('queue down'), 'AR', 207],
    [new Error('anything'), 'AE', 207],
  ])('%p → %s with condition %d', (err, code, condition) => {
    expect(ackFor(err)).toMatchObject({ code, condition });
  });

  it('builds an AA that swaps sender/receiver and echoes MSH-10', () => {
    const header = parseHl7(SEGMENTS.join('\r')).header;
    const ack = parseHl7(buildAck(header, { code: 'AA' }, { now: new Date('2024-01-01T00:00:00Z'), controlId: 'ACK1' }));
    expect(ack.header).toMatchObject({ sendingApplication: 'RCV', receivingApplication: 'APP', messageCode: 'ACK', triggerEvent: 'A01', controlId: 'ACK1', version: '2.5.1' });
    expect(ack.value(ack.segment('MSA'), 1)).toBe('AA');
    expect(ack.value(ack.segment('MSA'), 2)).toBe('C1');
    expect(ack.segment('ERR')).toBeUndefined();
  });

  it('builds an AE with ERR-2 location, ERR-3 table 0357 code and ERR-8 text; ERR-1 for v2.3', () => {
    const header = { ...parseHl7(SEGMENTS.join('\r')).header, version: '2.3' };
    const text = buildAck(header, { code: 'AE', condition: 102, location: { segment: 'PID', sequence: 1, field: 7 }, text: 'PID-7 bad | date' });
    const ack = parseHl7(text);
    const err = ack.segment('ERR');
    expect(ack.field(err, 2)).toBe('PID^1^7^1');
    expect(ack.value(err, 3, 1)).toBe('102');
    expect(ack.value(err, 3, 3)).toBe('HL70357');
    expect(ack.value(err, 4)).toBe('E');
    expect(ack.value(err, 8)).toBe('PID-7 bad | date');
    expect(ack.value(err, 1, 4, 1)).toBe('102');
  });

  it('escapes delimiters in text', () => {
    expect(escapeHl7('a|b^c&d~e\\f\ng')).toBe('a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f\\.br\\g');
  });
});

describe('HL7 date/time → FHIR', () => {
  it.each([
    ['2024', '2024'],
    ['202402', '2024-02'],
    ['20240229', '2024-02-29'],
    ['202402291230', '2024-02-29T12:30:00Z'],
    ['20240229123045.12+0130', '2024-02-29T12:30:45.12+01:30'],
    ['20141006064500+0700', '2014-10-06T06:45:00+07:00'],
    ['20230229', undefined],
    ['DOB', undefined],
    ['20241301', undefined],
  ])('%s → %s', (v2, fhir) => {
    expect(hl7ToFhirDateTime(v2)).toBe(fhir);
  });

  it('birth dates drop the time', () => {
    expect(hl7ToFhirDate('198808181126+0215')).toBe('1988-08-18');
  });
});
