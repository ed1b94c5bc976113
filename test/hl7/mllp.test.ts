import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { CR, FS, frame, MllpDecoder, VT } from '../../src/hl7/mllp.js';

const payloads = (events: ReturnType<MllpDecoder['push']>) => events.flatMap((e) => (e.kind === 'frame' ? [e.payload.toString()] : []));

describe('MllpDecoder', () => {
  it('yields one frame per <VT>…<FS><CR>', () => {
    const d = new MllpDecoder(1000);
    expect(payloads(d.push(frame('MSH|a')))).toEqual(['MSH|a']);
  });

  it('handles several frames in one chunk and garbage between frames', () => {
    const d = new MllpDecoder(1000);
    const chunk = Buffer.concat([Buffer.from('\n\n'), frame('one'), Buffer.from('\r\n'), frame('two'), frame('three')]);
    expect(payloads(d.push(chunk))).toEqual(['one', 'two', 'three']);
  });

  it('reassembles a frame split at every possible byte, including between FS and CR', () => {
    const whole = Buffer.concat([frame('MSH|^~\\&|x'), frame('second')]);
    for (let cut = 1; cut < whole.length; cut++) {
      const d = new MllpDecoder(1000);
      const got = [...payloads(d.push(whole.subarray(0, cut))), ...payloads(d.push(whole.subarray(cut)))];
      expect(got).toEqual(['MSH|^~\\&|x', 'second']);
    }
  });

  it('keeps a lone FS inside the payload as data', () => {
    const d = new MllpDecoder(1000);
    const bytes = Buffer.from([VT, 0x41, FS, 0x42, FS, CR]);
    expect(payloads(d.push(bytes))).toEqual(['A\x1cB']);
  });

  it('reports an oversize frame once, keeps its head, and recovers for the next frame', () => {
    const d = new MllpDecoder(10);
    const events = d.push(Buffer.concat([frame('MSH|0123456789abcdef'), frame('ok')]));
    expect(events[0]).toMatchObject({ kind: 'oversize', bytes: 20 });
    expect((events[0] as { head: Buffer }).head.toString()).toBe('MSH|0123456789abcdef');
    expect(payloads(events)).toEqual(['ok']);
  });

  it('drops a truncated frame when a new start block arrives before its end', () => {
    const d = new MllpDecoder(1000);
    const events = d.push(Buffer.concat([Buffer.from([VT]), Buffer.from('MSH|trunc'), frame('MSH|full')]));
    expect(events.map((e) => e.kind)).toEqual(['truncated', 'frame']);
    expect(payloads(events)).toEqual(['MSH|full']);
  });

  it('property: any chunking of any frames yields the frames in order', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ minLength: 1, maxLength: 40 }).map((s) => s.replace(/[\x0b\x1c]/g, '')).filter((s) => s.length > 0), { minLength: 1, maxLength: 8 }),
        fc.array(fc.integer({ min: 1, max: 17 }), { minLength: 1, maxLength: 20 }),
        (messages, cuts) => {
          const bytes = Buffer.concat(messages.map((m) => frame(m)));
          const d = new MllpDecoder(10_000);
          const got: string[] = [];
          let i = 0;
          let k = 0;
          while (i < bytes.length) {
            const n = cuts[k++ % cuts.length]!;
            got.push(...payloads(d.push(bytes.subarray(i, i + n))));
            i += n;
          }
          expect(got).toEqual(messages);
        },
      ),
    );
  });
});
