import test from 'node:test';
import assert from 'node:assert/strict';
import { GaussianMixture } from '../src/math/mixture';
import { Rng } from '../src/math/rng';
import { DDPMScheduler, TUTORIAL_SCHEDULER } from '../src/diffusion/scheduler';
import { VPSDE } from '../src/diffusion/sde';

const scheduler = new DDPMScheduler(TUTORIAL_SCHEDULER);
const sde = new VPSDE(scheduler);

test('VPSDE passes through the DDPM marginals: ᾱ(s_t) = ᾱ_t, ᾱ(0) = 1', () => {
  assert.equal(sde.alphaBar(0), 1);
  for (const t of [0, 1, 10, 250, 500, 998, 999]) {
    assert.ok(Math.abs(sde.alphaBar(sde.timeOf(t)) / scheduler.alphasCumprod[t] - 1) < 1e-12, `t=${t}`);
  }
  // between grid points ᾱ is log-linear, so it lies between its neighbours
  const mid = sde.alphaBar((sde.timeOf(100) + sde.timeOf(101)) / 2);
  assert.ok(Math.abs(mid - Math.sqrt(scheduler.alphasCumprod[100] * scheduler.alphasCumprod[101])) < 1e-12);
  assert.throws(() => sde.alphaBar(1.5), /time must be in \[0, 1\]/);
});

test("VPSDE β(s) approaches Song et al.'s linear 0.1 + 19.9 s", () => {
  for (const s of [0.05, 0.3, 0.6, 0.95, 1]) {
    const song = 0.1 + 19.9 * s;
    // −N log(1 − β_t) = Nβ_t(1 + β_t/2 + …): at most 1 % above the linear limit for β_t ≤ 0.02
    assert.ok(sde.beta(s) >= song - 0.03 && sde.beta(s) <= song * 1.011, `s=${s}: ${sde.beta(s)} vs ${song}`);
  }
});

test('VPSDE forward paths from a point have the exact noised mean and variance', () => {
  const n = 20000;
  const x0 = new Float32Array(n).fill(3);
  const paths = sde.forwardPaths(x0, new Rng(4).fork('forward'));
  assert.equal(paths.length, scheduler.numTrainTimesteps + 1);
  for (const t of [49, 299, 999]) {
    const xs = paths[t + 1];
    const ab = scheduler.alphasCumprod[t];
    const mean = xs.reduce((a, b) => a + b, 0) / n;
    const variance = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1);
    assert.ok(Math.abs(mean - 3 * Math.sqrt(ab)) < 5 * Math.sqrt((1 - ab) / n), `t=${t} mean ${mean}`);
    assert.ok(Math.abs(variance / (1 - ab) - 1) < 5 * Math.sqrt(2 / n), `t=${t} variance ${variance}`);
  }
});

test('VPSDE marginal is the mixture noised at ᾱ(s)', () => {
  const mixture = GaussianMixture.default();
  const m = sde.marginal(mixture, sde.timeOf(400)).toJSON();
  const ref = mixture.noised(scheduler.alphasCumprod[400]).toJSON();
  for (const key of ['weights', 'means', 'stds'] as const) {
    m[key].forEach((v, k) => assert.ok(Math.abs(v - ref[key][k]) < 1e-12, `${key}[${k}]`));
  }
});
