/**
 * Newline-delimited JSON (http://ndjson.org, the FHIR Bulk Data output format application/fhir+ndjson):
 * a byte stream split into lines as it arrives, each line one FHIR resource. A file can be far larger
 * than memory; only the current line is buffered.
 */
import type { FhirResource } from 'fhir/r4';
import { BadGatewayError } from '../errors.js';

/** Lines of a UTF-8 byte stream (LF or CRLF); blank lines are skipped. */
export async function* ndjsonLines(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder('utf-8');
  let buffer = '';
  for await (const chunk of chunks) {
    buffer += decoder.decode(chunk, { stream: true });
    let start = 0;
    let nl: number;
    while ((nl = buffer.indexOf('\n', start)) >= 0) {
      const line = buffer.slice(start, nl).trim();
      start = nl + 1;
      if (line) yield line;
    }
    buffer = buffer.slice(start);
  }
  const last = (buffer + decoder.decode()).trim();
  if (last) yield last;
}

/** One ndjson line as a FHIR resource. @throws BadGatewayError naming the line when it is not one. */
export function parseResourceLine(line: string, where: string): FhirResource {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new BadGatewayError(`${where}: a line is not JSON`);
  }
  if (typeof value !== 'object' || value === null || typeof (value as { resourceType?: unknown }).resourceType !== 'string') {
    throw new BadGatewayError(`${where}: a line is not a FHIR resource`);
  }
  return value as FhirResource;
}
