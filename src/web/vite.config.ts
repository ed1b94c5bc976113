// Vite build of the explanation view: src/web → dist/web, served by express at /app (src/smart/app-launch/static.ts).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = path.dirname(fileURLToPath(import.meta.url));

export default defineConfig({
  root: here,
  base: '/app/',
  logLevel: 'warn',
  build: {
    outDir: process.env.WEB_OUT_DIR ?? path.resolve(here, '../../dist/web'),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    // One small page: keep the CSP simple (no inline scripts or module-preload polyfill).
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
  },
});
