import test from 'node:test';
import assert from 'node:assert/strict';
import { modeStats } from '../src/eval/metrics';
import { expectedModeStats, modeStandardErrors } from '../src/eval/mode-expectations';
import { GaussianMixture } from '../src/math/mixture';
import { normPartialMoments } from '../src/math/normal';
import { Rng } from '../src/math/rng';
import { simpson } from '../src/math/quadrature';

test('normPartialMoments matches quadrature of z^p φ(z), finite and infinite ends', () => {
  const phi = (z: number) => Math.exp(-0.5 * z * z) / Math.sqrt(2 * Math.PI);
  for (const [a, b] of [
    [-0.7, 1.3],
    [-Infinity, 0.4],
    [-2, Infinity],
    [-Infinity, Infinity],
  ]) {
    const m = normPartialMoments(a, b, 4);
    const [lo, hi] = [Math.max(a, -40), Math.min(b, 40)];
    for (let p = 0; p <= 4; p++) {
      const q = simpson((z) => z ** p * phi(z), lo, hi, 40001);
      assert.ok(Math.abs(m[p] - q) < 1e-9, `p=${p} on [${a}, ${b}]: ${m[p]} vs ${q}`);
    }
  }
});

test('expected per-mode statistics: the tutorial mixture under the most-likely-mode rule', () => {
  const e = expectedModeStats(GaussianMixture.default());
  const round = (v: number, d: number) => Number(v.toFixed(d));
  assert.deepEqual(
    e.map((m) => round(m.weight, 4)),
    [0.3, 0.1033, 0.5967],
  );
  assert.deepEqual(
    e.map((m) => round(m.mean, 3)),
    [-5, 0.006, 6.032],
  );
  assert.deepEqual(
    e.map((m) => round(m.std, 3)),
    [0.999, 0.496, 1.958],
  );
  // a single well-separated component is untouched by the rule
  const far = expectedModeStats(new GaussianMixture({ weights: [0.5, 0.5], means: [-50, 50], stds: [1, 2] }));
  assert.ok(
    Math.abs(far[1].mean - 50) < 1e-9 &&
      Math.abs(far[1].std - 2) < 1e-9 &&
      Math.abs(far[1].centralMoment4 - 3 * 16) < 1e-6,
  );
});

test('expectations and standard errors agree with 400 sets of exact samples', () => {
  const mixture = GaussianMixture.default();
  const e = expectedModeStats(mixture);
  const n = 2000;
  const se = modeStandardErrors(e, n);
  const sets = 400;
  const rng = new Rng(11).fork('mode expectations');
  const stats = Array.from({ length: sets }, () => modeStats(mixture.sample(n, rng), mixture));
  for (let k = 0; k < e.length; k++) {
    for (const field of ['weight', 'mean', 'std'] as const) {
      const values = stats.map((s) => s[k][field]);
      const avg = values.reduce((a, b) => a + b, 0) / sets;
      const sd = Math.sqrt(values.reduce((a, v) => a + (v - avg) ** 2, 0) / (sets - 1));
      // the average of 400 sets lies within 4 of its own standard errors of the expectation
      assert.ok(
        Math.abs(avg - e[k][field]) < 4 * (sd / Math.sqrt(sets)),
        `mode ${k} ${field}: ${avg} vs ${e[k][field]}`,
      );
      // the spread between sets is the predicted standard error (within the ~7 % noise of 400 sets)
      assert.ok(Math.abs(sd / se[k][field] - 1) < 0.2, `mode ${k} ${field}: spread ${sd} vs predicted ${se[k][field]}`);
    }
  }
});
