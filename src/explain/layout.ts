/**
 * The input layout of a registered model, read from what the registry already publishes: the encoded
 * channel names (preprocess featureNames) and the manifest's input fields. Channel names follow one
 * convention across encodings — "X", "X:measured", "X:hours_since", "X:missing", "X=value" — so mask,
 * time-since, missingness and one-hot channels fold back into their raw feature X without model-specific code.
 */
import type { ModelManifest } from '../models/types.js';
import { REFERENCE } from './reference-ranges.js';
import type { FeatureInfo, InputLayout } from './types.js';

/** Raw feature a channel belongs to ("Lactate:measured" → "Lactate", "cp=4" → "cp"). */
export function featureOfChannel(channel: string): string {
  return channel.split(/[:=]/, 1)[0]!;
}

export function buildLayout(
  manifest: Pick<ModelManifest, 'input'>,
  channels: readonly string[],
  shape: readonly number[],
): InputLayout {
  const features: FeatureInfo[] = [];
  const index = new Map<string, number>();
  const add = (name: string): number => {
    const field = manifest.input.fields.find((f) => f.name === name);
    const reference = REFERENCE[name];
    const coded = field?.values !== undefined || reference?.values !== undefined;
    features.push({
      name,
      label: reference?.label ?? field?.display ?? name,
      kind: coded ? (field?.values?.length === 2 || Object.keys(reference?.values ?? {}).length === 2 ? 'flag' : 'category') : 'quantity',
      ...(field?.unit ? { ucum: field.unit } : {}),
      ...(reference?.unitText ?? field?.unit ? { unitText: reference?.unitText ?? field?.unit } : {}),
      ...(field?.system ? { system: field.system } : {}),
      ...(field?.code ? { code: field.code } : {}),
    });
    index.set(name, features.length - 1);
    return features.length - 1;
  };
  // Manifest order first (the order clinicians and the model card know), then anything only the encoding names.
  for (const field of manifest.input.fields) if (channels.some((c) => featureOfChannel(c) === field.name)) add(field.name);
  const channelFeature = channels.map((c) => index.get(featureOfChannel(c)) ?? add(featureOfChannel(c)));
  return {
    shape,
    channels,
    features,
    channelFeature,
    ...(shape.length === 2 ? { stepHours: manifest.input.stepHours ?? 1 } : {}),
  };
}
