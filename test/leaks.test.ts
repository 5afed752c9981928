// Repeated work must not accumulate tensors: a notebook session trains, loads and samples many
// times, and every leaked tensor is memory held until the kernel restarts.
import test, { before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { oracleVelocity } from '../src/diffusion/predictor';
import { DDPMScheduler, TUTORIAL_SCHEDULER } from '../src/diffusion/scheduler';
import { Rng } from '../src/math/rng';
import { loadCheckpoint, saveCheckpoint } from '../src/model/checkpoint';
import { VelocityModel } from '../src/model/model';
import { modelVelocity } from '../src/model/folded';
import { ddpmSample } from '../src/sample/ddpm';
import { ddpmSampleModel } from '../src/sample/parallel/ddpm-model';
import { Trainer } from '../src/train/trainer';
import { tutorialProblem, useBackend } from './helpers';

before(useBackend);

/** Tensors left alive by `work` (run twice, so caches filled on first use do not count). */
async function leaked(work: () => Promise<void> | void): Promise<number> {
  await work();
  const before = tf.memory().numTensors;
  await work();
  return tf.memory().numTensors - before;
}

test('no tensors leak from a model, a checkpoint load, a trainer, or DDPM sampling', async () => {
  const { mixture } = tutorialProblem();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leaks-'));
  const model = new VelocityModel({}, new Rng(1).fork('init'));
  saveCheckpoint(dir, model, model.params, {});
  model.dispose();
  assert.equal(await leaked(() => new VelocityModel({}, new Rng(2).fork('init')).dispose()), 0, 'VelocityModel');
  assert.equal(await leaked(() => loadCheckpoint(dir).dispose()), 0, 'loadCheckpoint + dispose');
  for (const workers of [1, 2]) {
    const train = async () => {
      const scheduler = new DDPMScheduler(TUTORIAL_SCHEDULER);
      const trainer = new Trainer(mixture, scheduler, { steps: 3, batchSize: 64, workers, logEvery: 1 });
      await trainer.run();
      trainer.dispose();
      scheduler.dispose();
    };
    assert.equal(await leaked(train), 0, `Trainer with ${workers} worker(s)`);
  }
  const scheduler = new DDPMScheduler(TUTORIAL_SCHEDULER);
  scheduler.setTimesteps(20);
  const exact = oracleVelocity(mixture, scheduler);
  assert.equal(
    await leaked(
      async () => void (await ddpmSample({ predictor: exact, scheduler, n: 300, rng: new Rng(3).fork('x') })),
    ),
    0,
    'ddpmSample',
  );
  const c = loadCheckpoint(dir);
  const sampleModel = async () => {
    const predictor = modelVelocity(c.model, c.ema);
    await ddpmSample({ predictor, scheduler, n: 300, rng: new Rng(4).fork('x') });
    predictor.dispose();
    await ddpmSampleModel({ model: c.model, params: c.ema, scheduler, n: 600, rng: new Rng(5).fork('x'), workers: 2 });
  };
  assert.equal(await leaked(sampleModel), 0, 'sampling with the trained model');
  c.dispose();
});
