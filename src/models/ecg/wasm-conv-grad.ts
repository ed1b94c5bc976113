/**
 * Fast convolution gradients for the wasm back end.
 *
 * tfjs-backend-wasm 4.22 has no `Conv2DBackpropFilter` kernel, so a convolutional network cannot be trained
 * on it, and its `Conv2DBackpropInput` is a plain loop (measured ≈ 10× slower than the XNNPACK forward
 * convolution). tfjs runs conv1d as conv2d with height 1; for that case this module re-registers the
 * Conv2D gradient (tfjs `registerGradient`, the documented extension point) so that on wasm
 *  - the filter gradient is an im2col matrix product: Σ_t patch(x, t)ᵀ · dy(t), one matMul (XNNPACK);
 *  - the input gradient of a stride-1 "same" convolution with an odd kernel is itself a "same"
 *    convolution of dy with the kernel reversed in time and its channel axes swapped (forward kernel).
 * Every other case, and every other back end, uses tfjs's own kernels: same arithmetic, so the override
 * changes speed, never results (test/models/ecg-network.test.ts compares both).
 */
import type * as tfTypes from '@tensorflow/tfjs';
import { getTf } from '../backend/index.js';

type Tensor4D = tfTypes.Tensor4D;

let installed = false;

function pair(v: number | [number, number] | undefined, fallback: number): [number, number] {
  if (v === undefined) return [fallback, fallback];
  return typeof v === 'number' ? [v, v] : v;
}

/** Installs the Conv2D gradient override once per process. */
export function installFastConvGradients(): void {
  if (installed) return;
  const tf = getTf();
  tf.registerGradient({
    kernelName: 'Conv2D',
    inputsToSave: ['x', 'filter'],
    gradFunc: (dy, saved, attrs) => {
      const [x, filter] = saved as [Tensor4D, Tensor4D];
      const dy4 = (Array.isArray(dy) ? dy[0] : dy) as Tensor4D;
      const { strides, pad, dataFormat, dilations } = attrs as unknown as {
        strides: [number, number] | number;
        pad: 'same' | 'valid' | number;
        dataFormat: 'NHWC' | 'NCHW';
        dilations: [number, number] | number;
      };
      const [sh, sw] = pair(strides, 1);
      const [dh, dw] = pair(dilations, 1);
      const [fh, fw, ci, co] = filter.shape;
      const fast =
        tf.getBackend() === 'wasm' && (dataFormat ?? 'NHWC') === 'NHWC' && dh === 1 && dw === 1 && sh === 1 && fh === 1 && x.shape[1] === 1 && typeof pad === 'string';
      // Anything else: tfjs's own kernels, exactly as its registered gradient calls them.
      const engine = tf.engine();
      const backpropInput = () => engine.runKernel('Conv2DBackpropInput', { dy: dy4, filter }, { inputShape: x.shape, strides, pad, dataFormat, dimRoundingMode: attrs['dimRoundingMode'] } as never) as Tensor4D;
      const backpropFilter = () => engine.runKernel('Conv2DBackpropFilter', { x, dy: dy4 }, { strides, pad, dataFormat, dimRoundingMode: attrs['dimRoundingMode'], filterShape: filter.shape } as never) as Tensor4D;
      if (!fast) return { x: backpropInput, filter: backpropFilter };
      const [batch, , width] = x.shape;
      const outWidth = dy4.shape[2];
      const padTotal = pad === 'same' ? Math.max(0, (outWidth - 1) * sw + fw - width) : 0;
      const padLeft = Math.floor(padTotal / 2);
      return {
        x: () => {
          if (sw === 1 && pad === 'same' && fw % 2 === 1) {
            const flipped = tf.transpose(tf.reverse(filter, 1), [0, 1, 3, 2]) as Tensor4D;
            return tf.conv2d(dy4, flipped, 1, 'same');
          }
          return backpropInput();
        },
        filter: () => {
          const padded = tf.pad(x, [[0, 0], [0, 0], [padLeft, padTotal - padLeft], [0, 0]]);
          const taps: tfTypes.Tensor[] = [];
          for (let k = 0; k < fw; k++) {
            taps.push(tf.stridedSlice(padded, [0, 0, k, 0], [batch, 1, k + (outWidth - 1) * sw + 1, ci], [1, 1, sw, 1]));
          }
          const patches = tf.concat(taps, 3).reshape([batch * outWidth, fw * ci]);
          // An explicit transpose keeps the product on XNNPACK's untransposed path (transposeA is a slow loop on wasm).
          return tf.matMul(tf.transpose(patches), dy4.reshape([batch * outWidth, co])).reshape([1, fw, ci, co]);
        },
      };
    },
  });
  installed = true;
}
