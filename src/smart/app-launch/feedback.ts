/**
 * Feedback from the explanation view: "agree" or "override" with a reason code, stored as a CDS Hooks 2.0.1
 * §Feedback entry (https://cds-hooks.hl7.org/2.0/#feedback) in the same store POST /cds-services/{id}/feedback
 * writes. Why not POST to that endpoint: it authenticates *EHRs* by their signed client JWT (§Trusting CDS
 * Clients), and the app holds a user's SMART token, not an EHR key. So the app's server checks the user's
 * token against the explanation (same patient) and writes the entry itself. "agree" is recorded as §Feedback
 * outcome `accepted` with no suggestion, "override" as `overridden` with the coded reason.
 */
import { z } from 'zod';
import { BadRequestError } from '../../errors.js';
import type { Coding, FeedbackEntry } from '../../cds-hooks/types.js';

export const VIGIL_EXPLANATION_OVERRIDE_REASON = 'http://vigil.example.org/CodeSystem/explanation-override-reason';

/** Reasons a clinician may give for overriding a risk model (offered in the view). */
export const FEEDBACK_REASONS: readonly Coding[] = [
  { system: VIGIL_EXPLANATION_OVERRIDE_REASON, code: 'clinically-not-concerning', display: 'Patient assessed at the bedside: not concerning' },
  { system: VIGIL_EXPLANATION_OVERRIDE_REASON, code: 'already-treated', display: 'Already recognised and being treated' },
  { system: VIGIL_EXPLANATION_OVERRIDE_REASON, code: 'data-error', display: 'A value behind the score is wrong or outdated' },
  { system: VIGIL_EXPLANATION_OVERRIDE_REASON, code: 'explanation-implausible', display: 'The factors shown do not make clinical sense' },
  { system: VIGIL_EXPLANATION_OVERRIDE_REASON, code: 'outside-intended-use', display: 'Patient is outside the model’s intended use' },
];

const ID = /^[A-Za-z0-9\-._]{1,128}$/;

const appFeedbackSchema = z
  .object({
    explanationId: z.string().regex(ID),
    serviceId: z.string().regex(ID).optional(),
    card: z.string().regex(ID).optional(),
    outcome: z.enum(['agree', 'override']),
    reasonCode: z.string().optional(),
    comment: z.string().max(2000).optional(),
  })
  .strict();

export type AppFeedback = z.infer<typeof appFeedbackSchema>;

export function parseAppFeedback(body: unknown): AppFeedback {
  const parsed = appFeedbackSchema.safeParse(body);
  if (!parsed.success) {
    throw new BadRequestError(
      'The feedback could not be read.',
      parsed.error.issues.map((i) => ({ field: i.path.join('.') || 'body', message: i.message })),
    );
  }
  const input = parsed.data;
  if (input.outcome === 'override' && !FEEDBACK_REASONS.some((r) => r.code === input.reasonCode)) {
    throw new BadRequestError('Choose a reason for the override.', [{ field: 'reasonCode', message: 'one of the offered reason codes is required' }]);
  }
  return input;
}

function field(record: unknown, ...names: string[]): string | undefined {
  if (record === null || typeof record !== 'object') return undefined;
  for (const name of names) {
    const v = (record as Record<string, unknown>)[name];
    if (typeof v === 'string' && ID.test(v)) return v;
  }
  return undefined;
}

/**
 * Which service and card the feedback is about. The explanation record is authoritative when it names them
 * (the page cannot redirect feedback to another service); else the page's values; else the explanation id.
 */
export function feedbackTargetOf(record: unknown, input: AppFeedback): { serviceId: string; card: string } {
  const serviceId = field(record, 'serviceId', 'service') ?? input.serviceId;
  if (!serviceId) throw new BadRequestError('The explanation does not say which service it came from.', [{ field: 'serviceId', message: 'required' }]);
  const card = field(record, 'cardUuid', 'card', 'cardId') ?? input.card ?? input.explanationId;
  return { serviceId, card };
}

export function feedbackEntryFrom(input: AppFeedback, card: string, at: string): FeedbackEntry {
  if (input.outcome === 'agree') return { card, outcome: 'accepted', outcomeTimestamp: at };
  const reason = FEEDBACK_REASONS.find((r) => r.code === input.reasonCode)!;
  const comment = input.comment?.trim();
  return { card, outcome: 'overridden', overrideReason: { reason, ...(comment ? { userComment: comment } : {}) }, outcomeTimestamp: at };
}
