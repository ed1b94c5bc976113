/**
 * UCUM (https://ucum.org/ucum) unit codes for FHIR Quantity.code (system http://unitsofmeasure.org),
 * validated and converted with NLM's @lhncbc/ucum-lhc, which works offline from its bundled tables.
 *
 * Feeds write units the way their lab systems print them ("mg/dl", "mmHg", "tera.l-1", "mg/g crea");
 * UCUM codes are case-sensitive and stricter. `UNIT_ALIASES` is the reviewed table of such spellings we
 * have met (the shipped HL7 samples, NEWS2 vitals, common lab units); anything else is accepted only if
 * ucum-lhc says it is already valid UCUM.
 */
import { createRequire } from 'node:module';
import type * as UcumModule from '@lhncbc/ucum-lhc';

export const UCUM_SYSTEM = 'http://unitsofmeasure.org';

/**
 * Runs a call into ucum-lhc with console output dropped. The library prints with console.log when it
 * rejects a unit string (e.g. "Unit requested for unit string mg/g crea. …"), which would put unstructured,
 * unredacted lines among our JSON logs; its return value already carries the same message. The calls
 * are synchronous, so nothing else can log while console.log is swapped.
 */
function quietly<T>(fn: () => T): T {
  const { log, info, warn, error, debug } = console;
  const drop = (): void => undefined;
  Object.assign(console, { log: drop, info: drop, warn: drop, error: drop, debug: drop });
  try {
    return fn();
  } finally {
    Object.assign(console, { log, info, warn, error, debug });
  }
}

// Loaded with require (inside quietly) rather than a static import so its module code, unit tables
// included, runs with console silenced too. A CommonJS package flagged __esModule: named exports or
// `default`, depending on the loader.
const ucumModule = quietly(() => createRequire(import.meta.url)('@lhncbc/ucum-lhc') as typeof UcumModule);
const UcumLhcUtils = ucumModule.UcumLhcUtils ?? ucumModule.default?.UcumLhcUtils;
if (!UcumLhcUtils) throw new Error('@lhncbc/ucum-lhc did not load');
const utils = quietly(() => UcumLhcUtils.getInstance());

/** Lower-cased printed unit → UCUM code. */
export const UNIT_ALIASES: Readonly<Record<string, string>> = {
  'mg/dl': 'mg/dL',
  'g/dl': 'g/dL',
  'g/l': 'g/L',
  'mg/l': 'mg/L',
  'ug/l': 'ug/L',
  'ng/ml': 'ng/mL',
  'pg/ml': 'pg/mL',
  'mmol/l': 'mmol/L',
  'umol/l': 'umol/L',
  'meq/l': 'meq/L',
  'mmhg': 'mm[Hg]',
  'mm hg': 'mm[Hg]',
  'kpa': 'kPa',
  bpm: '/min',
  'beats/min': '/min',
  'beats/minute': '/min',
  'breaths/min': '/min',
  'breaths/minute': '/min',
  '/min': '/min',
  'per min': '/min',
  degc: 'Cel',
  'deg c': 'Cel',
  '°c': 'Cel',
  c: 'Cel',
  cel: 'Cel',
  degf: '[degF]',
  'deg f': '[degF]',
  '°f': '[degF]',
  f: '[degF]',
  'l/min': 'L/min',
  'tera.l-1': '10*12/L',
  'giga.l-1': '10*9/L',
  'x10e12/l': '10*12/L',
  'x10e9/l': '10*9/L',
  'x10e3/ul': '10*3/uL',
  'x10e6/ul': '10*6/uL',
  'k/ul': '10*3/uL',
  'm/ul': '10*6/uL',
  'mg/g crea': 'mg/g{creat}',
  'mg/g creat': 'mg/g{creat}',
  'u/l': 'U/L',
  'iu/l': '[IU]/L',
  fl: 'fL',
  pg: 'pg',
  sec: 's',
  '%': '%',
};

const cache = new Map<string, string | undefined>();

/**
 * The UCUM code for a printed unit, or undefined when it is neither a known alias nor valid UCUM.
 * Results are cached (units repeat endlessly in a feed).
 */
export function toUcumCode(unit: string | undefined): string | undefined {
  if (unit === undefined) return undefined;
  const trimmed = unit.trim();
  if (trimmed === '') return undefined;
  if (cache.has(trimmed)) return cache.get(trimmed);
  let code: string | undefined = UNIT_ALIASES[trimmed.toLowerCase()];
  if (code === undefined) {
    const check = quietly(() => utils.validateUnitString(trimmed, false));
    code = check.status === 'valid' && check.ucumCode ? check.ucumCode : undefined;
  }
  if (cache.size < 10_000) cache.set(trimmed, code);
  return code;
}

/**
 * Converts a value between two UCUM codes; undefined when the units are not commensurable (or not
 * UCUM). `molecularWeight` (g/mol) allows mass ↔ substance conversions (e.g. glucose mg/dL ↔ mmol/L).
 */
export function convertUcum(value: number, from: string, to: string, options: { molecularWeight?: number } = {}): number | undefined {
  if (from === to) return value;
  const result = quietly(() => utils.convertUnitTo(from, value, to, options.molecularWeight ? { molecularWeight: options.molecularWeight } : {}));
  if (result.status !== 'succeeded' || result.toVal === null || !Number.isFinite(result.toVal)) return undefined;
  return result.toVal;
}
