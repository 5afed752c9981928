import test from 'node:test';
import assert from 'node:assert/strict';
import { bayesOptimalVLoss } from '../src/eval/optimal-loss';
import { histogram, ksStatistic, maxWeightError, modeStats, wasserstein1 } from '../src/eval/metrics';
import { GaussianMixture } from '../src/math/mixture';
import { normCdf, normPdf } from '../src/math/normal';
import { Rng } from '../src/math/rng';
import { DDPMScheduler, TUTORIAL_SCHEDULER } from '../src/diffusion/scheduler';

const mixture = GaussianMixture.default();
const standard = new GaussianMixture({ weights: [1], means: [0], stds: [1] });

test('histogram counts and density', () => {
  const h = histogram([0, 0.1, 0.5, 0.99, 1, 2, -1], { bins: 2, range: [0, 1] });
  assert.deepEqual(h.edges, [0, 0.5, 1]);
  assert.deepEqual(h.counts, [2, 3]);
  assert.deepEqual(h.density, [2 / 7 / 0.5, 3 / 7 / 0.5]);
  assert.deepEqual(histogram([3, 3], { bins: 1 }).counts, [2]);
  assert.throws(() => histogram([], { bins: 3 }), /no values/);
});

test('W1 of one point against N(0, 1) is E|X − c| = 2φ(c) + c(2Φ(c) − 1)', () => {
  for (const c of [-2, 0, 0.7, 3]) {
    const want = 2 * normPdf(c) + c * (2 * normCdf(c) - 1);
    assert.ok(Math.abs(wasserstein1([c], standard) - want) < 1e-12);
  }
});

test('W1 and KS against brute-force integration of |F_n − F|', () => {
  const xs = Array.from(mixture.sample(300, new Rng(1).fork('d')));
  const sorted = [...xs].sort((a, b) => a - b);
  const Fn = (x: number) => {
    let k = 0;
    while (k < sorted.length && sorted[k] <= x) k++;
    return k / sorted.length;
  };
  let brute = 0;
  const h = 0.0005;
  for (let x = -20; x < 25; x += h) brute += Math.abs(Fn(x + h / 2) - mixture.cdf(x + h / 2)) * h;
  assert.ok(Math.abs(wasserstein1(xs, mixture) - brute) < 2e-4, `${wasserstein1(xs, mixture)} vs ${brute}`);
  let ks = 0;
  for (const x of sorted) ks = Math.max(ks, Math.abs(Fn(x) - mixture.cdf(x)), Math.abs(Fn(x - 1e-12) - mixture.cdf(x)));
  assert.ok(Math.abs(ksStatistic(xs, mixture) - ks) < 1e-9);
  assert.throws(() => wasserstein1([1, NaN], mixture), /NaN/);
});

test('exact samples meet the sampling-noise bar; shifted samples do not', () => {
  const xs = mixture.sample(10000, new Rng(3).fork('d'));
  const stats = modeStats(xs, mixture);
  assert.ok(maxWeightError(stats, mixture) <= 0.02);
  assert.ok(wasserstein1(xs, mixture) <= 0.15);
  stats.forEach((s, k) => assert.ok(Math.abs(s.mean - mixture.means[k]) < 0.1));
  const shifted = xs.map((x) => x + 0.5);
  assert.ok(Math.abs(wasserstein1(shifted, mixture) - 0.5) < 0.1);
  // moving a fifth of the right mode to the left mode breaks the weights
  const moved = xs.map((x, i) => (x > 2 && i % 5 === 0 ? x - 11 : x));
  assert.ok(maxWeightError(modeStats(moved, mixture), mixture) > 0.1);
});

test('Bayes-optimal v-loss: closed form for one Gaussian, 12.19 for the tutorial setup', () => {
  const scheduler = new DDPMScheduler(TUTORIAL_SCHEDULER);
  // one component N(μ, σ²): Var[x0 | x_t] = σ²(1−ᾱ)/(ᾱσ² + 1 − ᾱ), so the loss per t is σ²/(ᾱσ² + 1 − ᾱ)
  const single = new GaussianMixture({ weights: [1], means: [2], stds: [3] });
  const { perTimestep } = bayesOptimalVLoss(single, scheduler, { points: 801 });
  for (const t of [0, 100, 500, 999]) {
    const ab = scheduler.alphasCumprod[t];
    assert.ok(Math.abs(perTimestep[t] - 9 / (ab * 9 + 1 - ab)) < 1e-6, `t=${t}`);
  }
  // an independent float64 quadrature of E Var(v | x_t) gives 12.190
  const tutorial = bayesOptimalVLoss(mixture, scheduler);
  assert.ok(Math.abs(tutorial.loss - 12.19) < 0.005, `${tutorial.loss}`);
  assert.ok(Math.abs(tutorial.perTimestep[0] - 1.0) < 0.01 && Math.abs(tutorial.perTimestep[500] - 7.63) < 0.01);
});
