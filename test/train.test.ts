import test, { before } from 'node:test';
import assert from 'node:assert/strict';
import * as os from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { DEFAULT_MODEL_CONFIG } from '../src/model/network';
import { defaultWorkers } from '../src/runtime/backend';
import { RECOMMENDED_MODEL, RECOMMENDED_TRAINING, TUTORIAL_TRAINING, type TrainConfig } from '../src/train/config';
import { Trainer } from '../src/train/trainer';
import { useBackend, tutorialProblem } from './helpers';

before(useBackend);
const { mixture, scheduler } = tutorialProblem();
/** These tests train the tutorial's recipe (one thread, dropout 0.1), with the fields they name changed. */
const tutorial = (config: Partial<TrainConfig>) =>
  new Trainer(mixture, scheduler, { ...TUTORIAL_TRAINING, ...config }, DEFAULT_MODEL_CONFIG);

test('the default is the recommended recipe; the tutorial preset keeps the tutorial settings', () => {
  const tr = new Trainer(mixture, scheduler);
  assert.deepEqual(tr.config, { ...RECOMMENDED_TRAINING, workers: defaultWorkers() });
  // every backend computes an op on the calling thread, so the cores are used by a worker per core
  assert.deepEqual([defaultWorkers(), defaultWorkers(1)], [Math.min(2, os.availableParallelism()), 1]);
  assert.deepEqual(tr.model.config, { ...RECOMMENDED_MODEL, numTimesteps: scheduler.numTrainTimesteps });
  assert.equal(tr.model.config.dropout, 0);
  assert.deepEqual(
    [
      RECOMMENDED_TRAINING.steps,
      RECOMMENDED_TRAINING.batchSize,
      RECOMMENDED_TRAINING.learningRate,
      RECOMMENDED_TRAINING.warmupSteps,
      RECOMMENDED_TRAINING.emaDecay,
      RECOMMENDED_TRAINING.workers,
      RECOMMENDED_TRAINING.target,
    ],
    [4800, 4096, 3e-3, 100, 0.998, 2, 'exact'],
  );
  assert.deepEqual(
    [
      TUTORIAL_TRAINING.steps,
      TUTORIAL_TRAINING.batchSize,
      TUTORIAL_TRAINING.learningRate,
      TUTORIAL_TRAINING.holdSteps,
      TUTORIAL_TRAINING.decaySteps,
      TUTORIAL_TRAINING.emaDecay,
      TUTORIAL_TRAINING.workers,
      TUTORIAL_TRAINING.target,
    ],
    [5000, 262_144, 3e-4, 500, 5000, 0.9, 1, 'plain'],
  );
  // optax.linear_schedule(3e-4, 0, 5000, 500): held for 500 steps, then 5000 steps of decay, so the
  // tutorial's last step (4999) still has 3.0e-5, not 0
  const t = new Trainer(mixture, scheduler, { ...TUTORIAL_TRAINING, batchSize: 64 });
  assert.deepEqual(
    [0, 499, 500, 3000, 4999].map((k) => Number(t.learningRate(k).toPrecision(6))),
    [3e-4, 3e-4, 3e-4, 1.5e-4, 3.006e-5],
  );
  t.dispose();
  assert.equal(DEFAULT_MODEL_CONFIG.dropout, 0.1);
  tr.dispose();
});

test('same seed, same losses; another seed, other losses', async () => {
  const losses = async (seed: number) => {
    const tr = tutorial({ steps: 6, batchSize: 64, logEvery: 2, seed });
    const h = (await tr.run()).map((l) => l.loss);
    tr.dispose();
    return h;
  };
  const a = await losses(3);
  assert.deepEqual(a, await losses(3));
  assert.notDeepEqual(a, await losses(4));
});

test('no tensor leaks: tf.memory().numTensors stays flat across steps', async () => {
  const tr = tutorial({ steps: 12, batchSize: 32, logEvery: 3 });
  tr.trainStep();
  const before = tf.memory().numTensors;
  for (let i = 0; i < 8; i++) tr.trainStep();
  assert.equal(tf.memory().numTensors, before);
  await tr.run(); // logging reads and frees the accumulated loss
  assert.ok(tf.memory().numTensors <= before);
  tr.dispose();
});

test('the callback reports step, loss, learning rate and time every logEvery steps', async () => {
  const seen: number[] = [];
  const tr = tutorial({ steps: 10, batchSize: 16, logEvery: 4, learningRate: 1e-3, holdSteps: 0, decaySteps: null });
  await tr.run((log) => {
    seen.push(log.step);
    assert.ok(Number.isFinite(log.loss) && log.elapsed >= 0 && log.remaining >= 0);
    assert.ok(Math.abs(log.learningRate - 1e-3 * (1 - (log.step - 1) / 10)) < 1e-12);
  });
  assert.deepEqual(seen, [4, 8, 10]);
  tr.dispose();
  assert.throws(() => new Trainer(mixture, scheduler, { batchSize: 0 }), /batchSize/);
});

test('a short run: the loss falls well below its start and toward the Bayes-optimal 12.19', async () => {
  const tr = tutorial({
    steps: 300,
    batchSize: 512,
    logEvery: 25,
    learningRate: 2e-3,
    warmupSteps: 20,
    holdSteps: 0,
    seed: 5,
  });
  const h = await tr.run();
  const first = h[0].loss;
  const last = (h[h.length - 1].loss + h[h.length - 2].loss) / 2;
  console.log(`losses: first window ${first.toFixed(2)}, last windows ${last.toFixed(2)}`);
  assert.ok(first > 20, `first ${first}`);
  assert.ok(last < 13.5, `last ${last}`);
  assert.ok(last > 12.19 - 1.5, 'a training loss far below the optimum means leaked information');
  tr.dispose();
});

test('a run whose loss turns non-finite stops at that step and says why, on one thread and on two', async () => {
  const diverged =
    /^Error: Training stopped at step (\d+) of 300: the loss is (NaN|Infinity|-Infinity), so the parameters have diverged \(learning rate 1\.00e\+30 at this step, peak learningRate 1e\+30\)\. The usual cause is a learning rate too high/;
  for (const workers of [1, 2]) {
    const tr = tutorial({ steps: 300, batchSize: 32, logEvery: 100, learningRate: 1e30, holdSteps: 300, workers });
    const logs: number[] = [];
    let message = '';
    await assert.rejects(
      tr.run((log) => logs.push(log.loss)),
      (e: Error) => {
        message = String(e);
        return diverged.test(message);
      },
    );
    // the first update with that learning rate already overflows: stopped within the first few steps, before any log
    assert.ok(Number(diverged.exec(message)![1]) <= 5, message);
    assert.deepEqual(logs, [], `workers ${workers}`);
    tr.dispose();
  }
});
