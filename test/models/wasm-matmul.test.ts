/**
 * src/models/backend/wasm-matmul.ts: with the override, every transpose combination of BatchMatMul (2-D and
 * batched 3-D) still computes the exact product (checked against a plain JS product), leaks no tensor, and a
 * dense layer's input gradient is unchanged.
 */
import { describe, expect, it } from '@jest/globals';
import { getTf, initBackend, backendName } from '../../src/models/backend/index.js';
import { installFastWasmMatMul } from '../../src/models/backend/wasm-matmul.js';
import { seededRandom } from '../../src/models/random.js';

await initBackend({ force: 'wasm' });

function values(seed: number, n: number): number[] {
  const random = seededRandom(seed);
  // Small integers: every product and sum is exact in float32, so any summation order gives the same bits.
  return Array.from({ length: n }, () => Math.floor(random() * 9) - 4);
}

/** C[b] = op(A[b]) · op(B[b]) in plain JS, shapes [batch, rows, cols]. */
function reference(a: number[], aShape: number[], b: number[], bShape: number[], ta: boolean, tb: boolean): number[] {
  const [batch, ar, ac] = aShape as [number, number, number];
  const [, br, bc] = bShape as [number, number, number];
  const m = ta ? ac : ar;
  const k = ta ? ar : ac;
  const n = tb ? br : bc;
  const out: number[] = [];
  for (let q = 0; q < batch; q++) {
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) {
          const av = ta ? a[q * ar * ac + p * ac + i]! : a[q * ar * ac + i * ac + p]!;
          const bv = tb ? b[q * br * bc + j * bc + p]! : b[q * br * bc + p * bc + j]!;
          s += av * bv;
        }
        out.push(s);
      }
    }
  }
  return out;
}

describe('untransposed wasm BatchMatMul', () => {
  it('installs on wasm', () => {
    expect(backendName()).toBe('wasm');
    expect(installFastWasmMatMul()).toBe(true);
    expect(installFastWasmMatMul()).toBe(true);
  });

  it.each([
    [false, false],
    [false, true],
    [true, false],
    [true, true],
  ])('transposeA %s, transposeB %s: exact products, 2-D and batched, no leaked tensor', (ta, tb) => {
    const tf = getTf();
    installFastWasmMatMul();
    const [m, k, n, batch] = [7, 5, 6, 3];
    const aShape = ta ? [batch, k, m] : [batch, m, k];
    const bShape = tb ? [batch, n, k] : [batch, k, n];
    const a = values(1, batch * m * k);
    const b = values(2, batch * k * n);
    const before = tf.memory().numTensors;
    const got3 = tf.tidy(() => Array.from(tf.matMul(tf.tensor3d(a, aShape as [number, number, number]), tf.tensor3d(b, bShape as [number, number, number]), ta, tb).dataSync()));
    const got2 = tf.tidy(() =>
      Array.from(tf.matMul(tf.tensor2d(a.slice(0, m * k), aShape.slice(1) as [number, number]), tf.tensor2d(b.slice(0, k * n), bShape.slice(1) as [number, number]), ta, tb).dataSync()),
    );
    expect(tf.memory().numTensors).toBe(before);
    expect(got3).toEqual(reference(a, aShape, b, bShape, ta, tb));
    expect(got2).toEqual(reference(a, [1, ...aShape.slice(1)], b, [1, ...bShape.slice(1)], ta, tb));
  });

  it('a dense layer input gradient equals Wᵀ summed over outputs', () => {
    const tf = getTf();
    installFastWasmMatMul();
    const w = values(3, 4 * 3);
    const grad = tf.tidy(() => {
      const kernel = tf.tensor2d(w, [4, 3]);
      const g = tf.grad((x) => tf.matMul(x as typeof kernel, kernel).sum());
      return Array.from(g(tf.tensor2d(values(4, 2 * 4), [2, 4])).dataSync());
    });
    const rowSums = [0, 1, 2, 3].map((i) => w[i * 3]! + w[i * 3 + 1]! + w[i * 3 + 2]!);
    expect(grad).toEqual([...rowSums, ...rowSums]);
  });
});
