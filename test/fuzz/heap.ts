/** Heap in use after two full collections, so the fuzz suites can bound growth over thousands of requests. */
import v8 from 'node:v8';
import vm from 'node:vm';

export function heapAfterGc(): number {
  // jest does not start node with --expose-gc; the flag can be turned on at run time and gc() read from a fresh context.
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}
