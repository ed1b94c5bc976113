import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { getTf, initBackend } from '../../src/models/backend/index.js';
import { fileHandler, float32ToFloat16Bits, quantizedCopy } from '../../src/models/io.js';

describe('model IO', () => {
  let dir: string;
  beforeAll(async () => {
    await initBackend();
    dir = mkdtempSync(path.join(tmpdir(), 'vigil-io-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function smallModel() {
    const tf = getTf();
    const m = tf.sequential();
    m.add(tf.layers.dense({ inputShape: [3], units: 4, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }));
    m.add(tf.layers.dense({ units: 1, activation: 'sigmoid', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }));
    return m;
  }

  it('round-trips a model exactly through model.json + weights.bin', async () => {
    const tf = getTf();
    const m = smallModel();
    await m.save(fileHandler(path.join(dir, 'f32')));
    expect(statSync(path.join(dir, 'f32', 'weights.bin')).size).toBe(m.countParams() * 4);
    const back = await tf.loadLayersModel(fileHandler(path.join(dir, 'f32')));
    const x = tf.tensor2d([[0.1, -2, 3], [1, 1, 1]]);
    expect(Array.from((back.predict(x) as ReturnType<typeof tf.tensor>).dataSync())).toEqual(
      Array.from((m.predict(x) as ReturnType<typeof tf.tensor>).dataSync()),
    );
  });

  it('uint8 and float16 weights are a quarter / half the size and close to the original', async () => {
    const tf = getTf();
    const m = smallModel();
    await m.save(fileHandler(path.join(dir, 'u8'), { quantization: 'uint8' }));
    expect(statSync(path.join(dir, 'u8', 'weights.bin')).size).toBe(m.countParams());
    const u8 = await tf.loadLayersModel(fileHandler(path.join(dir, 'u8')));
    const f16 = await quantizedCopy(m, 'float16');
    expect(f16.weightBytes).toBe(m.countParams() * 2);
    const x = tf.tensor2d([[0.1, -2, 3]]);
    const ref = (m.predict(x) as ReturnType<typeof tf.tensor>).dataSync()[0]!;
    expect((u8.predict(x) as ReturnType<typeof tf.tensor>).dataSync()[0]).toBeCloseTo(ref, 1);
    expect((f16.model.predict(x) as ReturnType<typeof tf.tensor>).dataSync()[0]).toBeCloseTo(ref, 3);
  });

  it('float16 conversion matches IEEE binary16 for known values', () => {
    expect(float32ToFloat16Bits(1)).toBe(0x3c00);
    expect(float32ToFloat16Bits(-2)).toBe(0xc000);
    expect(float32ToFloat16Bits(0.5)).toBe(0x3800);
    expect(float32ToFloat16Bits(65504)).toBe(0x7bff);
    expect(float32ToFloat16Bits(1e6)).toBe(0x7c00);
    expect(float32ToFloat16Bits(2 ** -24)).toBe(0x0001);
    expect(float32ToFloat16Bits(0)).toBe(0);
  });
});
