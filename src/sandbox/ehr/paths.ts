/** Repository paths the sandbox needs at run time, resolved from this module so src (tsx/jest) and dist agree. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** <repo> — the nearest ancestor of this file holding package.json. */
export function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('Cannot find the repository root (no package.json above src/sandbox)');
    dir = parent;
  }
  return dir;
}

/** <repo>/data/sandbox — the shipped synthetic patients. */
export function repoDataDir(): string {
  return path.join(repoRoot(), 'data', 'sandbox');
}

/**
 * The page's static files. tsc copies no non-TS files, so a build serves them from <repo>/src/sandbox/ui;
 * a sibling ui/ folder next to the running module (a packaging step that copies it) wins when present.
 */
export function sandboxUiDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [path.resolve(here, '..', 'ui'), path.join(repoRoot(), 'src', 'sandbox', 'ui')];
  const found = candidates.find((dir) => existsSync(path.join(dir, 'index.html')));
  if (!found) throw new Error(`Sandbox UI files not found (looked in ${candidates.join(', ')})`);
  return found;
}
