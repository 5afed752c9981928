import test, { before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { scoreErrors } from '../src/eval/evaluate';
import { Rng } from '../src/math/rng';
import { oracleVelocity, type VelocityPredictor } from '../src/diffusion/predictor';
import { compareSamplers } from '../src/sample/compare';
import { modeTableRows, samplerTableRows } from '../src/notebook/sample-tables';
import { GaussianMixture } from '../src/math/mixture';
import { useBackend, tutorialProblem } from './helpers';

before(useBackend);
const { mixture, scheduler } = tutorialProblem();
const oracle = oracleVelocity(mixture, scheduler);

/** The oracle's velocity plus a constant: a model with a known, uniform error. */
function offset(delta: number): VelocityPredictor {
  return { predict: (xt, t) => tf.tidy(() => tf.add(oracle.predict(xt, t), delta) as tf.Tensor2D) };
}

test('scoreErrors: zero for the exact velocity; a velocity error δ becomes √ᾱ/√(1−ᾱ)·δ in the score', () => {
  for (const e of scoreErrors(oracle, scheduler, mixture, [0, 500]))
    assert.ok(e.relative < 1e-5, `t=${e.t}: ${e.relative}`);
  const delta = 0.01;
  for (const e of scoreErrors(offset(delta), scheduler, mixture, [0, 100, 500])) {
    const ab = scheduler.alphasCumprod[e.t];
    const expected = (Math.sqrt(ab) / Math.sqrt(1 - ab)) * delta;
    assert.ok(Math.abs(e.rmsHighDensity / expected - 1) < 1e-3, `t=${e.t}: ${e.rmsHighDensity} vs ${expected}`);
    assert.ok(Math.abs(e.rmsLowDensity / expected - 1) < 1e-3);
  }
});

test('compareSamplers: every sampler on every source, a diverged run reported as such', async () => {
  const nan: VelocityPredictor = { predict: (xt) => tf.fill(xt.shape, NaN) as tf.Tensor2D };
  const rows = await compareSamplers({
    mixture,
    scheduler,
    sources: [
      { label: 'exact score', predictor: oracle, n: 200 },
      { label: 'broken', predictor: nan, n: 50 },
    ],
    rng: new Rng(1),
    settings: { ddimSteps: [20], heunSteps: 10, pcSteps: 20, langevinSteps: 1000, stepsPerLevel: 5 },
  });
  assert.equal(rows.length, 12);
  for (const r of rows.filter((x) => x.score === 'exact score')) {
    assert.ok(r.report && r.nonFinite === 0 && r.samples.length === 200, r.sampler);
  }
  const brokenLangevin = rows.find((r) => r.score === 'broken' && r.sampler.startsWith('plain Langevin'))!;
  assert.equal(brokenLangevin.report, null);
  assert.equal(brokenLangevin.nonFinite, 50);
  assert.equal(brokenLangevin.evaluations, 100, 'Langevin stops once every chain has diverged');
  const table = samplerTableRows(rows, mixture);
  assert.equal(table.find((r) => r.score === 'broken' && String(r.sampler).startsWith('plain'))!.W1, '—');
  assert.ok(Object.keys(table[0]).includes('weights (exact sampling 0.300 / 0.103 / 0.597)'));
  assert.ok(Object.keys(table[0]).includes('σ per mode (exact sampling 1.00 / 0.50 / 1.96)'));
});

test('modeTableRows: the first row is exact sampling under the most-likely-mode rule, not the components', () => {
  const mixture = GaussianMixture.default();
  const [expected] = modeTableRows(mixture, []);
  // the rule cuts the tails: the middle mode's σ 0.5 becomes 0.496, the right mode's μ 6 becomes 6.03
  assert.ok(Math.abs(Number(expected['σ₂']) - 0.496) < 5e-4, String(expected['σ₂']));
  assert.ok(Math.abs(Number(expected['μ₃']) - 6.032) < 5e-4, String(expected['μ₃']));
  assert.ok(Math.abs(Number(expected['w₂']) - 0.1033) < 5e-5, String(expected['w₂']));
});
