/**
 * Saves and loads tfjs Layers models as `model.json` + `weights.bin` on the local disk (the tfjs "web
 * format", https://www.tensorflow.org/js/guide/save_load). tfjs's own `file://` handler needs
 * tfjs-node, which is optional, so this small IOHandler is used on every back end.
 *
 * Optionally the weights are written quantised (float16, or uint8 with a per-tensor affine min/scale):
 * the manifest carries tfjs's standard `quantization` field, so loading dequantises transparently.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type * as tfTypes from '@tensorflow/tfjs';

type IOHandler = tfTypes.io.IOHandler;
type ModelArtifacts = tfTypes.io.ModelArtifacts;
type WeightsManifestEntry = tfTypes.io.WeightsManifestEntry;

export type WeightQuantization = 'none' | 'float16' | 'uint8';

const MODEL_FILE = 'model.json';
const WEIGHTS_FILE = 'weights.bin';

function concatWeightData(data: ArrayBuffer | ArrayBuffer[]): ArrayBuffer {
  if (!Array.isArray(data)) return data;
  const total = data.reduce((n, b) => n + b.byteLength, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const b of data) {
    out.set(new Uint8Array(b), offset);
    offset += b.byteLength;
  }
  return out.buffer;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE 754 binary32 → binary16 bits, round to nearest even; overflow → ±Inf, underflow → subnormal/0. */
export function float32ToFloat16Bits(value: number): number {
  f32[0] = value;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rest > halfway || (rest === halfway && half & 1)) half++;
    return sign | half;
  }
  let half = sign | (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && half & 1)) half++;
  return half;
}

/** Re-encodes float32 weights with the chosen quantisation; non-float tensors are kept as they are. */
export function quantizeWeights(
  specs: WeightsManifestEntry[],
  data: ArrayBuffer,
  mode: WeightQuantization,
): { specs: WeightsManifestEntry[]; data: ArrayBuffer } {
  if (mode === 'none') return { specs, data };
  const outSpecs: WeightsManifestEntry[] = [];
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const spec of specs) {
    const size = spec.shape.reduce((a, b) => a * b, 1);
    if (spec.dtype !== 'float32' || spec.quantization) {
      throw new Error(`cannot quantise weight ${spec.name} of dtype ${spec.dtype}`);
    }
    const values = new Float32Array(data.slice(offset, offset + size * 4));
    offset += size * 4;
    if (mode === 'float16') {
      const half = Uint16Array.from(values, float32ToFloat16Bits);
      chunks.push(new Uint8Array(half.buffer));
      outSpecs.push({ ...spec, quantization: { dtype: 'float16' } });
    } else {
      let min = Infinity;
      let max = -Infinity;
      for (const v of values) {
        min = Math.min(min, v);
        max = Math.max(max, v);
      }
      if (!Number.isFinite(min)) min = max = 0;
      const scale = max > min ? (max - min) / 255 : 1;
      chunks.push(Uint8Array.from(values, (v) => Math.round((v - min) / scale)));
      outSpecs.push({ ...spec, quantization: { dtype: 'uint8', min, scale } });
    }
  }
  const total = chunks.reduce((n, c) => n + c.byteLength, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return { specs: outSpecs, data: out.buffer };
}

export interface FileHandlerOptions {
  /** Weight encoding when saving. Default none (float32). */
  quantization?: WeightQuantization;
}

/** An IOHandler writing/reading `<dir>/model.json` and `<dir>/weights.bin`. */
export function fileHandler(dir: string, options: FileHandlerOptions = {}): IOHandler {
  return {
    async save(artifacts: ModelArtifacts) {
      if (artifacts.modelTopology instanceof ArrayBuffer) throw new Error('binary (GraphDef) topologies are not supported');
      const raw = concatWeightData(artifacts.weightData ?? new ArrayBuffer(0));
      const { specs, data } = quantizeWeights(artifacts.weightSpecs ?? [], raw, options.quantization ?? 'none');
      mkdirSync(dir, { recursive: true });
      const manifest = {
        format: artifacts.format ?? 'layers-model',
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy ?? null,
        modelTopology: artifacts.modelTopology,
        weightsManifest: [{ paths: [`./${WEIGHTS_FILE}`], weights: specs }],
      };
      writeFileSync(path.join(dir, MODEL_FILE), JSON.stringify(manifest));
      writeFileSync(path.join(dir, WEIGHTS_FILE), new Uint8Array(data));
      return {
        modelArtifactsInfo: {
          dateSaved: new Date(),
          modelTopologyType: 'JSON',
          weightDataBytes: data.byteLength,
        },
      };
    },
    async load(): Promise<ModelArtifacts> {
      const manifest = JSON.parse(readFileSync(path.join(dir, MODEL_FILE), 'utf8')) as {
        modelTopology: object;
        format?: string;
        generatedBy?: string;
        weightsManifest: Array<{ paths: string[]; weights: WeightsManifestEntry[] }>;
      };
      const buffers = manifest.weightsManifest.flatMap((group) => group.paths.map((p) => readFileSync(path.join(dir, p))));
      const weightData = concatWeightData(buffers.map((b) => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)));
      return {
        modelTopology: manifest.modelTopology,
        format: manifest.format,
        generatedBy: manifest.generatedBy,
        weightSpecs: manifest.weightsManifest.flatMap((group) => group.weights),
        weightData,
      };
    },
  };
}

/**
 * Copies a model through the same save/quantise/load path the files take, in memory: used to measure
 * a quantised variant's size and accuracy before it is written.
 */
export async function quantizedCopy(
  model: tfTypes.LayersModel,
  quantization: WeightQuantization,
): Promise<{ model: tfTypes.LayersModel; weightBytes: number }> {
  const tf = await import('@tensorflow/tfjs');
  let captured: ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      captured = artifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  if (!captured) throw new Error('model did not save');
  const raw = concatWeightData(captured.weightData ?? new ArrayBuffer(0));
  const { specs, data } = quantizeWeights(captured.weightSpecs ?? [], raw, quantization);
  const copy = await tf.loadLayersModel(
    tf.io.fromMemory({ modelTopology: captured.modelTopology, weightSpecs: specs, weightData: data }),
  );
  return { model: copy, weightBytes: data.byteLength };
}
