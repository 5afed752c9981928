import test from 'node:test';
import assert from 'node:assert/strict';
import { compareWithMixture } from '../src/eval/metrics';
import { exactSamplingW1, samplingTolerances } from '../src/eval/tolerances';
import { GaussianMixture } from '../src/math/mixture';
import { Rng } from '../src/math/rng';

test('exact samples pass the sampling bars at 10,000 and at 2,000 samples, over 20 seeds', () => {
  const mixture = GaussianMixture.default();
  for (const n of [10_000, 2_000]) {
    const tol = samplingTolerances(n);
    let worst = { weight: 0, w1: 0, ks: 0 };
    for (let seed = 0; seed < 20; seed++) {
      const r = compareWithMixture(mixture.sample(n, new Rng(seed).fork('tolerances')), mixture);
      worst = { weight: Math.max(worst.weight, r.maxWeightError), w1: Math.max(worst.w1, r.w1), ks: Math.max(worst.ks, r.ks) };
    }
    assert.ok(worst.weight <= tol.weight && worst.w1 <= tol.w1 && worst.ks <= tol.ks, `n = ${n}: worst ${JSON.stringify(worst)} vs bars ${JSON.stringify(tol)}`);
    // and the bars are not loose: the worst of 20 seeds reaches at least 40 % of each bar
    assert.ok(worst.weight >= 0.4 * tol.weight && worst.w1 >= 0.4 * tol.w1 && worst.ks >= 0.4 * tol.ks, `n = ${n}: bars far above the noise ${JSON.stringify(worst)}`);
  }
});

test('bars scale like 1/√n and reject a count that is not a positive integer', () => {
  assert.deepEqual(samplingTolerances(10_000), { weight: 0.02, w1: 0.15, ks: 0.02 });
  assert.ok(Math.abs(samplingTolerances(2_500).w1 - 0.3) < 1e-12);
  assert.throws(() => samplingTolerances(2.5), /positive integer/);
  assert.throws(() => samplingTolerances(0), /positive integer/);
});

test('exactSamplingW1: the mean W1 of exact samples, against 40 seeds of them', () => {
  const mixture = GaussianMixture.default();
  for (const n of [10_000, 1_000]) {
    let mean = 0;
    for (let seed = 0; seed < 40; seed++) mean += compareWithMixture(mixture.sample(n, new Rng(seed).fork('floor')), mixture).w1 / 40;
    const predicted = exactSamplingW1(mixture, n);
    assert.ok(Math.abs(predicted / mean - 1) < 0.12, `n = ${n}: predicted ${predicted}, measured ${mean}`);
  }
});
