/**
 * Admin read paths, guarded by ADMIN_TOKEN (Authorization: Bearer …, compared in constant time); without
 * ADMIN_TOKEN the routes do not exist.
 * - GET /admin/audit — the audit trail for security reviewers, as a FHIR searchset Bundle of AuditEvents
 *   (newest first). Parameters: `patient` (id), `since` (ISO instant), `_count` (≤ 1000).
 * - GET /admin/feedback — stored CDS Hooks §Feedback entries in arrival order, `{ feedback: [...] }`.
 *   Parameters: `service` (service id), `card` (card uuid). Override comments may hold patient details,
 *   hence the admin guard.
 * With PostgreSQL both read what every replica wrote; a store that cannot be reached answers 503.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import express, { type Router } from 'express';
import type { Bundle } from 'fhir/r4';
import { BadRequestError, UnauthorizedError } from '../errors.js';
import type { AuditStore } from '../storage/audit-store.js';
import type { FeedbackStore } from '../storage/feedback-store.js';
import { bearerToken } from './cds-client-auth.js';

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

export interface AdminRouterOptions {
  adminToken: string;
  store: Pick<AuditStore, 'list'>;
  /** Enables GET /admin/feedback. */
  feedback?: Pick<FeedbackStore, 'list'>;
}

export function createAdminAuditRouter(opts: AdminRouterOptions): Router {
  const expected = digest(opts.adminToken);
  const router = express.Router();
  router.use((req, _res, next) => {
    const token = bearerToken(req.get('authorization'));
    // Hashing first makes the comparison length-independent as well as constant-time.
    if (!token || !timingSafeEqual(digest(token), expected)) {
      next(new UnauthorizedError('Admin token required', 'Bearer realm="vigil-admin"'));
      return;
    }
    next();
  });
  router.get('/audit', async (req, res) => {
    const q = req.query as Record<string, unknown>;
    const patientId = typeof q.patient === 'string' ? q.patient : undefined;
    const since = typeof q.since === 'string' ? q.since : undefined;
    if (since !== undefined && Number.isNaN(Date.parse(since))) throw new BadRequestError('since must be an ISO 8601 instant', [{ field: 'since', message: 'not a date' }]);
    const count = typeof q._count === 'string' ? Number(q._count) : undefined;
    if (count !== undefined && (!Number.isInteger(count) || count < 1)) throw new BadRequestError('_count must be a positive integer', [{ field: '_count', message: 'invalid' }]);
    const events = await opts.store.list({
      ...(patientId ? { patientId } : {}),
      ...(since ? { since: new Date(since).toISOString() } : {}),
      ...(count ? { limit: count } : {}),
    });
    const bundle: Bundle = { resourceType: 'Bundle', type: 'searchset', total: events.length, entry: events.map((resource) => ({ resource, search: { mode: 'match' } })) };
    res.setHeader('Cache-Control', 'no-store');
    res.type('application/fhir+json').send(JSON.stringify(bundle));
  });
  const feedback = opts.feedback;
  if (feedback) {
    router.get('/feedback', async (req, res) => {
      const q = req.query as Record<string, unknown>;
      const serviceId = typeof q.service === 'string' ? q.service : undefined;
      const card = typeof q.card === 'string' ? q.card : undefined;
      const entries = await feedback.list({ ...(serviceId !== undefined ? { serviceId } : {}), ...(card !== undefined ? { card } : {}) });
      res.setHeader('Cache-Control', 'no-store');
      res.json({ feedback: entries });
    });
  }
  return router;
}
