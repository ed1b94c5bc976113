// Native ESM under Jest: tests run with --experimental-vm-modules (see package.json "test").
// TypeScript is stripped by SWC; type checking is a separate step (npm run typecheck).
/** @type {import('jest').Config} */
export default {
  testEnvironment: 'node',
  roots: ['<rootDir>/test', '<rootDir>/src'],
  testMatch: ['**/*.test.ts'],
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': [
      '@swc/jest',
      {
        jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
        module: { type: 'es6' },
        sourceMaps: 'inline',
      },
    ],
  },
  testTimeout: 30000,
  maxWorkers: 2,
  // A worker is replaced once its heap passes 300 MB after a test file. Under --experimental-vm-modules
  // every file's module graph stays reachable in the worker that ran it (jestjs/jest#14605: ~10 MB of
  // heap per file here after a full GC, plus each TensorFlow.js file's wasm memory), so a worker that had
  // run dozens of files held 1.4-2.7 GB at the end. With nothing left open its event loop empties at once,
  // but the kernel then needs 0.5-0.8 s on a loaded 2-core machine to free that memory: longer than jest
  // waits, hence "A worker process has failed to exit gracefully". Workers now end at 0.2-0.5 GB and are
  // gone in under 0.1 s. Side effect: a single test file also runs in a worker (about +0.25 s).
  workerIdleMemoryLimit: '300MB',
};
