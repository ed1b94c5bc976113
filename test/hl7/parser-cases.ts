/**
 * Inputs on which the node-hl7-client adapter was proven equal to the parser it replaced (commit
 * 737ad00 compared both directly, plus 3,000 random mutations of the fixtures): every fixture in
 * each line-ending variant, with a BOM, Latin-1 decoded, and synthetic edge cases. The old parser's
 * result for each is kept as a digest in test/fixtures/hl7/legacy-parser-digests.json.
 */
import { createHash } from 'node:crypto';
import { Hl7ParseError } from '../../src/hl7/errors.js';
import { fixture, fixtureNames } from './helpers.js';

/** Every addressable value of a message, keyed "SEG[seq]-field[rep].comp.sub" (one beyond each end too). */
export type Walk = Record<string, string>;
export type Outcome = { walk: Walk } | { error: string; condition: number; location: unknown };

export function outcome<M>(parse: (t: string) => M, walk: (m: M) => Walk, text: string): Outcome {
  try {
    return { walk: walk(parse(text)) };
  } catch (err) {
    if (!(err instanceof Hl7ParseError)) throw err;
    return { error: err.name, condition: err.condition, location: err.location };
  }
}

export function digest(o: Outcome): string {
  const stable = 'walk' in o ? Object.entries(o.walk).sort(([a], [b]) => (a < b ? -1 : 1)) : o;
  return createHash('sha256').update(JSON.stringify(stable)).digest('hex');
}

/**
 * The one intended difference: the library trims each segment line, so whitespace at the very end
 * of a segment is dropped (HL7 v2.5.1 §2A.3.70: trailing blanks in ST are not significant). The old
 * parser's digests were taken on input with segment ends trimmed.
 */
export const trimSegmentEnds = (text: string) => text.replace(/[^\r\n]+/g, (line) => line.trimEnd());

const BOM = '\uFEFF';
const lines = (text: string) => text.replace(/^\uFEFF/, '').split(/\r\n|\r|\n/).filter((l) => l !== '');
const MSH = (version: string, enc = '^~\\&') => `MSH|${enc}|APP|FAC|RCV|RFAC|20240101120000||ORU^R01^ORU_R01|C1|P|${version}`;

/** [case name, text]. */
export function parserCases(): Array<[string, string]> {
  const cases: Array<[string, string]> = [];
  for (const name of fixtureNames()) {
    const t = fixture(name).toString('utf8');
    cases.push([`${name} as shipped`, t]);
    cases.push([`${name} CR`, lines(t).join('\r') + '\r']);
    cases.push([`${name} LF`, lines(t).join('\n')]);
    cases.push([`${name} CRLF + BOM + blank lines`, BOM + lines(t).join('\r\n\r\n') + '\r\n']);
    cases.push([`${name} Latin-1`, fixture(name).toString('latin1')]);
  }
  for (const v of ['2.3', '2.3.1', '2.4', '2.5', '2.5.1', '2.6', '2.7', '2.7.1', '2.8', '2.8.2']) {
    cases.push([`version ${v}`, `${MSH(v)}\rPID|1||123^^^HOSP&1.2.3&ISO^MR~456^^^X^PI||Doe^Jane^^^Dr||19800101|F`]);
  }
  cases.push(
    ['escapes', `${MSH('2.5.1')}\rNTE|1||a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f\\X41\\\\.br\\g\\H\\h\\N\\\\Zx\\`],
    ['unterminated escape', `${MSH('2.5.1')}\rNTE|1||a\\Fb`],
    ['truncation character (2.7)', `${MSH('2.7', '^~\\&#')}\rPID|1||A1^^^X&Y&ISO#`],
    ['non-standard delimiters', 'MSH#*@!%#A#B#C#D#20240101##ORU*R01#X9#P#2.4\rPID#1##A1*B1@A2%s*x!T!y#'],
    ['empty repetitions and components', `${MSH('2.5')}\rPID|1||~x^^~^|^|&&|~~`],
    ['trailing delimiters', `${MSH('2.5')}\rOBX|1|NM|8867-4^HR^LN||72|/min^^UCUM|||||F|||`],
    ['segment without fields', `${MSH('2.5')}\rZZZ\rPID|1||x`],
    ['whitespace in values', `${MSH('2.5')}\rNTE|1|| padded  ^ comp |x`],
    ['leading blank lines and spaces', `\r\n  \n${MSH('2.5')}\nPID|1||x`],
    ['repeated segments numbered', `${MSH('2.5')}\rOBX|1|NM|a||1\rNTE|1||n\rOBX|2|NM|b||2\rOBX|3|ST|c||x~y`],
    ['no MSH', 'PID|1||x'],
    ['bad field separator', 'MSHA^~\\&|x'],
    ['bad encoding characters', 'MSH|^^|x'],
    ['a line that is no segment', `${MSH('2.5')}\rthis is not a segment`],
    ['line with a short name', `${MSH('2.5')}\r20|x`],
    ['lower-case segment name', `${MSH('2.5')}\rpid|1||x`],
    ['two MSH', `${MSH('2.5')}\r${MSH('2.5')}`],
    ['no control id', 'MSH|^~\\&|A|B|C|D|2024||ADT^A01||P|2.5'],
    ['no message type', 'MSH|^~\\&|A|B|C|D|2024|||C1|P|2.5'],
    ['empty', ''],
  );
  return cases;
}
