import test from 'node:test';
import assert from 'node:assert/strict';
import { compareWithMixture } from '../src/eval/metrics';
import { exactSamplingW1 } from '../src/eval/tolerances';
import { GaussianMixture } from '../src/math/mixture';
import { Rng } from '../src/math/rng';

test('exactSamplingW1: the mean W1 of exact samples, against 40 seeds of them', () => {
  const mixture = GaussianMixture.default();
  for (const n of [10_000, 1_000]) {
    let mean = 0;
    for (let seed = 0; seed < 40; seed++)
      mean += compareWithMixture(mixture.sample(n, new Rng(seed).fork('floor')), mixture).w1 / 40;
    const predicted = exactSamplingW1(mixture, n);
    assert.ok(Math.abs(predicted / mean - 1) < 0.12, `n = ${n}: predicted ${predicted}, measured ${mean}`);
  }
});
