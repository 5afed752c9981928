import test from 'node:test';
import assert from 'node:assert/strict';
import { compareWithMixture } from '../src/eval/metrics';
import { GaussianMixture } from '../src/math/mixture';
import { Rng } from '../src/math/rng';
import { evaluateCheck } from '../src/notebook/checks';
import { samplerChecks } from '../src/notebook/sampler-checks';
import type { SamplerKind, SamplerRow } from '../src/sample/compare';

const mixture = GaussianMixture.default();
const n = 10_000;

function row(kind: SamplerKind, score: string, samples: Float32Array, evaluations = 1000): SamplerRow {
  const diverged = samples.every(Number.isNaN);
  return { kind, sampler: `${kind} ${evaluations}`, score, n: samples.length, evaluations, seconds: 0, nonFinite: diverged ? samples.length : 0, report: diverged ? null : compareWithMixture(samples, mixture), samples };
}

/** Exact draws for every sampler, a stuck plain Langevin, and trained DDPM and Heun rows made from the exact ones. */
function rows(trained: (exact: Float32Array) => Float32Array): SamplerRow[] {
  const draw = (name: string) => mixture.sample(n, new Rng(11).fork(name));
  const ddpm = draw('ddpm');
  const heun = draw('heun');
  // plain Langevin from N(0, 1) keeps too little of the left mode
  const stuck = new GaussianMixture({ weights: [0.15, 0.2, 0.65], means: [...mixture.means], stds: [...mixture.stds] }).sample(n, new Rng(11).fork('plain'));
  return [
    row('ddpm', 'exact', ddpm),
    row('ddim', 'exact', draw('ddim 50'), 50),
    row('heun', 'exact', heun, 100),
    row('plain-langevin', 'exact', stuck, 5000),
    row('ddpm', 'trained', trained(ddpm)),
    row('heun', 'trained', trained(heun), 100),
    row('plain-langevin', 'trained', Float32Array.from(stuck, () => NaN), 100),
  ];
}

const failing = (checks: ReturnType<typeof samplerChecks>) => checks.filter((c) => !evaluateCheck(c)).map((c) => c.name);

test('samplerChecks: every mode of every exact and trained row, DDIM with few steps held to W1 only, and coupled checks', () => {
  const checks = samplerChecks(rows((x) => Float32Array.from(x, (v) => v + 0.01)), mixture, { exact: 'exact', trained: 'trained' });
  assert.deepEqual(failing(checks), []);
  const names = checks.map((c) => c.name);
  assert.ok(names.includes('exact: ddpm 1000: mode 2 std') && names.includes('trained: heun 100: KS statistic'));
  assert.ok(!names.some((n) => n.startsWith('exact: ddim 50: mode')), 'DDIM with 50 steps is judged by W1 only');
  assert.ok(names.includes('trained vs exact: ddpm 1000: W1 to the exact run on the same noise'));
});

test('samplerChecks: a trained model with a middle mode 20 % too wide fails its middle-mode checks, and only trained checks fail', () => {
  // widen the middle mode about its centre: samples the exact run put there move apart
  const widen = (x: Float32Array) => Float32Array.from(x, (v) => (mixture.mostLikelyComponent(v) === 1 ? 1.2 * v : v));
  const failed = failing(samplerChecks(rows(widen), mixture, { exact: 'exact', trained: 'trained' }));
  assert.ok(failed.includes('trained: ddpm 1000: mode 2 std'), failed.join('; '));
  assert.ok(failed.includes('trained: heun 100: mode 2 std'), failed.join('; '));
  assert.ok(failed.every((name) => name.startsWith('trained')), failed.join('; '));
});
