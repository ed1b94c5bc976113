import { describe, expect, it } from '@jest/globals';
import { deteriorationPrefetch } from '../../src/cds-hooks/services/deterioration/definition.js';
import { heartPrefetch } from '../../src/cds-hooks/services/heart-disease/definition.js';
import { deteriorationAdapter, heartDiseaseAdapter } from '../../src/population/model-inputs.js';

/** The `code` tokens of a prefetch template's Observation query. */
function prefetchCodes(template: string): string[] {
  return new URLSearchParams(template.slice(template.indexOf('?') + 1)).get('code')!.split(',');
}

describe('population adapters read the Observations their services prefetch', () => {
  it.each([
    ['heart-disease', heartDiseaseAdapter.observationCodes, heartPrefetch().observations!],
    ['deterioration', deteriorationAdapter.observationCodes, deteriorationPrefetch().observations!],
  ])('%s: the export filters on exactly the prefetch codes', (_model, exported, template) => {
    expect(exported.length).toBeGreaterThan(3);
    expect([...exported].sort()).toEqual(prefetchCodes(template).sort());
  });
});
