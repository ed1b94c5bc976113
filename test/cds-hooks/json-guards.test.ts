import { describe, expect, it } from '@jest/globals';
import { isNonEmptyString, isRecord } from '../../src/cds-hooks/json-guards.js';

describe('JSON guards', () => {
  it.each([
    [{}, true],
    [{ a: 1 }, true],
    [[], false],
    [null, false],
    ['{}', false],
    [1, false],
    [undefined, false],
  ])('isRecord(%p) is %p', (value, expected) => {
    expect(isRecord(value)).toBe(expected);
  });

  it.each([
    ['x', true],
    [' x ', true],
    ['', false],
    [' \t\n', false],
    [1, false],
    [null, false],
  ])('isNonEmptyString(%p) is %p', (value, expected) => {
    expect(isNonEmptyString(value)).toBe(expected);
  });
});
