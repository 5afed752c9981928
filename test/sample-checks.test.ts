import test from 'node:test';
import assert from 'node:assert/strict';
import { coupledComparison } from '../src/eval/coupled';
import { compareWithMixture } from '../src/eval/metrics';
import { exactSamplingW1 } from '../src/eval/tolerances';
import { GaussianMixture } from '../src/math/mixture';
import { Rng } from '../src/math/rng';
import { evaluateCheck } from '../src/notebook/checks';
import { coupledCheck, modeChecks, mustFailCheck } from '../src/notebook/sample-checks';
import { judgeSamples } from '../src/eval/sample-bars';

const mixture = GaussianMixture.default();
const failing = (samples: Float32Array) =>
  modeChecks('s', compareWithMixture(samples, mixture), mixture)
    .filter((c) => !evaluateCheck(c))
    .map((c) => c.name);

test('modeChecks: ten checks that exact samples pass, and that fail a middle mode 15 % too wide', () => {
  const exact = mixture.sample(10_000, new Rng(5).fork('checks'));
  const checks = modeChecks('exact', compareWithMixture(exact, mixture), mixture);
  assert.equal(checks.length, 10);
  assert.deepEqual(
    checks.filter((c) => !evaluateCheck(c)),
    [],
  );
  assert.match(checks[5].name, /^exact: mode 2 std$/);
  assert.match(checks[5].detail!, /exact sampling: 0\.496/);
  const wide = new GaussianMixture({ weights: [...mixture.weights], means: [...mixture.means], stds: [1, 0.575, 2] });
  assert.deepEqual(failing(wide.sample(10_000, new Rng(5).fork('checks'))), ['s: mode 2 std']);
});

test('modeChecks: a mode with no samples fails rather than disappears', () => {
  const noMiddle = new GaussianMixture({
    weights: [0.4, 1e-9, 0.6],
    means: [...mixture.means],
    stds: [...mixture.stds],
  });
  const failed = failing(noMiddle.sample(2000, new Rng(1).fork('empty')));
  for (const stat of ['weight', 'mean', 'std']) assert.ok(failed.includes(`s: mode 2 ${stat}`), stat);
});

test('coupledCheck: the bar is the mean W1 of n exact samples to the mixture; a shift of that size fails', () => {
  const exact = mixture.sample(4000, new Rng(2).fork('coupled'));
  const bar = exactSamplingW1(mixture, 4000);
  const nearly = coupledCheck(
    'm',
    coupledComparison(
      exact.map((x) => x + 0.5 * bar),
      exact,
    ),
    mixture,
  );
  assert.equal(nearly.threshold, bar);
  assert.ok(evaluateCheck(nearly));
  assert.ok(
    !evaluateCheck(
      coupledCheck(
        'm',
        coupledComparison(
          exact.map((x) => x + 1.1 * bar),
          exact,
        ),
        mixture,
      ),
    ),
  );
});

test('mustFailCheck: passes only when a judgement is outside its bar', () => {
  const exact = mixture.sample(2000, new Rng(3).fork('must-fail'));
  const judged = (x: Float32Array) => judgeSamples(compareWithMixture(x, mixture), mixture);
  const failsExact = mustFailCheck('exact', judged(exact));
  assert.equal(failsExact.name, "exact: outside exact sampling's bars (worst |error| ÷ bar)");
  assert.ok(!evaluateCheck(failsExact));
  const shifted = mustFailCheck('shifted', judged(exact.map((x) => x + 0.3)));
  assert.ok(evaluateCheck(shifted));
  assert.match(shifted.detail!, /^worst: mode \d (weight|mean|std)$/);
});
