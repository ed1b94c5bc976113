/**
 * Equivalence of the node-hl7-client adapter (src/hl7/message.ts) with the parser it replaced: the
 * old parser's result on every case in ./parser-cases.ts (each fixture in every line-ending variant,
 * with a BOM, Latin-1, synthetic edge cases) is kept as a digest of all its segments, sequences, raw
 * fields, repetitions, components, sub-components, unescaped values and header — or of its parse
 * error, condition and location. The adapter must reproduce each digest. (Commit 737ad00 compared the
 * two parsers directly, also on 3,000 random mutations of the fixtures, before the old one was deleted.)
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { parseHl7, type Hl7Message } from '../../src/hl7/message.js';
import { FIXTURES } from './helpers.js';
import { digest, outcome, parserCases, type Walk } from './parser-cases.js';

const golden = JSON.parse(readFileSync(path.join(FIXTURES, 'legacy-parser-digests.json'), 'utf8')) as Record<string, string>;

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

describe('adapter ≡ previous parser', () => {
  it('has a recorded result for every case', () => {
    expect(parserCases().map(([name]) => name).sort()).toEqual(Object.keys(golden).sort());
  });

  it.each(parserCases())('%s', (name, text) => {
    expect(digest(outcome(parseHl7, walkAdapter, text))).toBe(golden[name]);
  });

  it('parses every shipped fixture', () => {
    for (const [name, text] of parserCases()) if (name.includes('.hl7') && !name.endsWith('Latin-1')) expect(parseHl7(text).header.controlId).not.toBe('');
  });
});

const MSH = 'MSH|^~\\&|APP|FAC|RCV|RFAC|20240101120000||ORU^R01^ORU_R01|C1|P|2.5';

describe('the one difference', () => {
  it('drops whitespace at the end of a segment line, keeps it everywhere else', () => {
    const msg = parseHl7(`${MSH}\rNTE|1|| a ^ b |x  `);
    const nte = msg.segment('NTE');
    expect(msg.value(nte, 3, 2)).toBe(' b ');
    expect(msg.value(nte, 4)).toBe('x');
  });
});

describe('locations for ERR-2', () => {
  it('numbers repeated segments in message order', () => {
    const msg = parseHl7(`${MSH}\rOBX|1|NM|a||1\rNTE|1||n\rOBX|2|NM|b||2`);
    expect(msg.all('OBX').map((s) => [s.name, s.sequence])).toEqual([['OBX', 1], ['OBX', 2]]);
    expect(msg.segment('NTE')?.sequence).toBe(1);
  });
});
