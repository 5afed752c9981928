import test, { before } from 'node:test';
import assert from 'node:assert/strict';
import { evaluateModel } from '../src/eval/evaluate';
import { bayesOptimalVLoss } from '../src/eval/optimal-loss';
import { VelocityModel } from '../src/model/model';
import { Rng } from '../src/math/rng';
import { useBackend, tutorialProblem } from './helpers';

before(useBackend);

test('loss against sampled targets ≈ Bayes-optimal loss + excess (the decomposition the notebook relies on)', () => {
  const { mixture, scheduler } = tutorialProblem();
  const model = new VelocityModel({ width: 32, depth: 1 }, new Rng(2).fork('init'));
  const ev = evaluateModel(model, scheduler, mixture, { perTimestep: 100, seed: 3 });
  const bayes = bayesOptimalVLoss(mixture, scheduler).loss;
  assert.ok(ev.excess > 1, `an untrained model is far from optimal (excess ${ev.excess})`);
  // 100,000 draws: the sampled loss has a standard error of about 0.1 here
  assert.ok(Math.abs(ev.sampledLoss - (bayes + ev.excess)) < 0.5, `${ev.sampledLoss} vs ${bayes} + ${ev.excess}`);
  assert.equal(ev.excessPerTimestep.length, 1000);
  // same seed, same numbers
  assert.equal(
    evaluateModel(model, scheduler, mixture, { perTimestep: 5, seed: 3 }).excess,
    evaluateModel(model, scheduler, mixture, { perTimestep: 5, seed: 3 }).excess,
  );
  model.dispose();
});
