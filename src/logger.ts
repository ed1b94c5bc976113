/**
 * Structured JSON logging. Logs must never carry patient data: request bodies, FHIR resources and
 * tokens are never logged, and the redaction list below is a second line of defence for fields
 * that could slip in through error objects.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'authorization',
  'access_token',
  'refresh_token',
  'id_token',
  'token',
  'fhirAuthorization',
  'prefetch',
  'context',
  'body',
  'resource',
  'patient',
  'name',
  'birthDate',
  'identifier',
  'telecom',
  'address',
  'patientId',
  'mrn',
];

/**
 * The same keys one level down (`{ err: { patient } }`, `{ req: { body } }`): pino wildcards cost little at
 * one level; deeper nesting is not covered, which is why nothing PHI-bearing may be logged in the first place.
 */
const NESTED_PATHS = REDACTED_PATHS.filter((p) => !p.includes('.')).map((p) => `*.${p}`);

export function createLogger(level = 'info', destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'vigil' },
      redact: { paths: [...REDACTED_PATHS, ...NESTED_PATHS], censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}
