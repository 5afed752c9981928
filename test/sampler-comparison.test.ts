import test, { before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { scoreErrors } from '../src/eval/evaluate';
import { Rng } from '../src/math/rng';
import { oracleVelocity, type VelocityPredictor } from '../src/diffusion/predictor';
import { compareSamplers } from '../src/sample/compare';
import { samplerTableRows } from '../src/notebook/sample-tables';
import { useBackend, tutorialProblem } from './helpers';

before(useBackend);
const { mixture, scheduler } = tutorialProblem();
const oracle = oracleVelocity(mixture, scheduler);

/** The oracle's velocity plus a constant: a model with a known, uniform error. */
function offset(delta: number): VelocityPredictor {
  return { predict: (xt, t) => tf.tidy(() => tf.add(oracle.predict(xt, t), delta) as tf.Tensor2D) };
}

test('scoreErrors: zero for the exact velocity; a velocity error δ becomes √ᾱ/√(1−ᾱ)·δ in the score', () => {
  for (const e of scoreErrors(oracle, scheduler, mixture, [0, 500])) assert.ok(e.relative < 1e-5, `t=${e.t}: ${e.relative}`);
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
  assert.ok(Object.keys(table[0]).includes('weights (exact 0.300 / 0.103 / 0.597)'));
});
