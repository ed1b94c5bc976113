/**
 * Shared loader for the native TensorFlow bindings (`@tensorflow/tfjs-node[-gpu]`). Both are optional
 * dependencies whose install scripts download libtensorflow, so on most machines the import fails; that
 * is an expected outcome, reported as "not available" rather than an error.
 */
import * as tf from '@tensorflow/tfjs';

/** Imports a module by a name the compiler does not resolve (the package may not be installed). */
async function importOptional(specifier: string): Promise<boolean> {
  try {
    await import(specifier);
    return true;
  } catch {
    return false;
  }
}

/** Both native packages register the back end under the name "tensorflow". */
export async function activateNative(specifier: string): Promise<boolean> {
  if (!(await importOptional(specifier))) return false;
  try {
    return await tf.setBackend('tensorflow');
  } catch {
    return false;
  }
}
