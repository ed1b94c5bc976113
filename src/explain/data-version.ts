/**
 * The data version of an explanation: a content hash of exactly what the model saw (the encoded input)
 * and where it came from (Observation ids and times). A score and an explanation with the same data
 * version were computed on the same data; the cache uses it so an explanation computed on older data is
 * never served with a newer score.
 */
import { createHash } from 'node:crypto';
import type { Provenance } from './types.js';

export function dataVersionOf(encoded: Float32Array, provenance?: Provenance): string {
  const hash = createHash('sha256');
  hash.update(Buffer.from(encoded.buffer, encoded.byteOffset, encoded.byteLength));
  if (provenance) hash.update(JSON.stringify([provenance.sources, provenance.stepTimes ?? null, provenance.observedAt ?? null]));
  return `sha256:${hash.digest('hex')}`;
}
