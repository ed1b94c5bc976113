/**
 * Readiness (GET /readyz): may this instance take traffic now? Each dependency registers a named check
 * (models loaded, stores reachable, sandbox loaded…); the endpoint answers 200 when all pass and 503 with
 * each failing check's reason otherwise, so a load balancer or Kubernetes stops routing here until it
 * recovers. Liveness (GET /healthz) stays a constant "the process answers" — a down database must not
 * get the pod restarted, only taken out of rotation.
 *
 * Checks are time-boxed: a check that hangs counts as failing, the probe itself never hangs.
 */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import type { RequestHandler } from 'express';
import type { VigilMetrics } from './metrics.js';

/** Resolves (or returns) undefined when ready, or a short reason when not; throwing counts as not ready. */
export type ReadinessCheck = () => Promise<string | undefined> | string | undefined;

export interface CheckOutcome {
  name: string;
  ok: boolean;
  /** Why the check failed. Written for operators; must never carry patient data or secrets. */
  reason?: string;
  ms: number;
}

export interface ReadinessReport {
  ready: boolean;
  checks: CheckOutcome[];
}

export interface ReadinessOptions {
  /** Longest a single check may take before it counts as failing. Default 2000 ms. */
  checkTimeoutMs?: number;
  metrics?: VigilMetrics;
}

/** Error messages can quote connection strings; keep the reason short and drop credentials in URLs. */
function safeReason(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.replace(/\/\/[^/@\s]*@/g, '//***@').slice(0, 200);
}

export class Readiness {
  private readonly checks = new Map<string, ReadinessCheck>();
  private readonly timeoutMs: number;

  constructor(private readonly options: ReadinessOptions = {}) {
    this.timeoutMs = options.checkTimeoutMs ?? 2000;
  }

  /** Adds (or replaces) a named check. Returns a function removing it. */
  register(name: string, check: ReadinessCheck): () => void {
    this.checks.set(name, check);
    return () => {
      if (this.checks.get(name) === check) this.checks.delete(name);
    };
  }

  names(): string[] {
    return [...this.checks.keys()];
  }

  /** Runs every check concurrently, each bounded by the check time-out. */
  async evaluate(): Promise<ReadinessReport> {
    const checks = await Promise.all([...this.checks].map(([name, check]) => this.run(name, check)));
    for (const c of checks) this.options.metrics?.setReadiness(c.name, c.ok);
    return { ready: checks.every((c) => c.ok), checks };
  }

  private async run(name: string, check: ReadinessCheck): Promise<CheckOutcome> {
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve(`no answer within ${this.timeoutMs} ms`), this.timeoutMs);
    });
    let reason: string | undefined;
    try {
      reason = await Promise.race([Promise.resolve().then(check), timeout]);
    } catch (err) {
      reason = safeReason(err) || 'check failed';
    } finally {
      clearTimeout(timer);
    }
    const ms = Math.round(performance.now() - started);
    return reason === undefined ? { name, ok: true, ms } : { name, ok: false, reason, ms };
  }
}

/** GET /readyz: 200 `{ status: "ready", checks }` or 503 `{ status: "not-ready", checks }`. */
export function readinessEndpoint(readiness: Readiness): RequestHandler {
  return async (_req, res, next) => {
    try {
      const report = await readiness.evaluate();
      res.setHeader('Cache-Control', 'no-store');
      res.status(report.ready ? 200 : 503).json({ status: report.ready ? 'ready' : 'not-ready', checks: report.checks });
    } catch (err) {
      next(err);
    }
  };
}

/**
 * Check that every expected model is loaded: `expected` are the model ids the configured services need
 * (e.g. the folders under MODELS_DIR), `loaded` reads the registry's current ids.
 */
export function modelsLoadedCheck(loaded: () => readonly string[], expected: readonly string[]): ReadinessCheck {
  return () => {
    const have = new Set(loaded());
    const missing = expected.filter((id) => !have.has(id));
    return missing.length ? `models not loaded: ${missing.join(', ')}` : undefined;
  };
}

/**
 * Check over a model registry that loads in the background (src/app.ts): not ready while it loads or if it
 * failed to load, then ready once every expected model id is loaded. `expected` are the model folders
 * shipped under MODELS_DIR, so a model that is present but broken keeps the instance out of rotation.
 */
export function modelRegistryCheck(
  registry: Promise<{ ids(): readonly string[]; failures?(): ReadonlyMap<string, string> }>,
  expected: readonly string[],
): ReadinessCheck {
  let state: { loaded?: { ids(): readonly string[]; failures?(): ReadonlyMap<string, string> }; failure?: string } = {};
  registry.then(
    (loaded) => {
      state = { loaded };
    },
    (err: unknown) => {
      state = { failure: safeReason(err) };
    },
  );
  return () => {
    if (state.failure !== undefined) return `models could not be loaded: ${state.failure}`;
    if (!state.loaded) return 'models are still loading';
    // Models skipped as broken while the rest loaded: named with the reason.
    const broken = [...(state.loaded.failures?.() ?? new Map<string, string>())].filter(([id]) => expected.includes(id));
    if (broken.length) return `models could not be loaded: ${broken.map(([id, why]) => `${id} (${safeReason(new Error(why))})`).join(', ')}`;
    return modelsLoadedCheck(() => state.loaded!.ids(), expected)();
  };
}

/** Model ids shipped under `modelsDir` (sub-folders with a manifest.json). */
export function shippedModelIds(modelsDir: string): string[] {
  if (!existsSync(modelsDir)) return [];
  return readdirSync(modelsDir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(path.join(modelsDir, d.name, 'manifest.json')))
    .map((d) => d.name)
    .sort();
}

/** Check that a store probe (SQLite `SELECT 1`, a PostgreSQL round trip) succeeds; a rejection counts as failing. */
export function storeReachableCheck(probe: () => unknown): ReadinessCheck {
  return async () => {
    await probe();
    return undefined;
  };
}
