/**
 * Request latency histogram middleware and the GET /metrics handler. The route label is the matched
 * route template (never the concrete path, which holds ids); requests no route matched share one
 * "unmatched" series.
 */
import type { Request, RequestHandler, Response } from 'express';
import type { CdsService } from '../cds-hooks/types.js';
import type { VigilMetrics } from './metrics.js';

/** The route template that answered, e.g. "/cds-services/:id" or "unmatched". */
export function routeTemplateOf(req: Request): string {
  const route = (req as Request & { route?: { path?: unknown } }).route;
  return typeof route?.path === 'string' ? `${req.baseUrl}${route.path}` : 'unmatched';
}

/** The registered CDS service this request was routed to (set by the CDS Hooks router), if any. */
function cdsServiceOf(res: Response): CdsService | undefined {
  const service = res.locals.cdsService as CdsService | undefined;
  return service?.definition ? service : undefined;
}

export function httpMetrics(metrics: VigilMetrics): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const service = cdsServiceOf(res);
      metrics.observeHttp({
        method: req.method,
        route: routeTemplateOf(req),
        status: res.statusCode,
        ...(service ? { service: service.definition.id, hook: service.definition.hook } : {}),
        seconds: Number(process.hrtime.bigint() - started) / 1e9,
      });
    });
    next();
  };
}

export function metricsEndpoint(metrics: VigilMetrics): RequestHandler {
  return async (_req, res, next) => {
    try {
      const { contentType, body } = await metrics.exposition();
      res.setHeader('Cache-Control', 'no-store');
      res.type(contentType).send(body);
    } catch (err) {
      next(err);
    }
  };
}
