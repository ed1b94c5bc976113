/**
 * Serves the built explanation view (Vite output of src/web, in <repo>/dist/web) at /app. The page's only
 * origin is ours: scripts, styles, data (/app/api). Hashed assets are cached for good; index.html never.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type RequestHandler, type Router } from 'express';
import { findRepoRoot } from '../../sandbox/patients.js';
import { launchErrorPage } from './pages.js';
import { pageSecurityHeaders } from '../../http/page-security-headers.js';

/** <repo>/dist/web, or WEB_DIST when a packaging step put the files elsewhere (tests build into a temp dir). */
export function webDistDir(override?: string): string {
  if (override) return override;
  return path.join(findRepoRoot(path.dirname(fileURLToPath(import.meta.url))), 'dist', 'web');
}

export function viewSecurityHeaders(frameAncestors: readonly string[]): RequestHandler {
  return pageSecurityHeaders({
    'default-src': "'self'",
    'script-src': "'self'",
    'style-src': "'self'",
    'img-src': "'self' data:",
    'connect-src': "'self'",
    'frame-ancestors': `'self'${frameAncestors.length ? ` ${frameAncestors.join(' ')}` : ''}`,
    'base-uri': "'none'",
    'form-action': "'self'",
    'object-src': "'none'",
  });
}

export function createStaticRouter(dir: string): Router {
  const router = express.Router();
  if (!existsSync(path.join(dir, 'index.html'))) {
    router.use((_req, res) => {
      res
        .status(503)
        .type('html')
        .send(
          launchErrorPage({
            title: 'The explanation view is not installed',
            message: 'This Vigil server was started without the built explanation view.',
            action: 'Ask the administrator to run "npm run build" and restart Vigil.',
          }),
        );
    });
    return router;
  }
  router.use(
    '/assets',
    express.static(path.join(dir, 'assets'), { immutable: true, maxAge: '365d', index: false }),
  );
  router.get('/', (_req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    res.sendFile(path.join(dir, 'index.html'));
  });
  return router;
}
