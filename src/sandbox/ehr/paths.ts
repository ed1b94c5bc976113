/** Where the page's static files are at run time, so src (tsx/jest) and dist (after tsc) agree. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { findRepoRoot } from '../patients.js';

/**
 * The page's static files. tsc copies no non-TS files, so a build serves them from <repo>/src/sandbox/ui;
 * a ui/ folder beside the running module (if a packaging step copies it there) wins when present.
 */
export function sandboxUiDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [path.resolve(here, '..', 'ui'), path.join(findRepoRoot(here), 'src', 'sandbox', 'ui')];
  const found = candidates.find((dir) => existsSync(path.join(dir, 'index.html')));
  if (!found) throw new Error(`Sandbox UI files not found (looked in ${candidates.join(', ')})`);
  return found;
}
