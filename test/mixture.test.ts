import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { exactVelocity } from '../src/diffusion/predictor';
import { GaussianMixture } from '../src/math/mixture';
import { chapterMixture } from '../src/notebook/setup';
import { Rng } from '../src/math/rng';
import { simpson } from '../src/math/quadrature';

const mix = GaussianMixture.default();
const normal = (x: number, m: number, s: number) => Math.exp(-0.5 * ((x - m) / s) ** 2) / (s * Math.sqrt(2 * Math.PI));
// The tutorial's mixture written out independently of the class.
const W = [0.3, 0.1, 0.6];
const MU = [-5, 0, 6];
const SD = [1, 0.5, 2];
const pdf = (x: number) => W.reduce((s, w, k) => s + w * normal(x, MU[k], SD[k]), 0);

test('the default mixture is the tutorial one, read from data/mixture.json', () => {
  assert.deepEqual(mix.toJSON(), { weights: W, means: MU, stds: SD });
  assert.ok(Math.abs(mix.mean - (0.3 * -5 + 0.6 * 6)) < 1e-12);
});

test('invalid specs are rejected with an error naming the field', () => {
  const ok = { weights: [0.5, 0.5], means: [0, 1], stds: [1, 1] };
  assert.throws(() => new GaussianMixture({ ...ok, stds: [1, 0] }), /stds\[1\] must be > 0/);
  assert.throws(() => new GaussianMixture({ ...ok, weights: [0.5, 0.6] }), /weights must sum to 1/);
  assert.throws(() => new GaussianMixture({ ...ok, weights: [1.5, -0.5] }), /weights\[1\] must be > 0/);
  assert.throws(() => new GaussianMixture({ ...ok, means: [0, NaN] }), /means\[1\] must be a finite number/);
  assert.throws(() => new GaussianMixture({ ...ok, means: [0] }), /means has 1 entries but weights has 2/);
  assert.throws(() => new GaussianMixture({ ...ok, stds: [] }), /stds must be a non-empty array/);
});

test('a bad mixture file is rejected with a message naming the file and the entry', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsd-mixture-'));
  const file = path.join(dir, 'mixture.json');
  const load = (text: string) => {
    fs.writeFileSync(file, text);
    return () => GaussianMixture.fromFile(file);
  };
  const spec = (weights: unknown, stds: unknown) => JSON.stringify({ weights, means: [-5, 0, 6], stds });
  const at = file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  assert.throws(
    load(spec([0.3, 0.1, 0.7], [1, 0.5, 2])),
    new RegExp(`^Error: ${at}: GaussianMixture: weights must sum to 1 \\(within 1e-6\\), got 1.1$`),
  );
  assert.throws(
    load(spec([0.3, 0.1, 0.6], [1, -0.5, 2])),
    new RegExp(`^Error: ${at}: GaussianMixture: stds\\[1\\] must be > 0, got -0.5$`),
  );
  assert.throws(
    load(spec([0.3, 'NaN', 0.6], [1, 0.5, 2])),
    /weights\[1\] must be a finite number, got "NaN" \(a string, not a number\)/,
  );
  assert.throws(
    load(spec([0.3, 0.1, 0.6], [1, null, 2])),
    /stds\[1\] must be a finite number, got null \(JSON.stringify writes NaN and Infinity as null\)/,
  );
  assert.throws(load('{"weights": [0.3, NaN]}'), new RegExp(`^Error: ${at}: Unexpected token`));
  fs.rmSync(dir, { recursive: true, force: true });
});

test('pdf, logPdf, cdf and score agree with independent formulas', () => {
  for (const x of [-9, -5, -2.5, 0, 0.3, 3, 6, 14]) {
    assert.ok(Math.abs(mix.pdf(x) - pdf(x)) < 1e-15 + 1e-12 * pdf(x));
    assert.ok(Math.abs(mix.logPdf(x) - Math.log(pdf(x))) < 1e-10);
    const h = 1e-5;
    const fd = (Math.log(pdf(x + h)) - Math.log(pdf(x - h))) / (2 * h);
    assert.ok(Math.abs(mix.score(x) - fd) < 1e-6, `score at ${x}`);
    assert.ok(Math.abs(mix.cdf(x) - simpson(pdf, -30, x, 40001)) < 1e-10, `cdf at ${x}`);
  }
  assert.ok(Number.isFinite(mix.score(-80)) && Number.isFinite(mix.logPdf(200)));
  const xs = [-80, -9, -5, -2.5, 0, 0.3, 3, 6, 14, 200];
  const batch = mix.scoreBatch(xs);
  xs.forEach((x, i) =>
    assert.ok(Math.abs(batch[i] - mix.score(x)) < 1e-12 * Math.max(1, Math.abs(batch[i])), `scoreBatch at ${x}`),
  );
});

test('sampling reproduces the weights, means and stds', () => {
  const xs = mix.sample(100000, new Rng(1).fork('data'));
  // the components are far apart; classify by the nearest gap
  const groups: number[][] = [[], [], []];
  for (const x of xs) groups[x < -2.5 ? 0 : x < 2 ? 1 : 2].push(x);
  const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
  assert.ok(Math.abs(groups[0].length / 1e5 - 0.3) < 0.01);
  assert.ok(Math.abs(mean(groups[0]) + 5) < 0.05);
  assert.ok(Math.abs(mean(groups[2]) - 6.05) < 0.1);
  const all = Array.from(xs);
  const m = mean(all);
  const v = mean(all.map((x) => (x - m) ** 2));
  assert.ok(Math.abs(m - mix.mean) < 0.05);
  assert.ok(Math.abs(v - mix.variance) / mix.variance < 0.02);
});

test('the noised marginal is the law of √ᾱ·x0 + √(1−ᾱ)·ε', () => {
  const alphaBar = 0.3;
  const marginal = mix.noised(alphaBar);
  // density of x_t by convolution, integrated independently
  const a = Math.sqrt(alphaBar);
  const s = Math.sqrt(1 - alphaBar);
  for (const xt of [-3, 0, 1.7, 4]) {
    const conv = simpson((x0) => pdf(x0) * normal(xt, a * x0, s), -25, 30, 40001);
    assert.ok(Math.abs(marginal.pdf(xt) - conv) < 1e-9, `p_t(${xt})`);
    const h = 1e-5;
    const fd = (Math.log(marginal.pdf(xt + h)) - Math.log(marginal.pdf(xt - h))) / (2 * h);
    assert.ok(Math.abs(mix.noisedScore(xt, alphaBar) - fd) < 1e-6);
  }
});

test('posterior mean, variance and velocity match quadrature over x0', () => {
  for (const alphaBar of [0.9999, 0.9, 0.3, 0.01]) {
    const a = Math.sqrt(alphaBar);
    const s = Math.sqrt(1 - alphaBar);
    for (const xt of [-4, 0.2, 5]) {
      const joint = (x0: number) => pdf(x0) * normal(xt, a * x0, s);
      const lo = Math.min(-25, xt / a - (10 * s) / a);
      const hi = Math.max(30, xt / a + (10 * s) / a);
      const z = simpson(joint, lo, hi, 200001);
      const m1 = simpson((x0) => x0 * joint(x0), lo, hi, 200001) / z;
      const m2 = simpson((x0) => x0 * x0 * joint(x0), lo, hi, 200001) / z;
      const post = mix.posterior(xt, alphaBar);
      assert.ok(Math.abs(post.mean - m1) < 1e-6, `E[x0|${xt}] at ᾱ=${alphaBar}: ${post.mean} vs ${m1}`);
      assert.ok(Math.abs(post.variance - (m2 - m1 * m1)) < 1e-5);
      assert.ok(Math.abs(exactVelocity(mix, xt, alphaBar) - (a * xt - m1) / s) < 1e-4);
    }
  }
});

test('assignment probabilities match a Monte Carlo assignment of exact draws', () => {
  const probs = mix.assignmentProbabilities();
  assert.ok(
    Math.abs(probs[0] - 0.3) < 1e-3 && Math.abs(probs[1] - 0.1033) < 1e-3 && Math.abs(probs[2] - 0.5967) < 1e-3,
  );
  const xs = mix.sample(200000, new Rng(2).fork('data'));
  const counts = [0, 0, 0];
  for (const x of xs) counts[mix.mostLikelyComponent(x)]++;
  counts.forEach((c, k) => assert.ok(Math.abs(c / 200000 - probs[k]) < 0.004, `mode ${k}`));
  assert.ok(Math.abs(probs.reduce((p, q) => p + q, 0) - 1) < 1e-12);
});

test('chapterMixture: the chapters take three components and say so for any other number', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mix-'));
  const two = path.join(dir, 'two.json');
  fs.writeFileSync(two, JSON.stringify({ weights: [0.5, 0.5], means: [-1, 1], stds: [1, 1] }));
  assert.throws(
    () => chapterMixture(two),
    /two\.json: the chapters are written for a mixture of 3 components \(left, middle, right\); this one has 2/,
  );
  assert.equal(chapterMixture().numComponents, 3);
});

test('chapterMixture refuses a valid mixture the chapters cannot compute with, naming the field and its range', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mix-'));
  const file = path.join(dir, 'mixture.json');
  const load = (spec: Partial<{ weights: number[]; means: number[]; stds: number[] }>) => {
    fs.writeFileSync(file, JSON.stringify({ weights: W, means: MU, stds: SD, ...spec }));
    return () => chapterMixture(file);
  };
  const at = file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  // each of these gave NaN before: in the exact per-mode std (the first two), in an empty mode's
  // mean and std (the third), in the training loss (the last)
  assert.throws(
    load({ stds: [1e-8, 0.5, 2] }),
    new RegExp(
      `^Error: ${at}: stds\\[0\\] = 1\\.00e-8 is too narrow for this mixture: every std must be at least 0\\.0001 × its largest \\|mean\\| or std \\(6\\), so ≥ 0\\.0006; narrower, float32 rounding becomes part of the spread the chapters measure, and the exact per-mode std loses its digits \\(to NaN\\)$`,
    ),
  );
  assert.throws(
    load({ stds: [1, 0.5, 1e12] }),
    /stds\[0\] = 1 is too narrow .*\n.*stds\[1\] = 0\.5 is too narrow .*\(1,000,000,000,000\), so ≥ 100,000,000;/,
  );
  assert.throws(
    load({ weights: [0.4, 1e-12, 0.6 - 1e-12] }),
    new RegExp(
      `^Error: ${at}: component 2 \\(weights\\[1\\] = 1\\.00e-12, means\\[1\\] = 0, stds\\[1\\] = 0\\.5\\) is the most likely component for 0 % of draws; the chapters judge each mode from as few as 500 samples and need at least 2 % in every mode, or its mean and std come out NaN: raise weights\\[1\\], or move means\\[1\\] away from the other components$`,
    ),
  );
  assert.throws(
    load({ means: [-1e20, 0, 1e20], stds: [1e17, 1e17, 2e17] }),
    /means\[0\] = -1\.00e\+20 and stds\[0\] = 1\.00e\+17 reach \|mean\| \+ 12·std = 1\.01e\+20; the chapters need at most 3\.60e\+16 \(training sums the squares of 262,144 draws in float32, which overflows beyond it\)/,
  );
  // ordinary mixtures, far apart or wide or narrow, still load
  for (const spec of [
    {},
    { means: [-100, 0, 100] },
    { stds: [0.05, 0.05, 20] },
    { means: [-100, 0, 100], stds: [0.05, 0.05, 20] },
    { weights: [0.45, 0.05, 0.5] },
  ]) {
    assert.equal(load(spec)().numComponents, 3, JSON.stringify(spec));
  }
  fs.rmSync(dir, { recursive: true, force: true });
});
