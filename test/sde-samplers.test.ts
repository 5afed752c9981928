import test, { before } from 'node:test';
import assert from 'node:assert/strict';
import { compareWithMixture } from '../src/eval/metrics';
import { judgeSamples } from '../src/eval/sample-bars';
import { GaussianMixture } from '../src/math/mixture';
import { Rng } from '../src/math/rng';
import { ddpmSample } from '../src/sample/ddpm';
import { smoothedMixtureScore } from '../src/sample/langevin';
import { oracleVelocity } from '../src/diffusion/predictor';
import {
  evenTimesteps,
  predictorCorrectorSample,
  probabilityFlowSample,
  reverseSdeSample,
} from '../src/sample/sde-samplers';
import { predictNoise, smoothedScoreFromVelocity } from '../src/diffusion/predictor';
import { maxAbsDiff, useBackend, tutorialProblem } from './helpers';

before(useBackend);
const { mixture, scheduler } = tutorialProblem();
const oracle = oracleVelocity(mixture, scheduler);

test('evenTimesteps: from N−1 down to 0, evenly spaced', () => {
  assert.deepEqual(evenTimesteps(1000, 2), [999, 0]);
  assert.deepEqual(evenTimesteps(10, 4), [9, 6, 3, 0]);
  assert.equal(new Set(evenTimesteps(1000, 1000)).size, 1000);
  assert.throws(() => evenTimesteps(1000, 1), /steps must be an integer in \[2, 1000\]/);
});

test('predictNoise of the oracle is (x − √ᾱ·E[x0|x])/√(1−ᾱ)', () => {
  const x = [-7, -2, 0.3, 4, 11];
  for (const t of [0, 300, 999]) {
    const ab = scheduler.alphasCumprod[t];
    const expected = x.map((xi) => (xi - Math.sqrt(ab) * mixture.posteriorMean(xi, ab)) / Math.sqrt(1 - ab));
    assert.ok(
      maxAbsDiff(predictNoise(oracle, scheduler, x, t), expected) < 1e-4 * (1 + Math.max(...expected.map(Math.abs))),
      `t=${t}`,
    );
  }
});

test('smoothedScoreFromVelocity of the oracle is the score of the mixture smoothed by N(0, σ²)', () => {
  const t = 150;
  const ab = scheduler.alphasCumprod[t];
  const sigma = Math.sqrt((1 - ab) / ab);
  const y = Float64Array.from([-6, -1, 0.5, 3, 8]);
  const fromVelocity = smoothedScoreFromVelocity(oracle, scheduler, sigma * 1.0001)(y);
  assert.ok(maxAbsDiff(fromVelocity, smoothedMixtureScore(mixture, sigma)(y)) < 1e-4);
});

test('probability-flow ODE on one normal: Heun converges to the exact transport map, Euler more slowly', () => {
  // For data N(μ, σ²) the ODE maps x_T to μ + σ·(x_T − √ᾱ_T·μ)/√(ᾱ_T σ² + 1 − ᾱ_T): quantile to quantile.
  const [mu, sd] = [2, 0.5];
  const single = new GaussianMixture({ weights: [1], means: [mu], stds: [sd] });
  const predictor = oracleVelocity(single, scheduler);
  const n = 200;
  const start = new Rng(3).fork('start').normals(n);
  const abT = scheduler.alphasCumprod[999];
  const exact = Array.from(start, (x) => mu + (sd * (x - Math.sqrt(abT) * mu)) / Math.sqrt(abT * sd * sd + 1 - abT));
  const error = (steps: number, solver: 'euler' | 'heun') =>
    maxAbsDiff(
      probabilityFlowSample({ predictor, scheduler, n, rng: new Rng(3).fork('start'), steps, solver }).samples,
      exact,
    );
  const heun = error(50, 'heun');
  const euler = error(50, 'euler');
  assert.ok(heun < 5e-3, `heun 50: ${heun}`);
  assert.ok(euler > 10 * heun, `euler 50 ${euler} vs heun ${heun}`);
  // halving the step: Heun's error falls about 4× (second order), Euler's about 2× (first order)
  assert.ok(error(25, 'heun') / heun > 3, 'Heun is second order');
  const eulerRatio = euler / error(100, 'euler');
  assert.ok(eulerRatio > 1.6 && eulerRatio < 2.5, `Euler is first order: ratio ${eulerRatio}`);
});

test('predictor–corrector without correction, on every timestep, is DDPM ancestral sampling', async () => {
  const n = 300;
  const pc = predictorCorrectorSample({
    predictor: oracle,
    scheduler,
    n,
    rng: new Rng(5).fork('s'),
    steps: 1000,
    correctorSteps: 0,
  });
  const ddpm = await ddpmSample({ predictor: oracle, scheduler, n, rng: new Rng(5).fork('s') });
  assert.ok(maxAbsDiff(pc.samples, ddpm.samples) < 2e-3, String(maxAbsDiff(pc.samples, ddpm.samples)));
  assert.equal(pc.evaluations, 1000);
});

test('reverse SDE, DDIM, Heun and predictor–corrector with the exact score reproduce the mixture', () => {
  const n = 4000;
  const runs = {
    'reverse SDE': reverseSdeSample({ predictor: oracle, scheduler, n, rng: new Rng(7).fork('sde'), traceRows: 3 }),
    'DDIM 100': probabilityFlowSample({
      predictor: oracle,
      scheduler,
      n,
      rng: new Rng(7).fork('ode'),
      steps: 100,
      solver: 'euler',
    }),
    'Heun 50': probabilityFlowSample({
      predictor: oracle,
      scheduler,
      n,
      rng: new Rng(7).fork('heun'),
      steps: 50,
      solver: 'heun',
    }),
    'PC 250': predictorCorrectorSample({ predictor: oracle, scheduler, n, rng: new Rng(7).fork('pc'), steps: 250 }),
  };
  for (const [name, run] of Object.entries(runs)) {
    const failed = judgeSamples(compareWithMixture(run.samples, mixture), mixture).filter((j) => !j.pass);
    assert.deepEqual(
      failed.map((j) => j.name),
      [],
      name,
    );
  }
  assert.deepEqual(
    [runs['DDIM 100'].evaluations, runs['Heun 50'].evaluations, runs['PC 250'].evaluations],
    [100, 99, 499],
  );
  // the trajectory: 3 rows at every step, from s = 1 to s = 0
  const tr = runs['reverse SDE'].trajectory!;
  assert.equal(tr.times.length, 1001);
  assert.deepEqual([tr.times[0], tr.times[1000], tr.x[0].length], [1, 0, 3]);
  assert.deepEqual(Array.from(tr.x[1000]), Array.from(runs['reverse SDE'].samples.slice(0, 3)));
});
