/**
 * valuesAndGradients: exact values and gradients of a known model on a large batch, with no tensor left
 * behind (the arrays leave tf.tidy through a closure, src/explain/differentiable.ts).
 */
import { describe, expect, it } from '@jest/globals';
import { getTf, initBackend } from '../../src/models/backend/index.js';
import { differentiableFromLayers, valuesAndGradients } from '../../src/explain/differentiable.js';
import { linearSeriesModel, weights } from './models.js';

await initBackend();

describe('valuesAndGradients', () => {
  const steps = 48;
  const channels = 104;
  const w = weights(3, steps * channels, 0.05);
  const model = differentiableFromLayers(linearSeriesModel(steps, channels, w, -0.2));

  it('returns the logit and its gradient (the weights) for every row of a 65-row batch, leaking no tensor', () => {
    const tf = getTf();
    const rows = 65;
    const width = steps * channels;
    const flat = Float32Array.from(weights(4, rows * width, 1));
    const before = tf.memory().numTensors;
    const { values, gradients } = valuesAndGradients(model, flat, rows, 'logit');
    expect(tf.memory().numTensors).toBe(before);
    expect(values).toHaveLength(rows);
    expect(gradients).toHaveLength(rows * width);
    for (const r of [0, 31, 64]) {
      let z = -0.2;
      for (let i = 0; i < width; i++) z += flat[r * width + i]! * w[i]!;
      expect(values[r]).toBeCloseTo(z, 3);
      for (const i of [0, 1000, width - 1]) expect(gradients[r * width + i]).toBeCloseTo(w[i]!, 5);
    }
  });
});
