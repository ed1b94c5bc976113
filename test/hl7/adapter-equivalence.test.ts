/**
 * Equivalence of the node-hl7-client adapter (src/hl7/message.ts) with the parser it replaced
 * (src/hl7/legacy-message.ts): every shipped fixture, in every line-ending variant, with a BOM,
 * synthetic edge cases and random mutations give the same segments, sequences, raw fields,
 * repetitions, components, sub-components, header — or the same parse error and location.
 */
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { parseHl7, type Hl7Message } from '../../src/hl7/message.js';
import { parseHl7 as legacyParse, type Hl7Message as LegacyMessage } from '../../src/hl7/legacy-message.js';
import { Hl7ParseError } from '../../src/hl7/errors.js';
import { fixture, fixtureNames } from './helpers.js';

/** Every addressable value of a message, keyed "SEG[seq]-field[rep].comp.sub" (one beyond each end too). */
type Walk = Record<string, string>;

function count(text: string, sep: string): number {
  return text.split(sep).length;
}

function walkAdapter(msg: Hl7Message): Walk {
  const out: Walk = { header: JSON.stringify(msg.header), names: msg.segments.map((s) => `${s.name}${s.sequence}`).join(',') };
  const d = msg.delimiters;
  for (const seg of msg.segments) {
    // The library's segment node counts the segment name as child 0 and MSH-1 not at all.
    const fields = seg.node.length - (seg.name === 'MSH' ? 0 : 1);
    for (let n = 1; n <= fields + 1; n++) {
      const key = `${seg.name}[${seg.sequence}]-${n}`;
      out[key] = msg.field(seg, n);
      out[`${key}v`] = msg.value(seg, n);
      if (seg.name === 'MSH' && n <= 2) continue;
      const reps = msg.repetitions(seg, n);
      out[`${key}#`] = String(reps.length);
      reps.forEach((rep, r) => {
        const raw = msg.raw(rep);
        out[`${key}[${r}]`] = raw;
        out[`${key}[${r}]u`] = msg.unescape(rep);
        const comps = raw.split(d.component);
        for (let c = 1; c <= comps.length + 1; c++) {
          out[`${key}[${r}].${c}`] = msg.component(rep, c);
          for (let s = 1; s <= count(comps[c - 1] ?? '', d.subcomponent) + 1; s++) out[`${key}[${r}].${c}.${s}`] = msg.component(rep, c, s);
        }
      });
      out[`${key}v2.1`] = msg.value(seg, n, 2, 1);
    }
  }
  return out;
}

function walkLegacy(msg: LegacyMessage): Walk {
  const out: Walk = { header: JSON.stringify(msg.header), names: msg.segments.map((s) => `${s.name}${s.sequence}`).join(',') };
  const d = msg.delimiters;
  for (const seg of msg.segments) {
    const fields = seg.fields.length - 1;
    for (let n = 1; n <= fields + 1; n++) {
      const key = `${seg.name}[${seg.sequence}]-${n}`;
      out[key] = msg.field(seg, n);
      out[`${key}v`] = msg.value(seg, n);
      if (seg.name === 'MSH' && n <= 2) continue;
      const reps = msg.repetitions(seg, n);
      out[`${key}#`] = String(reps.length);
      reps.forEach((raw, r) => {
        out[`${key}[${r}]`] = raw;
        out[`${key}[${r}]u`] = msg.unescape(raw);
        const comps = raw.split(d.component);
        for (let c = 1; c <= comps.length + 1; c++) {
          out[`${key}[${r}].${c}`] = msg.component(raw, c);
          for (let s = 1; s <= count(comps[c - 1] ?? '', d.subcomponent) + 1; s++) out[`${key}[${r}].${c}.${s}`] = msg.component(raw, c, s);
        }
      });
      out[`${key}v2.1`] = msg.value(seg, n, 2, 1);
    }
  }
  return out;
}

type Outcome = { walk: Walk } | { error: string; condition: number; location: unknown };

function outcome<M>(parse: (t: string) => M, walk: (m: M) => Walk, text: string): Outcome {
  try {
    return { walk: walk(parse(text)) };
  } catch (err) {
    if (!(err instanceof Hl7ParseError)) throw err;
    return { error: err.name, condition: err.condition, location: err.location };
  }
}

/**
 * The one intended difference: the library trims each segment line, so whitespace at the very end
 * of a segment is dropped (HL7 v2.5.1 §2A.3.70: trailing blanks in ST are not significant).
 */
const trimSegmentEnds = (text: string) => text.replace(/[^\r\n]+/g, (line) => line.trimEnd());

function expectSame(text: string): void {
  const legacy = outcome(legacyParse, walkLegacy, trimSegmentEnds(text));
  const adapter = outcome(parseHl7, walkAdapter, text);
  expect(adapter).toEqual(legacy);
}

const BOM = '\uFEFF';
const lines = (text: string) => text.replace(/^\uFEFF/, '').split(/\r\n|\r|\n/).filter((l) => l !== '');

describe('adapter ≡ legacy parser on the shipped fixtures', () => {
  const variants: Array<[string, (t: string) => string]> = [
    ['as shipped', (t) => t],
    ['CR', (t) => lines(t).join('\r') + '\r'],
    ['LF', (t) => lines(t).join('\n')],
    ['CRLF + BOM + blank lines', (t) => BOM + lines(t).join('\r\n\r\n') + '\r\n'],
  ];
  for (const name of fixtureNames()) {
    it.each(variants)(`${name} (%s)`, (_v, make) => {
      const text = make(fixture(name).toString('utf8'));
      expectSame(text);
      expect('walk' in outcome(parseHl7, walkAdapter, text)).toBe(true);
    });
    it(`${name} (Latin-1 decoding)`, () => expectSame(fixture(name).toString('latin1')));
  }
});

const MSH = (version: string, enc = '^~\\&') => `MSH|${enc}|APP|FAC|RCV|RFAC|20240101120000||ORU^R01^ORU_R01|C1|P|${version}`;

describe('adapter ≡ legacy parser on edge cases', () => {
  it.each(['2.3', '2.3.1', '2.4', '2.5', '2.5.1', '2.6', '2.7', '2.7.1', '2.8', '2.8.2'])('version %s', (v) => {
    expectSame(`${MSH(v)}\rPID|1||123^^^HOSP&1.2.3&ISO^MR~456^^^X^PI||Doe^Jane^^^Dr||19800101|F`);
  });

  it.each([
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
    ['lower-case segment name', `${MSH('2.5')}\rpid|1||x`],
    ['two MSH', `${MSH('2.5')}\r${MSH('2.5')}`],
    ['no control id', 'MSH|^~\\&|A|B|C|D|2024||ADT^A01||P|2.5'],
    ['no message type', 'MSH|^~\\&|A|B|C|D|2024|||C1|P|2.5'],
    ['empty', ''],
  ])('%s', (_name, text) => expectSame(text));
});

describe('the one difference', () => {
  it('drops whitespace at the end of a segment line, keeps it everywhere else', () => {
    const msg = parseHl7(`${MSH('2.5')}\rNTE|1|| a ^ b |x  `);
    const nte = msg.segment('NTE');
    expect(msg.value(nte, 3, 2)).toBe(' b ');
    expect(msg.value(nte, 4)).toBe('x');
    expect(legacyParse(`${MSH('2.5')}\rNTE|1||x  `).value(legacyParse(`${MSH('2.5')}\rNTE|1||x  `).segment('NTE'), 3)).toBe('x  ');
  });
});

describe('adapter ≡ legacy parser on mutated fixtures', () => {
  const samples = fixtureNames().map((n) => fixture(n).toString('latin1'));
  it('same outcome for random edits of real messages', () => {
    const alphabet = ['|', '^', '~', '\\', '&', '#', '\r', '\n', 'A', '1', ' ', 'MSH|', '\\X4\\', '\\.br\\'];
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: samples.length - 1 }),
        fc.array(fc.tuple(fc.nat(), fc.nat({ max: 8 }), fc.constantFrom(...alphabet)), { maxLength: 6 }),
        (i, edits) => {
          let text = samples[i]!;
          for (const [pos, del, ins] of edits) {
            const p = pos % (text.length + 1);
            text = text.slice(0, p) + ins + text.slice(p + del);
          }
          expectSame(text);
        },
      ),
      { numRuns: 150 },
    );
  });
});
