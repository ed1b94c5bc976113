/**
 * GET /admin/audit — the audit trail for security reviewers, as a FHIR searchset Bundle of AuditEvents
 * (newest first). Parameters: `patient` (id), `since` (ISO instant), `_count` (≤ 1000).
 * Guarded by ADMIN_TOKEN (Authorization: Bearer …), compared in constant time; without ADMIN_TOKEN the
 * route does not exist.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import express, { type Router } from 'express';
import type { Bundle } from 'fhir/r4';
import { BadRequestError, UnauthorizedError } from '../errors.js';
import type { AuditStore } from '../storage/audit-store.js';
import { bearerToken } from './cds-client-auth.js';

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

export function createAdminAuditRouter(opts: { adminToken: string; store: Pick<AuditStore, 'list'> }): Router {
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
  router.get('/audit', (req, res) => {
    const q = req.query as Record<string, unknown>;
    const patientId = typeof q.patient === 'string' ? q.patient : undefined;
    const since = typeof q.since === 'string' ? q.since : undefined;
    if (since !== undefined && Number.isNaN(Date.parse(since))) throw new BadRequestError('since must be an ISO 8601 instant', [{ field: 'since', message: 'not a date' }]);
    const count = typeof q._count === 'string' ? Number(q._count) : undefined;
    if (count !== undefined && (!Number.isInteger(count) || count < 1)) throw new BadRequestError('_count must be a positive integer', [{ field: '_count', message: 'invalid' }]);
    const events = opts.store.list({
      ...(patientId ? { patientId } : {}),
      ...(since ? { since: new Date(since).toISOString() } : {}),
      ...(count ? { limit: count } : {}),
    });
    const bundle: Bundle = { resourceType: 'Bundle', type: 'searchset', total: events.length, entry: events.map((resource) => ({ resource, search: { mode: 'match' } })) };
    res.setHeader('Cache-Control', 'no-store');
    res.type('application/fhir+json').send(JSON.stringify(bundle));
  });
  return router;
}
