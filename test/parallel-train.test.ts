import test, { before } from 'node:test';
import assert from 'node:assert/strict';
import { AllReduce, createAllReduce } from '../src/train/parallel/allreduce';
import { TUTORIAL_TRAINING } from '../src/train/config';
import { Trainer } from '../src/train/trainer';
import { maxAbsDiff, toArray, useBackend, tutorialProblem } from './helpers';

before(useBackend);

test('a single-worker all-reduce returns its input', () => {
  const r = new AllReduce(createAllReduce(1, 4), 0);
  assert.deepEqual(Array.from(r.sum([1, 2, 3])), [1, 2, 3]);
  assert.deepEqual(Array.from(r.sumConcatenated([[1, 2], [], [3, 4]])), [1, 2, 3, 4]);
  assert.throws(() => r.sum([1, 2, 3, 4, 5]), /capacity/);
  assert.throws(
    () =>
      r.sumConcatenated([
        [1, 2, 3],
        [4, 5],
      ]),
    /capacity/,
  );
  assert.throws(() => new AllReduce(createAllReduce(2, 4), 2), /worker 2 of 2/);
});

test('training on 2 worker threads follows the single-threaded run (losses, parameters, EMA, BatchNorm statistics)', async () => {
  const { mixture, scheduler } = tutorialProblem();
  const config = {
    ...TUTORIAL_TRAINING,
    steps: 12,
    batchSize: 200,
    logEvery: 4,
    learningRate: 1e-3,
    holdSteps: 0,
    seed: 3,
  };
  const serial = new Trainer(mixture, scheduler, config, { width: 64, depth: 2, dropout: 0.1 });
  await serial.run();
  const logs: number[] = [];
  const parallel = new Trainer(mixture, scheduler, { ...config, workers: 2 }, { width: 64, depth: 2, dropout: 0.1 });
  await parallel.run((log) => logs.push(log.step));
  assert.deepEqual(logs, [4, 8, 12]);
  assert.equal(parallel.step, 12);
  serial.history.forEach((h, i) =>
    assert.ok(Math.abs(h.loss - parallel.history[i].loss) < 1e-4 * h.loss, `loss at ${h.step}`),
  );
  // time/linear_2/bias has an exact gradient of 0 (it is added to every row just before a
  // BatchNorm), so both runs move it by amplified rounding noise; every other tensor must agree.
  const skip = new Set(['time/linear_2/bias']);
  for (const [name, p] of serial.model.params) {
    if (skip.has(name)) continue;
    assert.ok(maxAbsDiff(toArray(p), toArray(parallel.model.params.get(name)!)) < 2e-3, `param ${name}`);
    assert.ok(
      maxAbsDiff(toArray(serial.ema.values.get(name)!), toArray(parallel.ema.values.get(name)!)) < 2e-3,
      `ema ${name}`,
    );
  }
  for (const [name, s] of serial.model.batchStats) {
    if (name === 'bn_in/mean') continue; // tracks time/linear_2/bias
    assert.ok(
      maxAbsDiff(toArray(s), toArray(parallel.model.batchStats.get(name)!)) <
        1e-3 * Math.max(1, ...toArray(s).map(Math.abs)),
      `stat ${name}`,
    );
  }
  // the workers hand back their whole state, the optimiser's included
  assert.equal(parallel.state().optimizer.count, 12);
  assert.throws(() => new Trainer(mixture, scheduler, { workers: 2, gradients: 'autograd' }), /fast/);
  serial.dispose();
  parallel.dispose();
});
