/**
 * HTTP surface of the explanations (issue 7), mounted at the service root:
 * - GET /explanations/{id}   the explanation record, behind requireAccess: SMART bearer token whose scope
 *   covers RiskAssessment read (an explanation is the reasoning of a risk assessment; the explanation
 *   view asks for patient/RiskAssessment.rs) and whose patient is the record's patient. 401 without or
 *   with a bad token, 403 for another patient's record or a scope without RiskAssessment, 404 for an
 *   unknown id (only after a valid token: ids are not confirmed to anonymous callers). One AuditEvent per
 *   decision about a known record (requireAccess).
 * - GET /models/{id}/card    the public model card JSON (models/<id>/card.json: ONC HTI-1 source attributes).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import express, { type Request, type RequestHandler, type Router } from 'express';
import { NotFoundError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { AuditSink } from '../smart/audit.js';
import { requireAccess, type VerifiedGrant } from '../smart/require-access.js';
import type { ExplanationRecord } from './record.js';
import type { ExplanationStore } from './store.js';

export interface ExplanationsRouterOptions {
  store: ExplanationStore;
  /** Verifies a bearer token; absent = no token is ever valid (every request gets 401). */
  verify?: (token: string, req: Request) => Promise<VerifiedGrant>;
  audit: AuditSink;
  logger: Logger;
  /** Folder with one sub-folder per model (MODELS_DIR). */
  modelsDir: string;
}

const SAFE_ID = /^[A-Za-z0-9-]{1,64}$/;

export function createExplanationsRouter(opts: ExplanationsRouterOptions): Router {
  const router = express.Router();
  const verify = opts.verify ?? (async () => Promise.reject(new Error('no token verifier configured')));

  // Loads the record before the access decision so the decision can compare patients. The patient of an
  // unknown id is unknown, and requireAccess then decides on scope alone before the 404.
  const loadRecord: RequestHandler = async (req, res, next) => {
    const id = String(req.params.id);
    res.locals.explanation = SAFE_ID.test(id) ? await opts.store.get(id) : undefined;
    next();
  };
  router.get(
    '/explanations/:id',
    loadRecord,
    requireAccess({
      verify,
      resourceType: 'RiskAssessment',
      access: 'read',
      patientOf: (req) => (req.res?.locals.explanation as ExplanationRecord | undefined)?.patientId,
      audit: opts.audit,
      description: 'explanation read',
      logger: opts.logger,
    }),
    (_req, res) => {
      const record = res.locals.explanation as ExplanationRecord | undefined;
      if (!record) throw new NotFoundError('No explanation with this id');
      res.setHeader('Cache-Control', 'no-store');
      res.json(record);
    },
  );

  router.get('/models/:id/card', (req, res) => {
    const id = String(req.params.id);
    const file = path.join(opts.modelsDir, id, 'card.json');
    if (!SAFE_ID.test(id) || !existsSync(file)) throw new NotFoundError('No model card for this model id');
    res.setHeader('Cache-Control', 'public, max-age=300');
    res.type('application/json').send(readFileSync(file, 'utf8'));
  });
  return router;
}
