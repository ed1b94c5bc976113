/**
 * Fallback for an encoding without an adapter: a new model still gets every explainer, with cells decoded
 * as their encoded value (no units, no source links) and zero / shipped-mean baselines.
 */
import type { RegisteredModel } from '../../models/registry.js';
import type { InputLayout, Provenance } from '../types.js';
import { baselineSet, sourcesAt, type EncodingAdapter, type PreparedCells } from './common.js';

export const genericAdapter: EncodingAdapter<unknown> = {
  prepare(model: RegisteredModel<unknown>, layout: InputLayout, input: unknown, provenance?: Provenance): PreparedCells {
    const encoded = model.encode(input);
    const channels = layout.channels.length;
    const valueChannel = layout.features.map((f) => layout.channels.indexOf(f.name));
    return {
      encoded,
      baselines: baselineSet(model.manifest.id, encoded.length),
      cell(step, feature) {
        const c = valueChannel[feature]!;
        return { value: c < 0 ? null : encoded[step * channels + c]!, imputed: false, sources: sourcesAt(provenance, step, feature) };
      },
      // Times are per model step here (no decoder to align them): a list of another length would date
      // cells wrongly, or not at all, so it is dropped and the record has no time axis.
      ...(provenance?.stepTimes && layout.shape.length === 2 && provenance.stepTimes.length === layout.shape[0] ? { stepTimes: provenance.stepTimes } : {}),
    };
  },
};
