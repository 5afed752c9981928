import test from 'node:test';
import assert from 'node:assert/strict';
import { GaussianMixture } from '../src/math/mixture';
import { Rng } from '../src/math/rng';
import { evaluateCheck } from '../src/notebook/checks';
import { discretisationBiases, samplerChecks } from '../src/notebook/sampler-checks';
import { mixtureQuantiles, samplerRow } from './helpers';
import type { SamplerKind, SamplerRow } from '../src/sample/compare';

const mixture = GaussianMixture.default();
const n = 10_000;

const row = (
  kind: SamplerKind,
  score: string,
  samples: Float32Array,
  evaluations = 1000,
  reference?: Float32Array,
): SamplerRow => samplerRow(mixture, kind, score, samples, evaluations, reference);

/** A DDIM with few steps, as a distribution: the right mode 0.2 too far left (about 7 standard errors of its mean at n = 10,000). */
const biased = new GaussianMixture({
  weights: [...mixture.weights],
  means: [mixture.means[0], mixture.means[1], mixture.means[2] - 0.2],
  stds: [...mixture.stds],
});

/** Exact draws for every sampler, a stuck plain Langevin, and trained DDPM and Heun rows made from the exact ones. */
function rows(trained: (exact: Float32Array) => Float32Array): SamplerRow[] {
  const draw = (name: string) => mixture.sample(n, new Rng(11).fork(name));
  const ddpm = draw('ddpm');
  const heun = draw('heun');
  // plain Langevin from N(0, 1) keeps too little of the left mode
  const stuck = new GaussianMixture({
    weights: [0.15, 0.2, 0.65],
    means: [...mixture.means],
    stds: [...mixture.stds],
  }).sample(n, new Rng(11).fork('plain'));
  const reference = Float32Array.from(mixtureQuantiles(biased, 20_000));
  return [
    row('ddpm', 'exact', ddpm),
    row('ddim', 'exact', biased.sample(n, new Rng(11).fork('ddim 50')), 50, reference),
    row('heun', 'exact', heun, 100),
    row('plain-langevin', 'exact', stuck, 5000),
    row('ddpm', 'trained', trained(ddpm)),
    row('heun', 'trained', trained(heun), 100),
    row(
      'plain-langevin',
      'trained',
      Float32Array.from(stuck, () => NaN),
      100,
    ),
  ];
}

const failing = (checks: ReturnType<typeof samplerChecks>) =>
  checks.filter((c) => !evaluateCheck(c)).map((c) => c.name);

test('samplerChecks: every mode of every exact and trained row, a deterministic sampler against its own output, and coupled checks', () => {
  const all = rows((x) => Float32Array.from(x, (v) => v + 0.01));
  const checks = samplerChecks(all, mixture, { exact: 'exact', trained: 'trained' });
  assert.deepEqual(failing(checks), []);
  const names = checks.map((c) => c.name);
  assert.ok(names.includes('exact: ddpm 1000: mode 2 std') && names.includes('trained: heun 100: KS statistic'));
  assert.ok(names.includes('trained vs exact: ddpm 1000: W1 to the exact run on the same noise'));
  // the biased DDIM passes against its own output distribution, and would fail against exact sampling
  const ddim = checks.find((c) => c.name === 'exact: ddim 50: mode 3 mean')!;
  assert.match(ddim.detail ?? '', /ddim 50 with the exact score: 5\.8/);
  const withoutReference = all.map((r) => (r.kind === 'ddim' ? { ...r, reference: undefined } : r));
  const againstExact = failing(samplerChecks(withoutReference, mixture, { exact: 'exact', trained: 'trained' }));
  assert.ok(
    againstExact.includes('exact: ddim 50: mode 3 mean') && againstExact.every((c) => c.startsWith('exact: ddim 50')),
    againstExact.join('; '),
  );
  // its bias is reported in standard errors of exact sampling at n, without sampling noise
  const [bias] = discretisationBiases(all, mixture, 'exact');
  assert.equal(bias.worst.name, 'mode 3 mean');
  assert.ok(bias.worst.standardErrors < -6 && bias.worst.standardErrors > -8, String(bias.worst.standardErrors));
});

test('samplerChecks: plain Langevin that reproduced the mixture, or trained rows with non-finite samples, fail', () => {
  const fixed = rows((x) => x).map((r) =>
    r.kind === 'plain-langevin' && r.score === 'exact'
      ? row('plain-langevin', 'exact', mixture.sample(n, new Rng(12)), 5000)
      : r,
  );
  assert.deepEqual(failing(samplerChecks(fixed, mixture, { exact: 'exact', trained: 'trained' })), [
    "exact: plain Langevin: outside exact sampling's bars (worst |error| ÷ bar)",
  ]);
  const broken = rows((x) => Float32Array.from(x, (v, i) => (i % 100 === 0 ? NaN : v)));
  const failed = failing(samplerChecks(broken, mixture, { exact: 'exact', trained: 'trained' }));
  assert.ok(
    failed.includes('trained: ddpm 1000: non-finite samples') &&
      failed.includes('trained: heun 100: non-finite samples'),
    failed.join('; '),
  );
});

test('samplerChecks: a trained model with a middle mode 20 % too wide fails its middle-mode checks, and only trained checks fail', () => {
  // widen the middle mode about its centre: samples the exact run put there move apart
  const widen = (x: Float32Array) => Float32Array.from(x, (v) => (mixture.mostLikelyComponent(v) === 1 ? 1.2 * v : v));
  const failed = failing(samplerChecks(rows(widen), mixture, { exact: 'exact', trained: 'trained' }));
  assert.ok(failed.includes('trained: ddpm 1000: mode 2 std'), failed.join('; '));
  assert.ok(failed.includes('trained: heun 100: mode 2 std'), failed.join('; '));
  assert.ok(
    failed.every((name) => name.startsWith('trained')),
    failed.join('; '),
  );
});

test('samplerChecks without a trained model: the exact rows alone; a row of another score is refused', () => {
  const all = rows((x) => x);
  const exactOnly = all.filter((r) => r.score === 'exact');
  const checks = samplerChecks(exactOnly, mixture, { exact: 'exact' });
  assert.deepEqual(failing(checks), []);
  assert.deepEqual(
    checks.map((c) => c.name),
    samplerChecks(all, mixture, { exact: 'exact', trained: 'trained' })
      .filter((c) => c.name.startsWith('exact'))
      .map((c) => c.name),
  );
  assert.throws(
    () => samplerChecks(all, mixture, { exact: 'exact' }),
    /^Error: samplerChecks: a row of 'trained', which is neither 'exact' nor a trained model \(none given\)$/,
  );
});
