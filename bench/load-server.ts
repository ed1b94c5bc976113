/**
 * The process bench/load.ts measures: the real app (createVigil, sandbox on for its patients and FHIR
 * server) plus, on the same express server and port, a trivial static-card endpoint — the floor our
 * overhead is compared with — and GET /bench/stats (the explanation engine's counters). Configured
 * entirely by environment (PORT=0 picks a free port); prints one
 * JSON line `{ "listening": port }` when ready. Not used in production.
 */
import express from 'express';
import { loadConfig } from '../src/config.js';
import { createVigil } from '../src/app.js';
import type { CdsResponse } from '../src/cds-hooks/types.js';
import { serveBenchApp } from './spawn-server.js';

const STATIC: CdsResponse = {
  cards: [{ uuid: '00000000-0000-4000-8000-000000000000', summary: 'Static card', indicator: 'info', source: { label: 'bench' } }],
};

async function main(): Promise<void> {
  const config = loadConfig();
  const vigil = await createVigil(config);
  const outer = express();
  outer.disable('x-powered-by');
  // Parses the same body the CDS route parses, so the floor includes JSON parsing of the same payload.
  outer.post('/bench/static-card', express.json({ limit: config.bodyLimit }), (_req, res) => {
    res.json(STATIC);
  });
  // Server-side counters, so the report can say which path the explanations took (computed, cached, reused).
  outer.get('/bench/stats', (_req, res) => {
    res.json({ engine: vigil.explanationEngine.stats });
  });
  outer.use(vigil.app);
  serveBenchApp(outer, config.port, () => vigil.close());
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
