/**
 * FHIR date/dateTime/instant values as implicit time ranges, and the date search prefixes.
 *
 * FHIR R4 §3.1.1.4.2 (search, "date"): every date value, stored or searched, stands for the whole
 * range its precision implies ("2024" is all of 2024, "2024-03-01T10:00:00Z" a whole second), and
 * each prefix is defined as a relation between the search range and the target range.
 * https://hl7.org/fhir/R4/search.html#date
 *
 * Ranges are inclusive epoch milliseconds. Deliberate deviation: values without a time zone (dates,
 * and search dateTimes sent without one) are read as UTC, where the spec lets a server assume its
 * own zone; the sandbox runs in UTC, and this keeps results independent of the host's TZ.
 */

/** An inclusive range of epoch milliseconds. Open ends (a Period without start/end) are ±Infinity. */
export interface DateRange {
  readonly start: number;
  readonly end: number;
}

export const DATE_PREFIXES = ['eq', 'ne', 'lt', 'gt', 'le', 'ge', 'sa', 'eb', 'ap'] as const;
export type DatePrefix = (typeof DATE_PREFIXES)[number];

// yyyy[-mm[-dd[Thh:mm[:ss[.fff…]][Z|±hh:mm]]]] — the forms FHIR date, dateTime, instant and search values use.
const DATE_RE =
  /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/;

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/**
 * Parses a FHIR date, dateTime or instant (any precision) into the range it implies; undefined when
 * the text is not a valid value. Hours 24 and leap seconds are rejected.
 */
export function parseFhirDate(text: string): DateRange | undefined {
  const m = DATE_RE.exec(text);
  if (!m) return undefined;
  const year = Number(m[1]);
  if (m[2] === undefined) return { start: Date.UTC(year, 0, 1), end: Date.UTC(year + 1, 0, 1) - 1 };
  const month = Number(m[2]);
  if (month < 1 || month > 12) return undefined;
  if (m[3] === undefined) return { start: Date.UTC(year, month - 1, 1), end: Date.UTC(year, month, 1) - 1 };
  const day = Number(m[3]);
  if (day < 1 || day > daysInMonth(year, month)) return undefined;
  if (m[4] === undefined) {
    const start = Date.UTC(year, month - 1, day);
    return { start, end: start + 86_400_000 - 1 };
  }
  const hour = Number(m[4]);
  const minute = Number(m[5]);
  const second = m[6] === undefined ? 0 : Number(m[6]);
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  const fraction = m[7];
  const ms = fraction === undefined ? 0 : Number(fraction.padEnd(3, '0').slice(0, 3));
  let offsetMinutes = 0;
  const zone = m[8];
  if (zone !== undefined && zone !== 'Z') {
    const zh = Number(zone.slice(1, 3));
    const zm = Number(zone.slice(4, 6));
    if (zh > 14 || zm > 59) return undefined;
    offsetMinutes = (zone[0] === '-' ? -1 : 1) * (zh * 60 + zm);
  }
  const start = Date.UTC(year, month - 1, day, hour, minute, second, ms) - offsetMinutes * 60_000;
  let width: number;
  if (m[6] === undefined) width = 60_000;
  else if (fraction === undefined) width = 1000;
  else width = fraction.length >= 3 ? 1 : 10 ** (3 - fraction.length);
  return { start, end: start + width - 1 };
}

/** The range of a Period: its start's range start to its end's range end; a missing side is open. */
export function periodRange(start: string | undefined, end: string | undefined): DateRange | undefined {
  if (start === undefined && end === undefined) return undefined;
  const s = start === undefined ? undefined : parseFhirDate(start);
  const e = end === undefined ? undefined : parseFhirDate(end);
  if ((start !== undefined && !s) || (end !== undefined && !e)) return undefined;
  return { start: s ? s.start : -Infinity, end: e ? e.end : Infinity };
}

/**
 * Does a target range satisfy `prefix` + search range? Definitions from FHIR R4 §3.1.1.4.2:
 * eq — the target lies wholly inside the search range; ne — it does not;
 * gt / lt — part of the target lies after / before the search range;
 * ge / le — gt / lt, or eq; sa / eb — the whole target starts after / ends before the search range;
 * ap — the ranges overlap once the search range is widened by 10 % of its distance from `now`
 * (the spec leaves the exact tolerance to the server and recommends 10 %).
 */
export function matchesDate(prefix: DatePrefix, search: DateRange, target: DateRange, now: number): boolean {
  switch (prefix) {
    case 'eq':
      return target.start >= search.start && target.end <= search.end;
    case 'ne':
      return !(target.start >= search.start && target.end <= search.end);
    case 'gt':
      return target.end > search.end;
    case 'lt':
      return target.start < search.start;
    case 'ge':
      return target.end > search.end || (target.start >= search.start && target.end <= search.end);
    case 'le':
      return target.start < search.start || (target.start >= search.start && target.end <= search.end);
    case 'sa':
      return target.start > search.end;
    case 'eb':
      return target.end < search.start;
    case 'ap': {
      const widened = approximateRange(search, now);
      return target.start <= widened.end && target.end >= widened.start;
    }
  }
}

/** The search range widened for `ap`: 10 % of the distance between now and the range, on both sides. */
export function approximateRange(search: DateRange, now: number): DateRange {
  const distance = Math.max(Math.abs(now - search.start), Math.abs(now - search.end));
  const slack = distance * 0.1;
  return { start: search.start - slack, end: search.end + slack };
}

/**
 * Splits a search date value into prefix and range ("ge2024-01" → ge, all of Jan 2024); undefined
 * when malformed. A space where the zone sign should be is read as "+", since an unencoded "+" in a
 * query string arrives as a space.
 */
export function parseDateSearchValue(text: string): { prefix: DatePrefix; range: DateRange } | undefined {
  let prefix: DatePrefix = 'eq';
  let rest = text;
  if (/^[a-z]{2}/.test(text)) {
    const p = text.slice(0, 2);
    if (!(DATE_PREFIXES as readonly string[]).includes(p)) return undefined;
    prefix = p as DatePrefix;
    rest = text.slice(2);
  }
  const range = parseFhirDate(rest.replace(/ (\d{2}:\d{2})$/, '+$1'));
  return range ? { prefix, range } : undefined;
}
