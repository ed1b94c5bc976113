/**
 * HL7 v2 DTM / DT / TS (v2.5.1 §2.A.22, §2.A.21, §2.A.77) → FHIR R4 dateTime / date
 * (https://hl7.org/fhir/R4/datatypes.html#dateTime). FHIR requires a time zone whenever hours are
 * given; a v2 timestamp without an offset is read in `assumeOffset` (default UTC, documented in
 * docs/hl7.md) rather than guessed from the server's clock.
 */
const DTM = /^(\d{4})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:\.(\d{1,4}))?)?)?)?)?)?([+-]\d{4})?$/;

function validDate(y: string, m?: string, d?: string): boolean {
  if (m !== undefined && (Number(m) < 1 || Number(m) > 12)) return false;
  if (d !== undefined) {
    const days = new Date(Date.UTC(Number(y), Number(m), 0)).getUTCDate();
    if (Number(d) < 1 || Number(d) > days) return false;
  }
  return true;
}

/** FHIR dateTime for an HL7 DTM, or undefined when the text is not a valid DTM. '' → undefined too. */
export function hl7ToFhirDateTime(value: string, assumeOffset = '+00:00'): string | undefined {
  // TS (v2.3–2.4) may carry a degree-of-precision component after '^'.
  const text = value.split('^')[0]!.trim();
  const m = DTM.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac, tz] = m;
  if (!validDate(y!, mo, d)) return undefined;
  if (h === undefined) return [y, mo, d].filter(Boolean).join('-');
  if (Number(h) > 23 || Number(mi ?? '0') > 59 || Number(s ?? '0') > 59) return undefined;
  const offset = tz ? `${tz.slice(0, 3)}:${tz.slice(3)}` : assumeOffset;
  if (tz && (Number(tz.slice(1, 3)) > 14 || Number(tz.slice(3)) > 59)) return undefined;
  return `${y}-${mo}-${d}T${h}:${mi ?? '00'}:${s ?? '00'}${frac ? `.${frac}` : ''}${offset === '+00:00' ? 'Z' : offset}`;
}

/** FHIR date (YYYY, YYYY-MM or YYYY-MM-DD) from an HL7 DT or DTM (time and zone dropped). */
export function hl7ToFhirDate(value: string): string | undefined {
  const text = value.split('^')[0]!.trim();
  const m = DTM.exec(text);
  if (!m) return undefined;
  const [, y, mo, d] = m;
  if (!validDate(y!, mo, d)) return undefined;
  return [y, mo, d].filter(Boolean).join('-');
}
