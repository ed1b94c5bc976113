/**
 * Untransposed matrix products for the wasm back end.
 *
 * tfjs-backend-wasm 4.22 runs BatchMatMul on XNNPACK only when neither operand is transposed; with
 * `transposeA` or `transposeB` it runs a plain loop, measured 8–12× slower for a 780×32 · 32×416 product
 * (bench/deterioration-arch.ts). Every dense layer's input gradient is such a product (dX = dY·Wᵀ, tfjs's
 * MatMul gradient), so backward passes — the integrated-gradients calls explanations are built of — pay it.
 * This re-registers the wasm BatchMatMul kernel (tfjs `registerKernel`, the documented extension point) so a
 * transposed operand is first transposed explicitly (wasm Transpose kernel) and the untransposed product
 * runs on XNNPACK. Same products; only the summation order can differ (float rounding).
 *
 * Opt-in: installing it changes the rounding of every later gradient, so training on wasm with it is not
 * bit-identical to training without it.
 */
import type * as tfTypes from '@tensorflow/tfjs';
import { getTf } from './index.js';

type TensorInfo = tfTypes.TensorInfo;
type KernelFunc = tfTypes.KernelFunc;

let installed = false;

/** Installs the override once per process; returns false when the wasm kernels are not registered. */
export function installFastWasmMatMul(): boolean {
  if (installed) return true;
  const tf = getTf();
  const original = tf.getKernel('BatchMatMul', 'wasm');
  const transpose = tf.getKernel('Transpose', 'wasm');
  if (!original || !transpose) return false;
  const swapLastTwo = (x: TensorInfo, backend: unknown): TensorInfo => {
    const perm = x.shape.map((_, i) => i);
    const r = perm.length;
    [perm[r - 2], perm[r - 1]] = [perm[r - 1]!, perm[r - 2]!];
    return (transpose.kernelFunc as KernelFunc)({ inputs: { x }, backend: backend as never, attrs: { perm } }) as TensorInfo;
  };
  const kernelFunc: KernelFunc = (args) => {
    const { inputs, backend, attrs } = args;
    const { transposeA, transposeB } = attrs as { transposeA: boolean; transposeB: boolean };
    if (!transposeA && !transposeB) return (original.kernelFunc as KernelFunc)(args);
    const a = transposeA ? swapLastTwo(inputs['a'] as TensorInfo, backend) : (inputs['a'] as TensorInfo);
    const b = transposeB ? swapLastTwo(inputs['b'] as TensorInfo, backend) : (inputs['b'] as TensorInfo);
    const out = (original.kernelFunc as KernelFunc)({ inputs: { a, b }, backend, attrs: { ...attrs, transposeA: false, transposeB: false } });
    const disposer = backend as { disposeData(dataId: object): void };
    if (transposeA) disposer.disposeData(a.dataId);
    if (transposeB) disposer.disposeData(b.dataId);
    return out;
  };
  tf.unregisterKernel('BatchMatMul', 'wasm');
  tf.registerKernel({ kernelName: 'BatchMatMul', backendName: 'wasm', kernelFunc, ...(original.setupFunc ? { setupFunc: original.setupFunc } : {}) });
  installed = true;
  return true;
}
