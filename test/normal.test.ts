import test from 'node:test';
import assert from 'node:assert/strict';
import { erfc, normCdf, normCdfIntegral, normSurvivalIntegral, normPdf } from '../src/math/normal';
import { simpson } from '../src/math/quadrature';

test('erfc matches tabulated values to 1e-13 relative', () => {
  // Reference values from Abramowitz & Stegun / high-precision tables.
  const table: [number, number][] = [
    [0, 1],
    [0.5, 0.4795001221869535],
    [1, 0.15729920705028513],
    [2, 0.004677734981047266],
    [2.9, 4.1097878099458e-5],
    [3, 2.209049699858544e-5],
    [5, 1.5374597944280349e-12],
    [-1, 1.8427007929497148],
  ];
  for (const [x, v] of table) assert.ok(Math.abs(erfc(x) - v) <= 1e-13 * v, `erfc(${x}) = ${erfc(x)} vs ${v}`);
});

test('CDF integrals agree with quadrature of the CDF', () => {
  for (const z of [-3, -0.7, 0, 1.3, 4]) {
    const lower = simpson(normCdf, -12, z, 20001);
    assert.ok(Math.abs(normCdfIntegral(z) - lower) < 1e-9, `∫Φ up to ${z}`);
    const upper = simpson((u) => 1 - normCdf(u), z, 12, 20001);
    assert.ok(Math.abs(normSurvivalIntegral(z) - upper) < 1e-9, `∫(1−Φ) from ${z}`);
  }
  assert.ok(Math.abs(simpson(normPdf, -10, 10, 20001) - 1) < 1e-12);
});
