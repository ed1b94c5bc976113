/**
 * JSON shape of the FHIR R4 elements Vigil's services read (FHIR R4 §2.6.2 JSON representation: each
 * element has one JSON type and repeating elements are arrays), checked on resources from outside — an
 * EHR's prefetch, a FHIR server's Bundle — before any service sees them. Deviation on purpose: an element
 * that is null (which the spec forbids) is read as absent rather than condemning the resource.
 *
 * Resources are typed as `fhir/r4` once parsed, but nothing made them so: `"coding": false` or a numeric
 * `Coding.system` reached the handlers and threw (500s found by test/fuzz/model-services.fuzz.test.ts).
 * This is not a FHIR validator (no cardinalities, value sets or invariants, and elements not listed are
 * not looked at); it only guarantees that the listed elements have the JSON type their datatype demands,
 * so code written against the `fhir/r4` types cannot meet another type at run time.
 */
import type { Bundle, FhirResource } from 'fhir/r4';

type Shape = 'string' | 'number' | 'boolean' | { readonly fields: Readonly<Record<string, Shape>> } | { readonly each: Shape };

const str: Shape = 'string';
const num: Shape = 'number';
const bool: Shape = 'boolean';
const obj = (fields: Record<string, Shape>): Shape => ({ fields });
const arr = (each: Shape): Shape => ({ each });

// Datatypes (FHIR R4 §2.24).
const Coding = obj({ system: str, version: str, code: str, display: str, userSelected: bool });
const CodeableConcept = obj({ coding: arr(Coding), text: str });
const Quantity = obj({ value: num, comparator: str, unit: str, system: str, code: str });
const Reference = obj({ reference: str, type: str, display: str });
const Period = obj({ start: str, end: str });
const Range = obj({ low: Quantity, high: Quantity });
const SampledData = obj({ origin: Quantity, period: num, factor: num, lowerLimit: num, upperLimit: num, dimensions: num, data: str });
const Identifier = obj({ system: str, value: str });
const HumanName = obj({ use: str, text: str, family: str, given: arr(str) });

/** value[x] choices the services read (Observation and its components). */
const VALUE: Record<string, Shape> = {
  valueQuantity: Quantity,
  valueCodeableConcept: CodeableConcept,
  valueString: str,
  valueBoolean: bool,
  valueInteger: num,
  valueDateTime: str,
  valuePeriod: Period,
  valueRange: Range,
  valueSampledData: SampledData,
};

const BASE: Record<string, Shape> = { resourceType: str, id: str, meta: obj({ versionId: str, lastUpdated: str }) };

const RESOURCES: Readonly<Record<string, Shape>> = {
  Observation: obj({
    ...BASE,
    status: str,
    category: arr(CodeableConcept),
    code: CodeableConcept,
    subject: Reference,
    encounter: Reference,
    effectiveDateTime: str,
    effectivePeriod: Period,
    effectiveInstant: str,
    issued: str,
    ...VALUE,
    dataAbsentReason: CodeableConcept,
    interpretation: arr(CodeableConcept),
    method: CodeableConcept,
    device: Reference,
    referenceRange: arr(obj({ low: Quantity, high: Quantity, text: str })),
    hasMember: arr(Reference),
    derivedFrom: arr(Reference),
    component: arr(obj({ code: CodeableConcept, ...VALUE, dataAbsentReason: CodeableConcept, interpretation: arr(CodeableConcept) })),
  }),
  Patient: obj({ ...BASE, active: bool, gender: str, birthDate: str, deceasedBoolean: bool, deceasedDateTime: str, identifier: arr(Identifier), name: arr(HumanName) }),
  Encounter: obj({
    ...BASE,
    status: str,
    class: Coding,
    type: arr(CodeableConcept),
    serviceType: CodeableConcept,
    subject: Reference,
    period: Period,
    hospitalization: obj({ admitSource: CodeableConcept, dischargeDisposition: CodeableConcept }),
    location: arr(obj({ location: Reference, status: str, period: Period })),
  }),
  Condition: obj({
    ...BASE,
    clinicalStatus: CodeableConcept,
    verificationStatus: CodeableConcept,
    category: arr(CodeableConcept),
    code: CodeableConcept,
    subject: Reference,
    encounter: Reference,
    onsetDateTime: str,
    onsetPeriod: Period,
    abatementDateTime: str,
    recordedDate: str,
  }),
  ServiceRequest: obj({ ...BASE, status: str, intent: str, category: arr(CodeableConcept), code: CodeableConcept, subject: Reference, encounter: Reference, authoredOn: str, occurrenceDateTime: str }),
  MedicationRequest: obj({
    ...BASE,
    status: str,
    intent: str,
    category: arr(CodeableConcept),
    medicationCodeableConcept: CodeableConcept,
    medicationReference: Reference,
    subject: Reference,
    encounter: Reference,
    authoredOn: str,
  }),
};

type Check = (value: unknown) => boolean;

/** Compiles a shape once into a checker: this runs on every resource of every hook call. */
function compile(shape: Shape): Check {
  if (shape === 'number') return (v) => typeof v === 'number' && Number.isFinite(v);
  if (typeof shape === 'string') return (v) => typeof v === shape;
  if ('each' in shape) {
    const item = compile(shape.each);
    return (v) => {
      if (!Array.isArray(v)) return false;
      for (const x of v) if (!item(x)) return false;
      return true;
    };
  }
  const fields = Object.entries(shape.fields).map(([name, inner]) => [name, compile(inner)] as const);
  return (v) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
    const record = v as Record<string, unknown>;
    for (const [name, check] of fields) {
      const inner = record[name];
      // Absent is fine (cardinality is not checked), and so is null: FHIR JSON forbids it, but servers do send
      // "display": null, and dropping a reading over it would change a score. The services read optional
      // elements with ?. and ??, which treat null as absent (test/fuzz/model-services.fuzz.test.ts puts nulls
      // anywhere).
      if (inner !== undefined && inner !== null && !check(inner)) return false;
    }
    return true;
  };
}

const CHECKS: ReadonlyMap<string, Check> = new Map(Object.entries(RESOURCES).map(([type, shape]) => [type, compile(shape)]));
const checkBase = compile(obj(BASE));
const checkLink = compile(obj({ relation: str, url: str }));

/** Whether `value` is an object with a string resourceType whose listed elements have their FHIR JSON types. */
export function isWellFormedResource(value: unknown): value is FhirResource {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const type = (value as { resourceType?: unknown }).resourceType;
  if (typeof type !== 'string') return false;
  // A Map, not an object lookup: a resourceType of "constructor" or "__proto__" must not find Object.prototype's.
  return (CHECKS.get(type) ?? checkBase)(value);
}

/**
 * One prefetch value with everything malformed taken out: a Bundle keeps only well-formed entry resources
 * (and only its `link`s that are `{ relation, url }` strings); a malformed single resource becomes null,
 * which services already meet when an EHR sends a key as null (CDS Hooks 2.0.1 §Prefetch Template).
 * `dropped` counts the resources removed.
 */
export function wellFormedPrefetchValue(value: FhirResource | null | undefined): { value: FhirResource | null; dropped: number } {
  if (value === null || value === undefined) return { value: null, dropped: 0 };
  if (!isWellFormedResource(value)) return { value: null, dropped: 1 };
  if (value.resourceType !== 'Bundle') return { value, dropped: 0 };
  const bundle: Bundle = value;
  const raw: unknown[] = Array.isArray(bundle.entry) ? bundle.entry : [];
  const entry = raw.filter((e): e is NonNullable<Bundle['entry']>[number] => typeof e === 'object' && e !== null && isWellFormedResource((e as { resource?: unknown }).resource));
  const links: unknown[] = Array.isArray(bundle.link) ? bundle.link : [];
  const link = links.filter((l): l is NonNullable<Bundle['link']>[number] => checkLink(l) && typeof (l as { url?: unknown }).url === 'string');
  const dropped = raw.length - entry.length;
  const intact = (bundle.entry === undefined || raw.length === entry.length) && (bundle.link === undefined || links.length === link.length);
  if (intact && (bundle.entry === undefined || Array.isArray(bundle.entry)) && (bundle.link === undefined || Array.isArray(bundle.link))) return { value, dropped: 0 };
  return { value: { ...bundle, entry, link }, dropped };
}

/** Every prefetch value through {@link wellFormedPrefetchValue}; `dropped` totals the resources removed. */
export function wellFormedPrefetch(prefetch: Readonly<Record<string, FhirResource | null>>): { prefetch: Record<string, FhirResource | null>; dropped: number } {
  const out: Record<string, FhirResource | null> = {};
  let dropped = 0;
  for (const [key, value] of Object.entries(prefetch)) {
    const checked = wellFormedPrefetchValue(value);
    out[key] = checked.value;
    dropped += checked.dropped;
  }
  return { prefetch: out, dropped };
}
