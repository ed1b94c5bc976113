/**
 * HTTP surface of the explanations (issue 7), mounted at the service root:
 * - GET /explanations/{id}   the explanation record, behind requireAccess: SMART bearer token whose scope
 *   covers RiskAssessment read (an explanation is the reasoning of a risk assessment; the explanation
 *   view asks for patient/RiskAssessment.rs) and whose patient is the record's patient. 401 without or
 *   with a bad token, 403 for another patient's record or a scope without RiskAssessment, 404 for an
 *   unknown id (only after a valid token: ids are not confirmed to anonymous callers). A token confined to
 *   one patient gets 403 for an unknown id too (decideAccess has no patient to match), so it cannot tell
 *   another patient's record from no record. One AuditEvent per decision about a known record (requireAccess).
 * - GET /explanations/{id}/trend   the 48-hour score trend of the record (./trend.ts: the time-series model
 *   rescored for each hour from the data available then, computed on demand, off the hook's path), behind
 *   the same guard and with its own AuditEvent.
 * - GET /patients/{id}/explanations/latest   the patient's newest record of each model, summarised
 *   (./summary.ts; ExplanationStore.latestByModel): the view's "current risk for each model". Same guard,
 *   the patient being the path's; one AuditEvent "explanation list read" per access. 400 for a malformed id.
 * - GET /models/{id}/card    the public model card JSON (models/<id>/card.json: ONC HTI-1 source attributes).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import express, { type Request, type RequestHandler, type Router } from 'express';
import { BadRequestError, NotFoundError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { AuditSink } from '../smart/audit.js';
import { requireAccess, type VerifiedGrant } from '../smart/require-access.js';
import type { DeteriorationInput } from '../models/index.js';
import type { ModelProvider } from './model-provider.js';
import type { ExplanationRecord } from './record.js';
import type { ExplanationStore } from './store.js';
import { summarizeExplanation, type ExplanationSummary } from './summary.js';
import { scoreTrendOf, type ScoreTrend } from './trend.js';

export interface ExplanationsRouterOptions {
  store: ExplanationStore;
  /** Verifies a bearer token; absent = no token is ever valid (every request gets 401). */
  verify?: (token: string, req: Request) => Promise<VerifiedGrant>;
  audit: AuditSink;
  logger: Logger;
  /** Folder with one sub-folder per model (MODELS_DIR). */
  modelsDir: string;
  /** The models the trend is rescored with; absent = trends are the record's single point. */
  models?: ModelProvider;
}

/** The record's trend, rescored with the model version the record was made with when it is loaded. */
async function trendOf(record: ExplanationRecord, models: ModelProvider | undefined, logger: Logger): Promise<ScoreTrend> {
  if (!record.window || !models) return scoreTrendOf(record);
  let model;
  try {
    model = await models.get<DeteriorationInput>(record.model.id);
  } catch (err) {
    logger.warn({ errName: err instanceof Error ? err.name : typeof err }, 'trend: model unavailable');
    return { ...scoreTrendOf(record), note: 'earlier hours could not be rescored: the model is not available right now' };
  }
  // Another version would score the past differently from the card: show only what the card showed.
  if (model.manifest.version !== record.model.version) {
    return { ...scoreTrendOf(record), note: `earlier hours are not rescored: the model is now version ${model.manifest.version}` };
  }
  return scoreTrendOf(record, model);
}

const SAFE_ID = /^[A-Za-z0-9-]{1,64}$/;
/** FHIR R4 id (§2.24.0.1 id datatype). */
const PATIENT_ID = /^[A-Za-z0-9\-.]{1,64}$/;

/** Body of GET /patients/{id}/explanations/latest. */
export interface LatestExplanations {
  patientId: string;
  /** One per model, ordered by model id. */
  explanations: ExplanationSummary[];
}

export function createExplanationsRouter(opts: ExplanationsRouterOptions): Router {
  const router = express.Router();
  const verify = opts.verify ?? (async () => Promise.reject(new Error('no token verifier configured')));

  // Loads the record before the access decision so the decision can compare patients. The patient of an
  // unknown id is unknown: requireAccess then refuses a patient-confined token (403) and decides a wider
  // token on scope alone before the 404.
  const loadRecord: RequestHandler = async (req, res, next) => {
    const id = String(req.params.id);
    res.locals.explanation = SAFE_ID.test(id) ? await opts.store.get(id) : undefined;
    next();
  };
  const guard = (description: string): RequestHandler =>
    requireAccess({
      verify,
      resourceType: 'RiskAssessment',
      access: 'read',
      patientOf: (req) => (req.res?.locals.explanation as ExplanationRecord | undefined)?.patientId,
      audit: opts.audit,
      description,
      logger: opts.logger,
    });
  router.get(
    '/explanations/:id',
    loadRecord,
    guard('explanation read'),
    (_req, res) => {
      const record = res.locals.explanation as ExplanationRecord | undefined;
      if (!record) throw new NotFoundError('No explanation with this id');
      res.setHeader('Cache-Control', 'no-store');
      res.json(record);
    },
  );

  router.get('/explanations/:id/trend', loadRecord, guard('explanation trend read'), async (_req, res) => {
    const record = res.locals.explanation as ExplanationRecord | undefined;
    if (!record) throw new NotFoundError('No explanation with this id');
    const trend = await trendOf(record, opts.models, opts.logger);
    res.setHeader('Cache-Control', 'no-store');
    res.json(trend);
  });

  router.get(
    '/patients/:id/explanations/latest',
    (req, _res, next) => {
      // Checked before the guard so a malformed id is never audited as a patient.
      if (!PATIENT_ID.test(String(req.params.id))) throw new BadRequestError('Malformed patient id');
      next();
    },
    requireAccess({
      verify,
      resourceType: 'RiskAssessment',
      access: 'read',
      patientOf: (req) => String(req.params.id),
      audit: opts.audit,
      description: 'explanation list read',
      logger: opts.logger,
    }),
    async (req, res) => {
      const patientId = String(req.params.id);
      const body: LatestExplanations = { patientId, explanations: (await opts.store.latestByModel(patientId)).map(summarizeExplanation) };
      res.setHeader('Cache-Control', 'no-store');
      res.json(body);
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
