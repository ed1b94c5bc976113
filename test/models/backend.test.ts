import { afterEach, describe, expect, it } from '@jest/globals';
import {
  ADAPTERS,
  backendName,
  getTf,
  initBackend,
  resetBackendForTests,
  type BackendName,
} from '../../src/models/backend/index.js';
import type { BackendAdapter } from '../../src/models/backend/types.js';
import { loadConfig } from '../../src/config.js';
import { ServiceUnavailableError } from '../../src/errors.js';

function recordingAdapters(available: BackendName[], tried: BackendName[]): Record<BackendName, BackendAdapter> {
  const make = (name: BackendName): BackendAdapter => ({
    name,
    async activate() {
      tried.push(name);
      return available.includes(name) ? ADAPTERS.cpu.activate() : false;
    },
  });
  return { 'tensorflow-gpu': make('tensorflow-gpu'), tensorflow: make('tensorflow'), wasm: make('wasm'), cpu: make('cpu') };
}

describe('backend selection', () => {
  afterEach(() => resetBackendForTests());

  it('native TensorFlow packages are absent here and report unavailable without throwing', async () => {
    await expect(ADAPTERS['tensorflow-gpu'].activate()).resolves.toBe(false);
    await expect(ADAPTERS.tensorflow.activate()).resolves.toBe(false);
  });

  it('falls through the preference order to wasm and logs the choice', async () => {
    const logs: unknown[] = [];
    const logger = { info: (o: unknown) => logs.push(o), warn: () => undefined };
    const name = await initBackend({ logger });
    expect(name).toBe('wasm');
    expect(backendName()).toBe('wasm');
    expect(getTf().getBackend()).toBe('wasm');
    expect(logs).toEqual([expect.objectContaining({ backend: 'wasm', skipped: ['tensorflow-gpu', 'tensorflow'] })]);
    // The wasm back end actually computes.
    const tf = getTf();
    expect(Array.from(tf.tidy(() => tf.matMul([[1, 2]], [[3], [4]])).dataSync())).toEqual([11]);
  });

  it('tries adapters strictly in preference order', async () => {
    const tried: BackendName[] = [];
    const name = await initBackend({ adapters: recordingAdapters(['cpu'], tried) });
    expect(name).toBe('cpu');
    expect(tried).toEqual(['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu']);
  });

  it('a forced back end is the only one tried; an unavailable forced one is an error, not a fallback', async () => {
    const tried: BackendName[] = [];
    await expect(initBackend({ force: 'tensorflow', adapters: recordingAdapters(['cpu'], tried) })).rejects.toBeInstanceOf(
      ServiceUnavailableError,
    );
    expect(tried).toEqual(['tensorflow']);
    await expect(initBackend({ force: 'cpu' })).resolves.toBe('cpu');
    expect(getTf().getBackend()).toBe('cpu');
  });

  it('is idempotent: the first choice stands', async () => {
    await initBackend({ force: 'cpu' });
    await expect(initBackend({ force: 'wasm' })).resolves.toBe('cpu');
  });

  it('VIGIL_BACKEND is parsed and validated by config', () => {
    expect(loadConfig({}).backend).toBe('auto');
    expect(loadConfig({ VIGIL_BACKEND: 'WASM' }).backend).toBe('wasm');
    expect(() => loadConfig({ VIGIL_BACKEND: 'tpu' })).toThrow(/VIGIL_BACKEND/);
  });
});
