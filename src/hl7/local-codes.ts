/**
 * The local-code map (src/hl7/local-codes.json, or HL7_LOCAL_CODES_FILE): sender-specific OBX-3
 * codes → LOINC, and PID-3 assigning authorities → FHIR Identifier.system. Format and the reviewed
 * entries are documented in docs/hl7.md.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { findRepoRoot } from '../sandbox/patients.js';

const LocalCodesSchema = z.object({
  observationCodes: z.record(z.string(), z.object({ loinc: z.string().regex(/^\d{1,7}-\d$/), display: z.string().optional() })).default({}),
  identifierSystems: z.record(z.string(), z.string().min(1)).default({}),
});

export interface LocalCodes {
  /** '<system>|<code>' (or '|<code>') → LOINC. */
  observationCodes: ReadonlyMap<string, { loinc: string; display?: string }>;
  /** Assigning authority → Identifier.system. */
  identifierSystems: ReadonlyMap<string, string>;
}

export function parseLocalCodes(json: unknown): LocalCodes {
  const parsed = LocalCodesSchema.parse(json);
  return {
    observationCodes: new Map(Object.entries(parsed.observationCodes)),
    identifierSystems: new Map(Object.entries(parsed.identifierSystems)),
  };
}

/** The shipped map: beside the running module (if a packaging step copies it) or <repo>/src/hl7. */
export function defaultLocalCodesFile(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const beside = path.join(here, 'local-codes.json');
  return existsSync(beside) ? beside : path.join(findRepoRoot(here), 'src', 'hl7', 'local-codes.json');
}

export function loadLocalCodes(file: string = defaultLocalCodesFile()): LocalCodes {
  return parseLocalCodes(JSON.parse(readFileSync(file, 'utf8')));
}

export const EMPTY_LOCAL_CODES: LocalCodes = { observationCodes: new Map(), identifierSystems: new Map() };
