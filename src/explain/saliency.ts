/**
 * Single-point gradient attributions: the plain input gradient (Simonyan et al. 2014, "Deep Inside
 * Convolutional Networks", §3) and gradient × input (Shrikumar et al. 2016). Both are cheap — one
 * gradient row — but neither satisfies completeness; integrated gradients is the method of record.
 */
import { valuesAndGradients, widthOf } from './differentiable.js';
import type { AttributionTarget, Differentiable } from './types.js';

/** ∂f/∂x at x (target units per encoded unit). */
export function inputGradient(model: Differentiable, x: Float32Array, target: AttributionTarget = 'logit'): Float32Array {
  return valuesAndGradients(model, x, 1, target).gradients;
}

/**
 * Gradient × input, taken relative to a baseline: (x − baseline) ⊙ ∂f/∂x(x). With the zero baseline this
 * is the classic x ⊙ ∇f(x); on a linear model it equals integrated gradients.
 */
export function gradientTimesInput(
  model: Differentiable,
  x: Float32Array,
  baseline: Float32Array = new Float32Array(widthOf(model.shape)),
  target: AttributionTarget = 'logit',
): Float32Array {
  const g = inputGradient(model, x, target);
  return Float32Array.from(g, (v, i) => v * (x[i]! - baseline[i]!));
}
