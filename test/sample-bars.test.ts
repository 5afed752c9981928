import test from 'node:test';
import assert from 'node:assert/strict';
import { compareWithMixture } from '../src/eval/metrics';
import { judgeSamples, ksBar } from '../src/eval/sample-bars';
import { GaussianMixture } from '../src/math/mixture';
import { Rng } from '../src/math/rng';

const mixture = GaussianMixture.default();
const failures = (samples: Float32Array) => judgeSamples(compareWithMixture(samples, mixture), mixture).filter((j) => !j.pass).map((j) => j.name);
/** The tutorial mixture with one component changed. */
const altered = (k: number, change: Partial<{ weight: number; std: number; mean: number }>) => {
  const weights = [...mixture.weights];
  if (change.weight !== undefined) {
    const rest = 1 - change.weight;
    const others = weights.reduce((a, w, i) => (i === k ? a : a + w), 0);
    weights.forEach((w, i) => (weights[i] = i === k ? change.weight! : (w * rest) / others));
  }
  return new GaussianMixture({
    weights,
    means: mixture.means.map((m, i) => (i === k && change.mean !== undefined ? change.mean : m)),
    stds: mixture.stds.map((s, i) => (i === k && change.std !== undefined ? change.std : s)),
  });
};

test('exact samples pass every bar: 30 seeds at n = 10,000 and at n = 1,000', () => {
  for (const n of [10_000, 1_000]) {
    for (let seed = 0; seed < 30; seed++) assert.deepEqual(failures(mixture.sample(n, new Rng(seed).fork('bars'))), [], `n=${n} seed ${seed}`);
  }
});

test('at n = 10,000 the bars see what a reader sees: a wider, shifted or under-weighted mode', () => {
  const draw = (m: GaussianMixture) => m.sample(10_000, new Rng(3).fork('altered'));
  // the trained model of the full configuration had a middle mode 35 % too wide; 12 % is caught
  assert.ok(failures(draw(altered(1, { std: 0.56 }))).includes('mode 2 std'));
  assert.ok(failures(draw(altered(2, { mean: 6.12 }))).includes('mode 3 mean'));
  // the tutorial recipe's middle weight of 0.064
  assert.ok(failures(draw(altered(1, { weight: 0.064 }))).includes('mode 2 weight'));
});

test('ksBar: the Kolmogorov tail of 4 standard errors, shrinking like 1/√n', () => {
  assert.ok(Math.abs(ksBar(10_000) - 0.0227) < 2e-4);
  assert.ok(Math.abs(ksBar(40_000) / ksBar(10_000) - 0.5) < 0.01);
  assert.throws(() => ksBar(0), /positive integer/);
});
