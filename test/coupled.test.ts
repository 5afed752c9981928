import test from 'node:test';
import assert from 'node:assert/strict';
import { oracleVelocity } from '../src/diffusion/predictor';
import { coupledComparison } from '../src/eval/coupled';
import { GaussianMixture } from '../src/math/mixture';
import { Rng } from '../src/math/rng';
import { ddpmSample } from '../src/sample/ddpm';
import { tutorialProblem, useBackend } from './helpers';

test.before(useBackend);

test('coupledComparison: distances, quantiles and where they are', () => {
  const exact = Float64Array.from({ length: 1000 }, (_, i) => -5 + i / 100); // −5 … 4.99
  const model = exact.map((x) => (x >= 0 ? x + 0.2 : x));
  const c = coupledComparison(model, exact, { regions: 10 });
  assert.ok(Math.abs(c.meanAbs - 0.1) < 1e-12 && Math.abs(c.rms - Math.sqrt(0.02)) < 1e-12);
  assert.ok(Math.abs(c.max - 0.2) < 1e-12);
  assert.ok(Math.abs(c.p99 - 0.2) < 1e-12 && c.median >= 0 && c.median <= 0.2);
  // the error sits in the upper half of x
  assert.ok(
    c.regions.slice(0, 5).every((r) => r.meanAbs === 0) &&
      c.regions.slice(5).every((r) => Math.abs(r.meanAbs - 0.2) < 1e-9),
  );
  assert.equal(
    c.regions.reduce((a, r) => a + r.count, 0),
    1000,
  );
  assert.throws(() => coupledComparison(model.subarray(1), exact), /model samples/);
});

test('coupled DDPM runs: a velocity error shows up almost free of sampling noise', async () => {
  const { mixture, scheduler } = tutorialProblem();
  const n = 2000;
  const exact = oracleVelocity(mixture, scheduler);
  // a slightly wrong model: the exact velocity of a mixture whose middle mode is 20 % wider
  const wider = new GaussianMixture({
    weights: [...mixture.weights],
    means: [...mixture.means],
    stds: mixture.stds.map((s, k) => (k === 1 ? 1.2 * s : s)),
  });
  const wrong = oracleVelocity(wider, scheduler);
  const run = async (predictor: typeof exact, stream: string) =>
    (await ddpmSample({ predictor, scheduler, n, rng: new Rng(5).fork(stream) })).samples;
  const reference = await run(exact, 'common');
  const wrongCommon = await run(wrong, 'common');
  const coupled = coupledComparison(wrongCommon, reference);
  const independent = coupledComparison(await run(wrong, 'other'), reference);
  // the error is in the middle mode, and small; independent draws differ by whole modes
  const middle = coupled.regions.filter((r) => r.count > 0 && r.lo > -1.5 && r.hi < 1.5);
  assert.ok(
    middle.length > 0 && Math.max(...middle.map((r) => r.meanAbs)) > 2 * coupled.meanAbs,
    JSON.stringify(coupled.regions),
  );
  assert.ok(
    coupled.meanAbs < 0.1 && independent.meanAbs > 10 * coupled.meanAbs,
    `coupled ${coupled.meanAbs}, independent ${independent.meanAbs}`,
  );
  // W1 between the two outputs (sorted pairs) is bounded by the coupled mean distance
  const [a, b] = [Float64Array.from(wrongCommon).sort(), Float64Array.from(reference).sort()];
  const w1 = a.reduce((acc, v, i) => acc + Math.abs(v - b[i]), 0) / n;
  assert.ok(w1 <= coupled.meanAbs + 1e-12, `W1 ${w1} vs coupled ${coupled.meanAbs}`);
  assert.ok(Math.abs(coupled.w1 - w1) < 1e-12, `${coupled.w1} vs ${w1}`);
});

test('coupledComparison: swapped pairs add to the mean distance but not to the W1 between the sets', () => {
  const exact = Float64Array.from({ length: 1000 }, (_, i) => (i % 2 ? -5 : 6) + i / 1000);
  // the model sends pairs 0 and 1 to each other's end points: the same set of samples
  const model = Float64Array.from(exact);
  [model[0], model[1]] = [exact[1], exact[0]];
  const c = coupledComparison(model, exact);
  assert.ok(c.meanAbs > 0.02, String(c.meanAbs));
  assert.equal(c.w1, 0);
  // a shift of every sample by 0.1 is W1 0.1 either way
  const shifted = coupledComparison(
    exact.map((x) => x + 0.1),
    exact,
  );
  assert.ok(Math.abs(shifted.w1 - 0.1) < 1e-9 && Math.abs(shifted.meanAbs - 0.1) < 1e-9);
});
