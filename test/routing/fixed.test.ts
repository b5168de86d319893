/** The route reason's two-decimal figures: exactly what toFixed(2) writes, faster (issue 14). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fixed } from '../../src/routing/decide.ts';

describe('fixed (two decimals in a route reason)', () => {
  it('writes what toFixed(2) writes, half-way values included', () => {
    for (const value of [
      0,
      0.015,
      0.045,
      0.105,
      1.005,
      2.675,
      0.125,
      1,
      0.999,
      12.345,
      1e6,
      1e12,
      -0.5,
      Number.NaN,
    ])
      assert.equal(fixed(value), value.toFixed(2), String(value));
    // Every thousandth to 2,000 (half of them half-way cases for two decimals) and random values.
    for (let k = 0; k < 2_000_000; k++) {
      const value = k / 1000;
      if (fixed(value) !== value.toFixed(2)) assert.fail(`${value}: ${fixed(value)} vs ${value.toFixed(2)}`);
    }
    let seed = 11;
    for (let n = 0; n < 200_000; n++) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      const value = (seed / 0x7fffffff) * 1000;
      if (fixed(value) !== value.toFixed(2)) assert.fail(`${value}: ${fixed(value)} vs ${value.toFixed(2)}`);
    }
  });
});
