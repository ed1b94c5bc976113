/**
 * JSON mutation for the hook fuzz suites: replace or delete values at random paths of a valid request
 * with wrong types, edge-case and huge strings, nested junk and malformed FHIR shapes.
 */
import fc from 'fast-check';

type Path = Array<string | number>;

/** Every path into a JSON value (objects and arrays), root excluded. */
export function pathsOf(value: unknown, prefix: Path = []): Path[] {
  if (value === null || typeof value !== 'object') return [];
  const entries: Array<[string | number, unknown]> = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value);
  return entries.flatMap(([k, v]) => [[...prefix, k], ...pathsOf(v, [...prefix, k])]);
}

export const DELETE = Symbol('delete');

function setAt(root: unknown, path: Path, replacement: unknown | typeof DELETE): void {
  let node = root as Record<string | number, unknown>;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
  const last = path[path.length - 1]!;
  if (replacement === DELETE) {
    if (Array.isArray(node)) node.splice(Number(last), 1);
    else delete node[last];
  } else node[last] = replacement;
}

/** A replacement value: wrong types, edge-case strings, huge strings, nested junk — or deletion. */
export const replacement: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(DELETE),
  fc.constant(null),
  fc.boolean(),
  fc.double(),
  fc.integer(),
  fc.constantFrom('', ' ', '\u0000', '\ud800', '../../etc/passwd', 'Patient/', '{{context.patientId}}', 'NaN', '-1', '1e309', '__proto__', 'constructor'),
  fc.string({ unit: 'binary', maxLength: 64 }),
  fc.integer({ min: 10_000, max: 200_000 }).map((n) => 'x'.repeat(n)),
  fc.jsonValue({ maxDepth: 4 }),
  fc.constant({ resourceType: 'Patient' }),
  fc.constant({ resourceType: 'Bundle', entry: 'not-an-array' }),
  fc.constant({ resourceType: 'Observation', valueQuantity: { value: 'high' }, effectiveDateTime: 'yesterday' }),
  fc.constant([{ resource: null }, { resource: { resourceType: 42 } }]),
);

/**
 * Applies `mutations` ([pick, value]: the path is `pick` modulo the paths left) to `body` in place,
 * never at a path whose first key is in `keep`.
 */
export function mutate(body: Record<string, unknown>, mutations: ReadonlyArray<readonly [number, unknown]>, keep: readonly string[] = []): void {
  for (const [pick, value] of mutations) {
    const paths = pathsOf(body).filter((p) => !keep.includes(String(p[0])));
    if (!paths.length) break;
    const path = paths[pick % paths.length]!;
    // A copy: fast-check constants are shared objects, and placing one inside itself would make a cycle.
    setAt(body, path, value === DELETE ? DELETE : structuredClone(value));
  }
}
