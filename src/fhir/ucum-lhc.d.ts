/** The part of @lhncbc/ucum-lhc (NLM, CommonJS, no bundled types) that src/fhir/ucum.ts uses. */
declare module '@lhncbc/ucum-lhc' {
  interface UcumValidation {
    status: 'valid' | 'invalid' | 'error';
    ucumCode: string | null;
    msg: string[];
  }
  interface UcumConversion {
    status: 'succeeded' | 'failed' | 'error';
    toVal: number | null;
    msg: string[];
  }
  interface UcumLhcUtils {
    validateUnitString(unit: string, suggest?: boolean): UcumValidation;
    convertUnitTo(fromUnit: string, fromValue: number, toUnit: string, options?: { molecularWeight?: number }): UcumConversion;
  }
  export const UcumLhcUtils: { getInstance(): UcumLhcUtils } | undefined;
  const ucum: { UcumLhcUtils: { getInstance(): UcumLhcUtils } } | undefined;
  export default ucum;
}
